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

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
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
        parts = (self.case_id, self.item_name, self.item_code, self.applicant_name, self.staff_name,
                 self.dept_name)  # fmt: skip
        return " ".join(p for p in parts if p)


COLUMNS = tuple(f.name for f in fields(CaseRow))
_VALUES = attrgetter(*COLUMNS)
assert COLUMNS[-1] == "updated_at"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(LOCAL_TZ).isoformat()


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
    """The row of ``case`` on ``today``, keeping what only records know from ``old``."""
    base = old or CaseRow(case.case_id)
    values: dict[str, Any] = dict(zip(COLUMNS, _VALUES(base), strict=True))
    values.update({
        "dept_code": case.dept_code or base.dept_code,
        "item_code": case.item_code or base.item_code,
        "window_id": case.window_id or base.window_id,
        "staff_id": case.staff_id or base.staff_id,
        "case_kind": case.case_kind or base.case_kind,
        "accepted_at": _iso(case.accepted_at),
        "completed_at": _iso(case.completed_at),
        "completed_day": _day(local_date(case.completed_at)) if case.completed_at else None,
        "result_code": case.result_code,
        "red_card": int(red_card),
        "bad_rating_open": int(any(
            r.rectified_at is None and r.level in case.thresholds.bad_rating_levels for r in case.ratings
        )),
        "last_record_id": last_record_id if last_record_id is not None else base.last_record_id,
        "updated_at": _iso(now),
        "outcome": None, "overdue_days": None, "due_date": None, "due_provisional": 0,
        "statutory_due": None, "reminder_date": None, "paused": 0, "clock": None, "anomaly": None,
        "unit": None, "promised_limit": None, "statutory_limit": None,
    })  # fmt: skip
    for key, value in (names or {}).items():
        if value:
            values[key] = value
    clock = case.clock
    deadlines = case.deadlines(calendar)
    if clock is not None and deadlines is not None:
        promised, statutory = deadlines.promised, deadlines.statutory
        values.update(
            unit=clock.promised.unit.value, promised_limit=clock.promised.value,
            statutory_limit=clock.statutory.value if clock.statutory else None,
            due_date=_day(promised.day), due_provisional=int(deadlines.provisional),
            statutory_due=_day(statutory.day) if statutory else None,
            reminder_date=_day(deadlines.reminder), paused=int(clock.paused),
            anomaly=deadlines.anomaly, clock=json.dumps(clock_json(case), ensure_ascii=False),
        )  # fmt: skip
        result = clock.completion(calendar)
        if result is not None:
            values["outcome"], values["overdue_days"] = result.outcome.value, result.overdue_days
    status = _status(values, today.isoformat(), case.case_kind)
    values["status"] = status
    values["active"] = int(status != "completed" or bool(values["bad_rating_open"]))
    return CaseRow(**values)


def status_of(row: CaseRow, today: date, case_kind: int | None = None) -> str:
    """The status word of ``row`` on ``today`` (see the module docstring)."""
    values = dict(zip(COLUMNS, _VALUES(row), strict=True))
    return _status(values, today.isoformat(), case_kind if case_kind is not None else row.case_kind)


def _status(row: Mapping[str, Any], day: str, case_kind: int | None) -> str:
    if row["completed_at"] is not None or (row["refused_at"] is not None and row["accepted_at"] is None):
        return "completed"
    if row["accepted_at"] is None:
        return "normal"
    if (row["statutory_due"] is not None and day > row["statutory_due"]) or row["red_card"]:
        return "red"
    if row["due_date"] is not None and day > row["due_date"]:
        return "yellow"
    if row["paused"]:
        return "paused"
    if case_kind != 1 and row["reminder_date"] is not None and day >= row["reminder_date"]:
        return "reminder"
    if row["due_provisional"]:
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
