"""CaseClock: the clock state fed by a case's events."""

from __future__ import annotations

from hub.engine.calendar import WorkCalendar
from hub.engine.caseclock import CaseClock, SupplementMode
from hub.engine.clock import Due, Limit, Outcome, Pause, Unit
from tests.engine.helpers import d

CAL = WorkCalendar()


def clock(mode: SupplementMode = SupplementMode.PAUSE) -> CaseClock:
    return CaseClock(d("2026-09-24"), Limit(5, Unit.G), Limit(20, Unit.G), mode)


def test_fresh_clock_answers_the_worked_example() -> None:
    c = clock()
    assert c.due(CAL) == Due(d("2026-10-09"), False)
    assert c.statutory_due(CAL) == Due(d("2026-10-29"), False)  # 10-10 is a 调休 Saturday
    assert c.remaining(CAL, d("2026-10-09")) == 1
    assert c.reminder(CAL, 1) == d("2026-10-09")
    assert c.completion(CAL) is None and not c.paused


def test_supplement_pause_mode() -> None:
    c = clock()
    rev = c.revision
    assert c.supplement_requested(d("2026-09-28"))
    assert not c.supplement_requested(d("2026-09-29"))  # already open: ignored
    assert c.paused and c.due(CAL).day is None and c.revision > rev
    assert c.supplement_received(d("2026-09-29"))
    assert not c.paused
    assert c.pauses() == (Pause(d("2026-09-28"), d("2026-09-29")),)
    assert c.due(CAL).day == d("2026-10-12")
    assert not c.supplement_received(d("2026-09-30"))


def test_supplement_restart_mode_counts_again_from_the_receipt_date() -> None:
    c = clock(SupplementMode.RESTART)
    c.supplement_requested(d("2026-09-28"))
    assert c.due(CAL).day is None
    c.supplement_received(d("2026-09-30"))
    # Counting restarts after 09-30: 10-08, 10-09, 10-10, 10-12, 10-13.
    assert c.due(CAL).day == d("2026-10-13")
    assert c.statutory_due(CAL) == Due(d("2026-11-03"), False)


def test_special_procedures() -> None:
    c = clock()
    assert c.suspended(d("2026-09-28"), kind=1, extension_days=2)  # extension: no pause
    assert not c.paused and c.due(CAL).day == d("2026-10-12")
    assert c.resumed(d("2026-09-29")) is False  # end of a kind-1 procedure: nothing to close
    assert c.suspended(d("2026-09-29"), kind=2)
    assert not c.suspended(d("2026-09-30"), kind=2)  # already suspended
    assert c.due(CAL).day is None
    assert c.resumed(d("2026-10-09"))
    # 09-28 (1), then paused 09-29..10-09; 10-10 (2), 10-12 (3), 10-13 (4), 10-14 (5), +2 ext.
    assert c.due(CAL).day == d("2026-10-16")


def test_nested_supplement_and_suspension() -> None:
    c = clock()
    c.supplement_requested(d("2026-09-28"))
    c.suspended(d("2026-09-29"), kind=2)
    c.supplement_received(d("2026-09-30"))
    assert c.due(CAL).day is None  # still suspended
    c.resumed(d("2026-10-08"))
    # Paused 09-28..10-08: 10-09, 10-10, 10-12, 10-13, 10-14.
    assert c.due(CAL).day == d("2026-10-14")


def test_completion_outcomes() -> None:
    c = clock()
    c.complete(d("2026-10-13"))
    result = c.completion(CAL)
    assert result is not None
    assert (result.outcome, result.overdue_days) == (Outcome.OVERDUE, 3)
    statutory = c.statutory_completion(CAL)
    assert statutory is not None and statutory.outcome is Outcome.EARLY


def test_no_statutory_limit() -> None:
    c = CaseClock(d("2026-09-24"), Limit(0, Unit.G))
    assert c.statutory_due(CAL) is None
    assert c.due(CAL).day == d("2026-09-24")
    c.complete(d("2026-09-24"))
    assert c.statutory_completion(CAL) is None
    result = c.completion(CAL)
    assert result is not None and result.outcome is Outcome.ON_TIME


def test_promised_after_statutory_is_an_anomaly() -> None:
    from hub.engine.cases import Deadlines

    fine = Deadlines(Due(d("2026-10-09"), False), Due(d("2026-10-29"), False), None)
    assert fine.anomaly is None
    odd = Deadlines(Due(d("2026-11-09"), False), Due(d("2026-10-29"), False), None)
    assert odd.anomaly == "promised due date 2026-11-09 is after the statutory due date 2026-10-29"
