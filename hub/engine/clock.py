"""The statutory clock (时限计算) of DOMAIN.md §3, as pure arithmetic on a :class:`WorkCalendar`.

- ``G`` counts working days, ``Z`` natural days. Counting starts the day after the start date
  (the acceptance date, or the date a 补正 restarted the count); the due date is the date on which
  the N-th counted date falls. A limit of 0 is due on the start date itself.
- A :class:`Pause` covers its start and end dates, both included; the day after the end counts
  again. A pause with no end (still open) stops the clock: if the N-th counted date was not reached
  before it, there is no due date yet (``Due.day is None``, "暂停计时").
- Remaining days at a moment on date ``t``: N minus the counted dates strictly before ``t``.
- Completion on date ``d``: early before the due date, on time on it, overdue after it, with the
  overdue days counted in the same unit (a completion on a non-counted day right after the due date
  is overdue by 0 counted days).
- ``provisional``: a ``G`` deadline whose counting crossed a year without official data.

Every count is a lookup in the calendar's :class:`~hub.engine.calendar.WorkdayIndex`; a pause costs
one more lookup. No function walks day by day.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple

from hub.engine.calendar import WorkCalendar, WorkdayIndex


class Unit(enum.StrEnum):
    """Unit of a limit: working days (工作日) or natural days (自然日)."""

    G = "G"
    Z = "Z"

    @classmethod
    def parse(cls, value: object) -> Unit:
        """``"G"``/``"Z"`` (also the Chinese 工作日/自然日); :class:`ValueError` otherwise."""
        text = value.strip().upper() if isinstance(value, str) else value
        if isinstance(text, str) and text in _UNIT_ALIASES:
            return _UNIT_ALIASES[text]
        raise ValueError(f"unit must be 'G' (working days) or 'Z' (natural days), got {value!r}")


class Limit(NamedTuple):
    """A time limit: ``value`` days of ``unit``."""

    value: int
    unit: Unit

    @classmethod
    def parse(cls, value: object, what: str = "limit") -> Limit:
        """Parse ``{"value": n, "unit": "G"}``; :class:`ValueError` names ``what``. Equal limits
        are one shared object (a million open cases hold a few dozen distinct limits)."""
        if type(value) is dict and len(value) == 2 and type(n := value.get("value")) is int:
            shared = _LIMITS.get((n, value.get("unit")))  # the usual, well-formed body: one lookup
            if shared is not None:
                return shared
        if not isinstance(value, dict) or set(value) - {"value", "unit"} or "value" not in value:
            raise ValueError(f"{what} must be an object {{value, unit}}, got {value!r}")
        n = value["value"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"{what}.value must be a non-negative integer, got {n!r}")
        try:
            unit = Unit.parse(value.get("unit", "G"))
        except ValueError as exc:
            raise ValueError(f"{what}.unit: {exc}") from None
        limit = cls(n, unit)
        if type(n) is int and len(_LIMITS) < 4096 and isinstance(value.get("unit"), str) and len(value) == 2:
            _LIMITS[(n, value["unit"])] = limit
        return limit


_UNIT_ALIASES = {"G": Unit.G, "Z": Unit.Z, "工作日": Unit.G, "自然日": Unit.Z}
#: Limits already parsed, by the body's (value, unit): shared, immutable.
_LIMITS: dict[tuple[object, object], Limit] = {}


class Pause(NamedTuple):
    """Dates on which the clock stands still, ``start`` to ``end`` both included; open if no end."""

    start: date
    end: date | None


class Due(NamedTuple):
    """A computed due date (``None`` while paused) and whether it rests on a provisional year."""

    day: date | None
    provisional: bool

    @property
    def paused(self) -> bool:
        """True when an open pause stopped the clock before the due date was reached."""
        return self.day is None

    def to_json(self) -> dict[str, object]:
        """``{"due_date": "YYYY-MM-DD" | None, "provisional": bool}``."""
        return {
            "due_date": self.day.isoformat() if self.day else None,
            "provisional": self.provisional,
        }


class Outcome(enum.StrEnum):
    """How a completed case compares with its due date."""

    EARLY = "early"  # 提前办结
    ON_TIME = "on_time"  # 按时办结
    OVERDUE = "overdue"  # 超期办结


class Completion(NamedTuple):
    """The outcome of a completion and, when overdue, by how many counted days."""

    outcome: Outcome
    overdue_days: int
    due: Due


def _indexes(ix: WorkdayIndex, pauses: Iterable[Pause]) -> list[tuple[int, int | None]]:
    """Pauses as sorted ``(start_index, end_index | None)`` pairs, validated."""
    base = ix.base
    out: list[tuple[int, int | None]] = []
    for start, end in pauses:
        if end is not None and end < start:
            raise ValueError(f"pause ends ({end}) before it starts ({start})")
        out.append((start.toordinal() - base, None if end is None else end.toordinal() - base))
    out.sort(key=lambda p: p[0])
    return out


#: Due dates memoised per calendar index (entries, then the memo starts afresh).
MEMO_SIZE = 1 << 16


def due_date(
    calendar: WorkCalendar,
    start: date,
    limit: int,
    unit: Unit = Unit.G,
    pauses: Sequence[Pause] = (),
    extension: int = 0,
) -> Due:
    """The due date of ``limit + extension`` ``unit`` days counted after ``start``.

    Raises :class:`ValueError` for a negative limit, a pause ending before it starts, or a date
    outside the calendar's range. Without pauses the answer is memoised on the calendar's index
    (per start date, days and unit).
    """
    if pauses:
        return _due_date(calendar.index, start, limit + extension, unit == Unit.G, pauses)
    ix = calendar.index
    key = (start.toordinal(), limit + extension, unit == Unit.G)
    memo = ix.memo
    hit = memo.get(key)
    if hit is not None:
        return hit  # type: ignore[return-value]  # only Due values are stored
    due = _due_date(ix, start, key[1], key[2], ())
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    memo[key] = due
    return due


def _due_date(ix: WorkdayIndex, start: date, need: int, working: bool, pauses: Sequence[Pause]) -> Due:
    a = start.toordinal() - ix.base
    if not 0 <= a < ix.size:
        raise ValueError(f"{start} is outside the calendar's range")
    if need <= 0:
        if need < 0:
            raise ValueError(f"limit plus extension must not be negative, got {need}")
        return Due(start, False)
    limit = need
    cum = ix.cum
    cursor = a
    if pauses:
        for s, e in _indexes(ix, pauses):
            if s > cursor + 1:  # counting window: cursor < d < s
                hi = min(s, ix.size)
                avail = (cum[hi] - cum[cursor + 1]) if working else s - 1 - cursor
                if avail >= need:
                    break
                need -= avail
            if e is None:
                prov = working and ix.prov[min(max(s, a + 1), ix.size)] - ix.prov[a + 1] > 0
                return Due(None, prov)
            if e > cursor:
                cursor = e
                if cursor >= ix.size:
                    raise ValueError(f"pause end {date.fromordinal(ix.base + e)} is out of range")
    if working:
        k = cum[cursor + 1] + need - 1
        if k >= len(ix.nth):
            raise ValueError(f"due date of {start} + {limit} is beyond the calendar's range")
        r = ix.nth[k]
        return Due(date.fromordinal(ix.base + r), ix.prov[r + 1] - ix.prov[a + 1] > 0)
    return Due(date.fromordinal(ix.base + cursor + need), False)


def counted_days(
    calendar: WorkCalendar,
    start: date,
    until: date,
    unit: Unit = Unit.G,
    pauses: Sequence[Pause] = (),
) -> int:
    """Counted dates ``d`` with ``start < d <= until``: in the unit and not paused."""
    ix = calendar.index
    a, u = start.toordinal() - ix.base, until.toordinal() - ix.base
    if u <= a:
        return 0
    if a < 0 or u >= ix.size:
        raise ValueError(f"{start}..{until} is outside the calendar's range")
    working = unit == Unit.G
    cum = ix.cum

    def window(lo: int, hi: int) -> int:  # lo < d <= hi
        return (cum[hi + 1] - cum[lo + 1]) if working else hi - lo

    total, cursor = 0, a
    for s, e in _indexes(ix, pauses):
        if cursor >= u:
            break
        hi = min(s - 1, u)
        if hi > cursor:
            total += window(cursor, hi)
        if e is None:
            return total
        cursor = max(cursor, e)
    if cursor < u:
        total += window(cursor, u)
    return total


def remaining_days(
    calendar: WorkCalendar,
    start: date,
    limit: int,
    on: date,
    unit: Unit = Unit.G,
    pauses: Sequence[Pause] = (),
    extension: int = 0,
) -> int:
    """Days left at any moment of date ``on`` (negative once overdue); 1 at 00:00 of the due date."""
    return limit + extension - counted_days(calendar, start, on - _DAY, unit, pauses)


def completion(
    calendar: WorkCalendar,
    start: date,
    limit: int,
    completed: date,
    unit: Unit = Unit.G,
    pauses: Sequence[Pause] = (),
    extension: int = 0,
) -> Completion:
    """Early / on time / overdue for a case completed on ``completed``."""
    due = due_date(calendar, start, limit, unit, pauses, extension)
    if due.day is None or completed < due.day:
        return Completion(Outcome.EARLY, 0, due)
    if completed == due.day:
        return Completion(Outcome.ON_TIME, 0, due)
    return Completion(Outcome.OVERDUE, counted_days(calendar, due.day, completed, unit, pauses), due)


def reminder_date(
    calendar: WorkCalendar,
    start: date,
    limit: int,
    threshold: int,
    unit: Unit = Unit.G,
    pauses: Sequence[Pause] = (),
    extension: int = 0,
) -> date | None:
    """The first date at whose 00:00 at most ``threshold`` days remain (``None`` while paused
    before it). When the limit is within the threshold already, that is the start date."""
    n = limit + extension
    if n - threshold <= 0:
        return start
    day = due_date(calendar, start, n - threshold, unit, pauses).day
    return None if day is None else day + _DAY


_DAY = date(2000, 1, 2) - date(2000, 1, 1)
