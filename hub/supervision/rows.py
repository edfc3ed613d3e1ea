"""A case's row in the ``cases`` table, computed from the engine's :class:`CaseState`.

The row holds what the board filters and sorts on (status, department, dates) and what the case
page shows of the clock (start, limits, pauses, due dates). :func:`contributions` says what a row
adds to the incremental aggregates, so a change of row is a difference of contributions: the
aggregates stay exact without ever recounting.

Status (one word, ``schema.STATUSES``), for a given day:

- ``completed`` — completed or refused (不予受理);
- ``red`` — past the statutory due date, or an escalated / red card still pending;
- ``yellow`` — past the promised due date;
- ``paused`` — a 补正 or kind-2 special procedure is open (暂停计时);
- ``reminder`` — at most ``reminder_days`` promised days remain (not for 即办件);
- ``provisional`` — the due date rests on a year without official calendar data;
- ``normal`` — otherwise (also a case whose acceptance record has not arrived yet).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

from hub.engine.calendar import WorkCalendar
from hub.engine.cases import CaseState
from hub.engine.localtime import LOCAL_TZ, ONE_DAY, local_date, start_of


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One row of ``cases`` (column names are the field names)."""

    case_id: str
    dept_code: str | None = None
    dept_name: str | None = None
    item_code: str | None = None
    item_name: str | None = None
    window_id: str | None = None
    staff_id: str | None = None
    staff_name: str | None = None
    applicant_name: str | None = None
    case_kind: int | None = None
    status: str = "normal"
    active: int = 1
    accepted_at: str | None = None
    unit: str | None = None
    promised_limit: int | None = None
    statutory_limit: int | None = None
    due_date: str | None = None
    due_provisional: int = 0
    statutory_due: str | None = None
    reminder_date: str | None = None
    paused: int = 0
    completed_at: str | None = None
    completed_day: str | None = None
    outcome: str | None = None
    overdue_days: int | None = None
    result_code: int | None = None
    refused_at: str | None = None
    clock: str | None = None
    anomaly: str | None = None
    red_card: int = 0
    bad_rating_open: int = 0
    last_record_id: int | None = None
    updated_at: str | None = None

    @classmethod
    def from_db(cls, row: Mapping[str, Any]) -> CaseRow:
        """A row read with ``SELECT *`` (as a mapping of column names)."""
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def values(self) -> tuple[Any, ...]:
        """Column values in field order."""
        return _VALUES(self)

    def same_as(self, other: CaseRow | None) -> bool:
        """Equal to ``other`` apart from ``updated_at``."""
        return other is not None and _VALUES(self)[:-1] == _VALUES(other)[:-1]

    @property
    def dept(self) -> str:
        return self.dept_code or ""

    @property
    def search_text(self) -> str:
        """What the board's free-text search matches."""
        return " ".join([p for p in text_parts(self) if p])


COLUMNS = tuple(f.name for f in fields(CaseRow))
_VALUES = attrgetter(*COLUMNS)
#: The columns :attr:`CaseRow.search_text` is made of, in order (equal parts: equal texts).
text_parts = attrgetter("case_id", "item_name", "item_code", "applicant_name", "staff_name", "dept_name")
assert COLUMNS[-1] == "updated_at"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(LOCAL_TZ).isoformat()


@lru_cache(maxsize=4)
def _stamp(moment: datetime | None) -> str | None:
    """``_iso`` of the step's ``now``, the same for every row of a step."""
    return _iso(moment)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def compute_row(
    case: CaseState,
    calendar: WorkCalendar,
    today: date,
    *,
    old: CaseRow | None = None,
    names: Mapping[str, str | None] | None = None,
    red_card: bool = False,
    last_record_id: int | None = None,
    now: datetime | None = None,
) -> CaseRow:
    """The row of ``case`` on ``today``, keeping what only records know from ``old``.

    Built field by field (no intermediate mapping): this runs once per touched case per step of
    the service, so it is on the consumption's hot path."""
    base = old or CaseRow(case.case_id)
    dept_name, item_name, staff_name = base.dept_name, base.item_name, base.staff_name
    applicant_name, refused_at = base.applicant_name, base.refused_at
    if names:
        if unknown := [key for key in names if key not in _NAME_FIELDS]:
            raise ValueError(f"names holds columns other than the record-only ones: {unknown}")
        dept_name = names.get("dept_name") or dept_name
        item_name = names.get("item_name") or item_name
        staff_name = names.get("staff_name") or staff_name
        applicant_name = names.get("applicant_name") or applicant_name
        refused_at = names.get("refused_at") or refused_at
    accepted_at = _iso(case.accepted_at)
    completed = case.completed_at
    completed_at = _iso(completed)
    completed_day = None if completed is None else local_date(completed).isoformat()
    bad_levels = case.thresholds.bad_rating_levels
    bad_rating_open = int(any(r.rectified_at is None and r.level in bad_levels for r in case.ratings))
    unit = promised_limit = statutory_limit = due_day = statutory_day = reminder = None
    clock_text = anomaly = outcome = overdue_days = None
    due_provisional = paused = 0
    clock = case.clock
    deadlines = case.deadlines(calendar)
    if clock is not None and deadlines is not None:
        promised, statutory = deadlines.promised, deadlines.statutory
        unit, promised_limit = clock.promised.unit.value, clock.promised.value
        statutory_limit = clock.statutory.value if clock.statutory else None
        due_day, due_provisional = _day(promised.day), int(deadlines.provisional)
        statutory_day = _day(statutory.day) if statutory else None
        reminder, paused = _day(deadlines.reminder), int(clock.paused)
        anomaly, clock_text = deadlines.anomaly, clock_text_of(case)
        result = clock.completion(calendar)
        if result is not None:
            outcome, overdue_days = result.outcome.value, result.overdue_days
    status = _status_of(
        today.isoformat(), case.case_kind, accepted_at=accepted_at, completed_at=completed_at,
        refused_at=refused_at, statutory_due=statutory_day, red_card=red_card, due_date=due_day,
        paused=paused, reminder_date=reminder, due_provisional=due_provisional,
    )  # fmt: skip
    return CaseRow(
        case.case_id, case.dept_code or base.dept_code, dept_name, case.item_code or base.item_code,
        item_name, case.window_id or base.window_id, case.staff_id or base.staff_id, staff_name,
        applicant_name, case.case_kind or base.case_kind, status,
        int(status != "completed" or bool(bad_rating_open)), accepted_at, unit, promised_limit,
        statutory_limit, due_day, due_provisional, statutory_day, reminder, paused, completed_at,
        completed_day, outcome, overdue_days, case.result_code, refused_at, clock_text, anomaly,
        int(red_card), bad_rating_open,
        last_record_id if last_record_id is not None else base.last_record_id, _stamp(now),
    )  # fmt: skip


#: The columns only records know (``names`` of :func:`compute_row`), kept from the stored row.
_NAME_FIELDS = frozenset({"dept_name", "item_name", "staff_name", "applicant_name", "refused_at"})


def status_of(row: CaseRow, today: date, case_kind: int | None = None) -> str:
    """The status word of ``row`` on ``today`` (see the module docstring)."""
    return _status_of(
        today.isoformat(), case_kind if case_kind is not None else row.case_kind,
        accepted_at=row.accepted_at, completed_at=row.completed_at, refused_at=row.refused_at,
        statutory_due=row.statutory_due, red_card=row.red_card, due_date=row.due_date, paused=row.paused,
        reminder_date=row.reminder_date, due_provisional=row.due_provisional,
    )  # fmt: skip


def _status_of(
    day: str, case_kind: int | None, *, accepted_at: str | None, completed_at: str | None,
    refused_at: str | None, statutory_due: str | None, red_card: object, due_date: str | None,
    paused: object, reminder_date: str | None, due_provisional: object,
) -> str:  # fmt: skip
    if completed_at is not None or (refused_at is not None and accepted_at is None):
        return "completed"
    if accepted_at is None:
        return "normal"
    if (statutory_due is not None and day > statutory_due) or red_card:
        return "red"
    if due_date is not None and day > due_date:
        return "yellow"
    if paused:
        return "paused"
    if case_kind != 1 and reminder_date is not None and day >= reminder_date:
        return "reminder"
    if due_provisional:
        return "provisional"
    return "normal"


def next_change(row: CaseRow, after: datetime) -> datetime | None:
    """The next moment after ``after`` at which the row's status may change by itself."""
    if row.status == "completed" or row.accepted_at is None:
        return None
    moments = []
    for text, shift in ((row.reminder_date, 0), (row.due_date, 1), (row.statutory_due, 1)):
        if text is not None:
            moment = start_of(date.fromisoformat(text) + ONE_DAY * shift)
            if moment > after:
                moments.append(moment)
    return min(moments) if moments else None


def clock_text_of(case: CaseState) -> str | None:
    """``json.dumps(clock_json(case), ensure_ascii=False)``, written directly (dates, enum words
    and integers need no escaping): the ``clock`` column of every row the service computes."""
    clock = case.clock
    if clock is None:
        return "{}"
    promised, statutory = clock.promised, clock.statutory
    stat = "null" if statutory is None else f'{{"value": {statutory.value}, "unit": "{statutory.unit.value}"}}'
    pauses = ", ".join(
        f'["{p.start.isoformat()}", ' + ("null]" if p.end is None else f'"{p.end.isoformat()}"]')
        for p in clock.pauses()
    )
    done = "null" if clock.completed is None else f'"{clock.completed.isoformat()}"'
    return (
        f'{{"accepted": "{clock.accepted.isoformat()}", "start": "{clock.start.isoformat()}", '
        f'"promised": {{"value": {promised.value}, "unit": "{promised.unit.value}"}}, "statutory": {stat}, '
        f'"extension": {clock.extension}, "mode": "{clock.mode.value}", "pauses": [{pauses}], "completed": {done}}}'
    )


def clock_json(case: CaseState) -> dict[str, Any]:
    """The clock's inputs, for the case page (counted days are computed when shown)."""
    clock = case.clock
    if clock is None:
        return {}
    return {
        "accepted": clock.accepted.isoformat(),
        "start": clock.start.isoformat(),
        "promised": {"value": clock.promised.value, "unit": clock.promised.unit.value},
        "statutory": None if clock.statutory is None
        else {"value": clock.statutory.value, "unit": clock.statutory.unit.value},
        "extension": clock.extension,
        "mode": clock.mode.value,
        "pauses": [[p.start.isoformat(), p.end.isoformat() if p.end else None] for p in clock.pauses()],
        "completed": clock.completed.isoformat() if clock.completed else None,
    }


def contributions(row: CaseRow | None) -> Iterator[tuple[str, str, str]]:
    """``(day, dept_code, metric)`` counts this row adds to ``sup_daily``."""
    if row is None:
        return
    dept = row.dept
    if row.accepted_at is not None:
        day = row.accepted_at[:10]
        yield day, dept, "accepted"
        yield day, dept, "accepted_immediate" if row.case_kind == 1 else "accepted_promised"
        if row.completed_day is not None:
            yield row.completed_day, dept, "completed"
            if row.outcome:
                yield row.completed_day, dept, f"completed_{row.outcome}"
    elif row.refused_at is not None:
        yield row.refused_at[:10], dept, "refused"


def status_key(row: CaseRow | None) -> tuple[str, str] | None:
    """``(dept_code, status)`` this row counts in ``sup_status`` (accepted, unfinished cases)."""
    if row is None or row.accepted_at is None or row.status == "completed":
        return None
    return row.dept, row.status
