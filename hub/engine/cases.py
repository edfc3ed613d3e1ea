"""The state of one case as its events arrive: who handles it, its clock, its ratings.

:class:`CaseState` is what rules evaluate an incoming event against. Its deadlines
(:class:`Deadlines`) are cached per calendar version and clock revision, so the scheduler's
questions cost nothing until an event or new calendar data changes the answer.

Clock events that arrive before the case's acceptance record are held and applied, in time
order, once the acceptance arrives.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date, datetime

from hub.engine.calendar import WorkCalendar
from hub.engine.caseclock import CaseClock
from hub.engine.clock import Due, Limit
from hub.engine.config import Thresholds
from hub.engine.events import (
    Accepted,
    CaseEvent,
    Completed,
    Rated,
    RatingRectified,
    Refused,
    Resumed,
    SupplementReceived,
    SupplementRequested,
    Suspended,
)
from hub.engine.localtime import ONE_DAY, local_date, start_of


@dataclass(slots=True)
class Rating:
    """A 评价 of the case; bad ones (see ``Thresholds.bad_rating_levels``) must be rectified."""

    at: datetime
    level: int
    evidence: str
    rectified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DueMoments:
    """The moments a case's time rules fire at, derived from its :class:`Deadlines` (computed once
    per shared Deadlines, not at every tick): the start of the reminder date, the day after the
    promised and the statutory due date, and those due dates as the text of the cards' keys."""

    reminder: datetime | None
    due: str | None
    overdue: datetime | None
    statutory: str | None
    statutory_overdue: datetime | None


@dataclass(frozen=True, slots=True)
class Deadlines:
    """A case's computed dates: promised and statutory due date, and the R1 reminder date."""

    promised: Due
    statutory: Due | None
    reminder: date | None
    _moments: DueMoments | None = field(default=None, init=False, compare=False, repr=False)

    def moments(self) -> DueMoments:
        """The rules' moments of these dates (cached on this object: most cases share it)."""
        found = self._moments
        if found is None:
            due, sdue = self.promised.day, self.statutory.day if self.statutory else None
            found = DueMoments(
                None if self.reminder is None else start_of(self.reminder),
                None if due is None else due.isoformat(),
                None if due is None else start_of(due + ONE_DAY),
                None if sdue is None else sdue.isoformat(),
                None if sdue is None else start_of(sdue + ONE_DAY),
            )
            object.__setattr__(self, "_moments", found)  # a cache, not part of the value
        return found

    @property
    def provisional(self) -> bool:
        """True when any of them rests on a year without official calendar data."""
        return self.promised.provisional or bool(self.statutory and self.statutory.provisional)

    @property
    def anomaly(self) -> str | None:
        """A data anomaly (DOMAIN.md §3): the promised due date falls after the statutory one."""
        p, s = self.promised.day, self.statutory.day if self.statutory else None
        if p is not None and s is not None and p > s:
            return f"promised due date {p} is after the statutory due date {s}"
        return None


class CaseState:
    """Everything the rules need to know about one case.

    A hub holds a million of these (every open case), so they are kept small: the rarely filled
    sequences (ratings, held early events, evidence) are tuples starting as the shared empty
    tuple, and the codes and limits shared by many cases are one object each."""

    __slots__ = (
        "_cache",
        "_cache_calendar",
        "_cache_revision",
        "accepted_at",
        "case_id",
        "case_kind",
        "clock",
        "completed_at",
        "dept_code",
        "early",
        "evidence",
        "fee_standard_fen",
        "item_code",
        "ratings",
        "refused",
        "result_code",
        "staff_id",
        "supplement_requests",
        "thresholds",
        "window_id",
    )

    def __init__(self, case_id: str, thresholds: Thresholds) -> None:
        self.case_id = case_id
        self.thresholds = thresholds
        self.item_code: str | None = None
        self.dept_code: str | None = None
        self.window_id: str | None = None
        self.staff_id: str | None = None
        self.case_kind = 0
        self.accepted_at: datetime | None = None
        self.clock: CaseClock | None = None
        self.fee_standard_fen: int | None = None
        self.supplement_requests = 0
        self.completed_at: datetime | None = None
        self.result_code: int | None = None
        self.refused = False
        self.evidence: tuple[str, ...] = ()
        self.ratings: tuple[Rating, ...] = ()
        self.early: tuple[CaseEvent, ...] = ()
        self._cache_calendar: WorkCalendar | None = None  # the cache is for this calendar ...
        self._cache_revision = -1  # ... and this clock revision
        self._cache: Deadlines | None = None

    @property
    def is_open(self) -> bool:
        """Accepted and not yet completed."""
        return self.clock is not None and self.completed_at is None

    def apply(self, event: CaseEvent, thresholds: Thresholds | None = None) -> bool:
        """Fold ``event`` into the state. Returns False when the event was ignored by the clock
        (a resumption without a suspension, a duplicate supplement notice …)."""
        self.evidence += (event.evidence,)
        if isinstance(event, Accepted):
            return self._accepted(event, thresholds or self.thresholds)
        if isinstance(event, Refused):
            self.refused = True
            self.item_code, self.dept_code = _code(event.item_code), _code(event.dept_code)
            self.window_id = self.window_id or _code(event.window_id)
            self.staff_id = self.staff_id or _code(event.staff_id)
            return True
        if isinstance(event, Rated):
            self.ratings += (Rating(event.at, event.level, event.evidence),)
            return True
        if isinstance(event, RatingRectified):
            for rating in self.ratings:
                if rating.rectified_at is None and rating.level in self.thresholds.bad_rating_levels and (
                    rating.at == event.rating_at if event.rating_at is not None else rating.at <= event.at
                ):
                    rating.rectified_at = event.at
            return True
        if isinstance(event, SupplementRequested):
            self.supplement_requests += 1
        if isinstance(event, Completed):
            self.completed_at, self.result_code = event.at, event.result_code
        if self.clock is None:
            if isinstance(event, SupplementRequested | SupplementReceived | Suspended | Resumed):
                self.early += (event,)
            return True
        return self._clock_event(event)

    def _accepted(self, event: Accepted, thresholds: Thresholds) -> bool:
        self.thresholds = thresholds
        self.item_code, self.dept_code = _code(event.item_code), _code(event.dept_code)
        self.window_id, self.staff_id = _code(event.window_id), _code(event.staff_id)
        self.case_kind, self.accepted_at = event.case_kind, event.at
        self.fee_standard_fen = event.fee_standard_fen
        old = self.clock
        self.clock = CaseClock(
            _day(local_date(event.at)), _limit(event.promised),
            None if event.statutory is None else _limit(event.statutory), thresholds.supplement_mode,
        )  # fmt: skip
        if old is not None:  # a corrected acceptance record: keep the clock's timeline
            self.clock.extension = old.extension
            self.clock.extensions = old.extensions
            self.clock.closed_pauses = old.closed_pauses
            self.clock.supplement_since = old.supplement_since
            self.clock.suspended_since = old.suspended_since
            self.clock.completed = old.completed
            if old.start != old.accepted:  # restarted by a 补正
                self.clock.start = max(old.start, self.clock.accepted)
            self.clock.revision = old.revision + 1
        for held in sorted(self.early, key=lambda e: e.at):
            self._clock_event(held)
        self.early = ()
        if self.completed_at is not None:
            self.clock.complete(local_date(self.completed_at))
        return True

    def _clock_event(self, event: CaseEvent) -> bool:
        clock = self.clock
        assert clock is not None
        on = local_date(event.at)
        if isinstance(event, SupplementRequested):
            return clock.supplement_requested(on)
        if isinstance(event, SupplementReceived):
            return clock.supplement_received(on)
        if isinstance(event, Suspended):
            return clock.suspended(on, event.kind, event.extension_days)
        if isinstance(event, Resumed):
            return clock.resumed(on)
        if isinstance(event, Completed):
            clock.complete(on)
        return True

    def deadlines(self, calendar: WorkCalendar) -> Deadlines | None:
        """The case's due dates on ``calendar`` (cached), or None before acceptance."""
        clock = self.clock
        if clock is None:
            return None
        if (
            self._cache is None or calendar is not self._cache_calendar
            or clock.revision != self._cache_revision
        ):  # fmt: skip
            self._cache = _deadlines(Deadlines(
                clock.due(calendar),
                clock.statutory_due(calendar),
                None if clock.paused else clock.reminder(calendar, self.thresholds.reminder_days),
            ))
            self._cache_calendar, self._cache_revision = calendar, clock.revision
        return self._cache


_LIMITS: dict[Limit, Limit] = {}


def _limit(limit: Limit) -> Limit:
    """One shared object per distinct limit."""
    shared = _LIMITS.get(limit)
    if shared is None:
        if len(_LIMITS) >= 4096:
            return limit
        shared = _LIMITS[limit] = limit
    return shared


_DAYS: dict[date, date] = {}


def _day(day: date) -> date:
    """One shared object per acceptance date (bounded like :func:`_limit`)."""
    shared = _DAYS.get(day)
    if shared is None:
        if len(_DAYS) >= 65536:
            return day
        shared = _DAYS[day] = day
    return shared


_DEADLINES: dict[Deadlines, Deadlines] = {}


def _deadlines(deadlines: Deadlines) -> Deadlines:
    """One shared object per distinct set of due dates: cases accepted on the same day with the
    same limits have the same ones (a Deadlines with its dates is ~280 bytes; a million open
    cases share some thousands). Bounded: past the bound a new one is kept unshared."""
    shared = _DEADLINES.get(deadlines)
    if shared is None:
        if len(_DEADLINES) >= 65536:
            return deadlines
        shared = _DEADLINES[deadlines] = deadlines
    return shared


def _code(text: str | None) -> str | None:
    """A department, item, window or staff code, interned: a million cases share a few thousand."""
    return None if text is None else sys.intern(text)
