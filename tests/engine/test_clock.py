"""The statutory clock of DOMAIN.md §3: examples, edge cases and properties."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.engine.calendar import WorkCalendar
from hub.engine.clock import (
    Due,
    Limit,
    Outcome,
    Pause,
    Unit,
    completion,
    counted_days,
    due_date,
    remaining_days,
    reminder_date,
)
from tests.engine.helpers import d, fake_2027

CAL = WorkCalendar()
DAY = timedelta(days=1)


def test_worked_example_of_domain_md() -> None:
    # Accepted Thu 2026-09-24, 5 G: 09-28, 09-29, 09-30, (National Day), 10-08, 10-09.
    assert due_date(CAL, d("2026-09-24"), 5, Unit.G) == Due(d("2026-10-09"), False)
    assert counted_days(CAL, d("2026-09-24"), d("2026-10-09")) == 5


def test_counting_starts_the_day_after_acceptance() -> None:
    assert due_date(CAL, d("2026-11-02"), 1).day == d("2026-11-03")  # Mon -> Tue
    assert due_date(CAL, d("2026-11-06"), 1).day == d("2026-11-09")  # Fri -> Mon
    assert due_date(CAL, d("2026-11-07"), 1).day == d("2026-11-09")  # accepted on a Saturday


@pytest.mark.parametrize(
    ("accepted", "limit", "due"),
    [
        ("2026-01-02", 1, "2026-01-04"),  # 调休 Sunday 01-04 counts
        ("2026-02-13", 1, "2026-02-14"),  # 调休 Saturday 02-14
        ("2026-02-14", 1, "2026-02-24"),  # Spring Festival 02-15..02-23
        ("2026-02-24", 4, "2026-02-28"),  # 02-25, 26, 27, 调休 Sat 28
        ("2026-04-03", 1, "2026-04-07"),  # 清明 04-04..06
        ("2026-04-30", 1, "2026-05-06"),  # 劳动节 05-01..05
        ("2026-05-08", 1, "2026-05-09"),  # 调休 Saturday 05-09
        ("2026-06-18", 1, "2026-06-22"),  # 端午 06-19..21
        ("2026-09-18", 1, "2026-09-20"),  # 调休 Sunday 09-20
        ("2026-09-24", 1, "2026-09-28"),  # 中秋 09-25 + weekend
        ("2026-09-30", 1, "2026-10-08"),  # 国庆 10-01..07
        ("2026-10-09", 1, "2026-10-10"),  # 调休 Saturday 10-10
        ("2026-12-31", 0, "2026-12-31"),  # limit 0 on the last day of data
    ],
)
def test_2026_holidays_and_tiaoxiu(accepted: str, limit: int, due: str) -> None:
    assert due_date(CAL, d(accepted), limit) == Due(d(due), False)


def test_limit_zero_is_due_on_the_acceptance_date() -> None:
    assert due_date(CAL, d("2026-10-01"), 0) == Due(d("2026-10-01"), False)
    assert due_date(CAL, d("2026-10-03"), 0, Unit.Z) == Due(d("2026-10-03"), False)
    assert completion(CAL, d("2026-10-03"), 0, d("2026-10-03")).outcome is Outcome.ON_TIME
    late = completion(CAL, d("2026-10-09"), 0, d("2026-10-12"))
    assert (late.outcome, late.overdue_days) == (Outcome.OVERDUE, 2)  # 10-10 (调休), 10-12


def test_unit_z_counts_every_day() -> None:
    assert due_date(CAL, d("2026-09-24"), 5, Unit.Z) == Due(d("2026-09-29"), False)
    assert due_date(CAL, d("2026-12-30"), 5, Unit.Z) == Due(d("2027-01-04"), False)  # not provisional


def test_pause_both_ends_excluded() -> None:
    # Paused 09-28..09-29: counting resumes 09-30 (1), 10-08, 10-09, 10-10 (调休), 10-12 (5).
    due = due_date(CAL, d("2026-09-24"), 5, Unit.G, [Pause(d("2026-09-28"), d("2026-09-29"))])
    assert due.day == d("2026-10-12")
    # A one-day pause on the acceptance day's next day.
    assert due_date(CAL, d("2026-11-02"), 1, Unit.G, [Pause(d("2026-11-03"), d("2026-11-03"))]).day == d(
        "2026-11-04"
    )


def test_pause_spanning_a_holiday() -> None:
    # Paused 09-30..10-09 over National Day: 09-28 (1), 09-29 (2), 10-10 (3), 10-12 (4), 10-13 (5).
    pauses = [Pause(d("2026-09-30"), d("2026-10-09"))]
    assert due_date(CAL, d("2026-09-24"), 5, Unit.G, pauses).day == d("2026-10-13")
    # The same pause costs natural days in unit Z: 09-25..09-29 are the 5 days before it.
    assert due_date(CAL, d("2026-09-24"), 5, Unit.Z, pauses).day == d("2026-09-29")
    assert due_date(CAL, d("2026-09-24"), 6, Unit.Z, pauses).day == d("2026-10-10")


def test_pause_on_holidays_only_changes_nothing_for_g() -> None:
    pauses = [Pause(d("2026-10-01"), d("2026-10-07"))]
    assert due_date(CAL, d("2026-09-24"), 5, Unit.G, pauses).day == d("2026-10-09")


def test_overlapping_and_unsorted_pauses() -> None:
    pauses = [
        Pause(d("2026-11-10"), d("2026-11-12")),
        Pause(d("2026-11-04"), d("2026-11-05")),
        Pause(d("2026-11-11"), d("2026-11-13")),
    ]
    # Accepted Mon 11-02: 11-03 (1), 11-06 (2), 11-09 (3), 11-16 (4).
    assert due_date(CAL, d("2026-11-02"), 4, Unit.G, pauses).day == d("2026-11-16")


def test_open_pause_has_no_due_date_unless_already_reached() -> None:
    open_pause = [Pause(d("2026-11-04"), None)]
    assert due_date(CAL, d("2026-11-02"), 5, Unit.G, open_pause) == Due(None, False)
    assert due_date(CAL, d("2026-11-02"), 5, Unit.G, open_pause).paused
    # Due 11-03 was reached before the pause opened: the due date stands.
    assert due_date(CAL, d("2026-11-02"), 1, Unit.G, open_pause).day == d("2026-11-03")
    # A completion while paused is early.
    assert completion(CAL, d("2026-11-02"), 5, d("2026-11-20"), Unit.G, open_pause).outcome is (
        Outcome.EARLY
    )


def test_pause_before_or_on_acceptance() -> None:
    pauses = [Pause(d("2026-10-20"), d("2026-11-02"))]
    assert due_date(CAL, d("2026-11-02"), 1, Unit.G, pauses).day == d("2026-11-03")
    pauses = [Pause(d("2026-10-20"), d("2026-11-03"))]
    assert due_date(CAL, d("2026-11-02"), 1, Unit.G, pauses).day == d("2026-11-04")


def test_extension_adds_to_the_limit() -> None:
    assert due_date(CAL, d("2026-09-24"), 5, Unit.G, extension=2).day == d("2026-10-12")
    assert due_date(CAL, d("2026-09-24"), 3, Unit.G, extension=2).day == d("2026-10-09")


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="negative"):
        due_date(CAL, d("2026-09-24"), -1)
    with pytest.raises(ValueError, match="before it starts"):
        due_date(CAL, d("2026-09-24"), 1, Unit.G, [Pause(d("2026-09-29"), d("2026-09-28"))])
    with pytest.raises(ValueError, match="outside"):
        due_date(CAL, d("1990-01-01"), 1)


def test_remaining_days() -> None:
    start = d("2026-09-24")
    assert remaining_days(CAL, start, 5, start) == 5
    assert remaining_days(CAL, start, 5, d("2026-09-28")) == 5  # 09-28 itself not yet used
    assert remaining_days(CAL, start, 5, d("2026-09-29")) == 4
    assert remaining_days(CAL, start, 5, d("2026-10-08")) == 2
    assert remaining_days(CAL, start, 5, d("2026-10-09")) == 1  # at 00:00 of the due date
    assert remaining_days(CAL, start, 5, d("2026-10-10")) == 0
    assert remaining_days(CAL, start, 5, d("2026-10-13")) == -2
    paused = [Pause(d("2026-09-29"), None)]
    assert remaining_days(CAL, start, 5, d("2026-12-01"), Unit.G, paused) == 4


def test_reminder_date() -> None:
    start = d("2026-09-24")
    assert reminder_date(CAL, start, 5, 1) == d("2026-10-09")
    assert reminder_date(CAL, start, 5, 2) == d("2026-10-01")  # after 09-30, the 3rd day
    assert reminder_date(CAL, start, 1, 1) == start
    assert reminder_date(CAL, start, 5, 1, Unit.G, [Pause(d("2026-09-29"), None)]) is None


def test_outcomes() -> None:
    start = d("2026-09-24")
    assert completion(CAL, start, 5, d("2026-10-08")).outcome is Outcome.EARLY
    assert completion(CAL, start, 5, d("2026-10-09")).outcome is Outcome.ON_TIME
    late = completion(CAL, start, 5, d("2026-10-13"))
    assert (late.outcome, late.overdue_days) == (Outcome.OVERDUE, 3)  # 10-10, 10-12, 10-13
    z = completion(CAL, start, 5, d("2026-10-03"), Unit.Z)
    assert (z.outcome, z.overdue_days) == (Outcome.OVERDUE, 4)
    # Completed the Sunday after a Friday due date: overdue, by 0 counted working days.
    weekend = completion(CAL, d("2026-11-05"), 1, d("2026-11-08"))
    assert (weekend.outcome, weekend.overdue_days) == (Outcome.OVERDUE, 0)


def test_provisional_year_then_data_arrives() -> None:
    # Accepted 2026-12-24 + 10 G crosses into 2027, which chinesecalendar does not cover.
    before = due_date(CAL, d("2026-12-24"), 10)
    assert before == Due(d("2027-01-07"), True)
    assert due_date(CAL, d("2027-03-01"), 3) == Due(d("2027-03-04"), True)
    assert due_date(CAL, d("2026-12-24"), 4) == Due(d("2026-12-30"), False)
    loaded = CAL.with_arrangement(fake_2027())
    # 2027-01-01 and 01-04 are holidays, 01-09 (Saturday) is worked.
    after = due_date(loaded, d("2026-12-24"), 10)
    assert after == Due(d("2027-01-09"), False)


def test_unit_parsing() -> None:
    assert Unit.parse("g") is Unit.G and Unit.parse("自然日") is Unit.Z
    with pytest.raises(ValueError, match="unit"):
        Unit.parse("W")
    assert Limit.parse({"value": 5, "unit": "G"}) == Limit(5, Unit.G)
    for bad in ({"value": -1, "unit": "G"}, {"unit": "G"}, {"value": 1, "unit": "X"}, 5):
        with pytest.raises(ValueError, match="limit"):
            Limit.parse(bad)


# -- properties -----------------------------------------------------------------------------------

def naive_due(cal: WorkCalendar, start: date, n: int, unit: Unit, pauses: list[Pause]) -> date | None:
    """The definition, walked day by day (the reference for the indexed implementation)."""
    if n == 0:
        return start

    def paused(day: date) -> bool | None:
        for p in pauses:
            if p.start <= day and (p.end is None or day <= p.end):
                return None if p.end is None else True
        return False

    day, count = start, 0
    while True:
        day += DAY
        state = paused(day)
        if state is None:
            return None
        if not state and (unit is Unit.Z or cal.is_workday(day)):
            count += 1
            if count == n:
                return day


dates = st.dates(min_value=date(2025, 6, 1), max_value=date(2027, 6, 1))
units = st.sampled_from([Unit.G, Unit.Z])
limits = st.integers(min_value=0, max_value=60)


@st.composite
def pause_lists(draw: st.DrawFn, start: date) -> list[Pause]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        s = start + timedelta(days=draw(st.integers(-5, 80)))
        length = draw(st.one_of(st.none(), st.integers(0, 20)))
        out.append(Pause(s, None if length is None else s + timedelta(days=length)))
    return out


@settings(max_examples=300, deadline=None)
@given(dates, limits, units, st.data())
def test_indexed_due_date_matches_the_day_by_day_definition(
    start: date, n: int, unit: Unit, data: st.DataObject
) -> None:
    pauses = data.draw(pause_lists(start))
    assert due_date(CAL, start, n, unit, pauses).day == naive_due(CAL, start, n, unit, pauses)


@settings(max_examples=200, deadline=None)
@given(dates, limits, units, st.data())
def test_longer_limit_never_gives_an_earlier_due_date(
    start: date, n: int, unit: Unit, data: st.DataObject
) -> None:
    pauses = [p for p in data.draw(pause_lists(start)) if p.end is not None]
    extra = data.draw(st.integers(1, 10))
    a = due_date(CAL, start, n, unit, pauses).day
    b = due_date(CAL, start, n + extra, unit, pauses).day
    assert a is not None and b is not None and b >= a


@settings(max_examples=200, deadline=None)
@given(dates, limits, units, st.data())
def test_adding_a_pause_never_gives_an_earlier_due_date(
    start: date, n: int, unit: Unit, data: st.DataObject
) -> None:
    pauses = [p for p in data.draw(pause_lists(start)) if p.end is not None]
    extra = data.draw(pause_lists(start))
    a = due_date(CAL, start, n, unit, pauses).day
    b = due_date(CAL, start, n, unit, pauses + extra).day
    assert a is not None
    assert b is None or b >= a


@settings(max_examples=200, deadline=None)
@given(dates, limits, st.data())
def test_unit_z_never_later_than_unit_g(start: date, n: int, data: st.DataObject) -> None:
    pauses = data.draw(pause_lists(start))
    z = due_date(CAL, start, n, Unit.Z, pauses).day
    g = due_date(CAL, start, n, Unit.G, pauses).day
    if g is not None:
        assert z is not None and z <= g


@settings(max_examples=200, deadline=None)
@given(dates, st.integers(1, 60), units, st.data())
def test_remaining_is_one_at_midnight_of_the_due_date_and_outcome_is_consistent(
    start: date, n: int, unit: Unit, data: st.DataObject
) -> None:
    pauses = [p for p in data.draw(pause_lists(start)) if p.end is not None]
    due = due_date(CAL, start, n, unit, pauses).day
    assert due is not None
    assert remaining_days(CAL, start, n, due, unit, pauses) == 1
    assert remaining_days(CAL, start, n, due + DAY, unit, pauses) == 0
    done = start + timedelta(days=data.draw(st.integers(0, 120)))
    result = completion(CAL, start, n, done, unit, pauses)
    expected = Outcome.EARLY if done < due else Outcome.ON_TIME if done == due else Outcome.OVERDUE
    assert result.outcome is expected
    if expected is Outcome.OVERDUE:
        assert result.overdue_days == -remaining_days(CAL, start, n, done + DAY, unit, pauses)
