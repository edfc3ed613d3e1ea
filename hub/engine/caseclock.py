"""A case's clock as a state object fed by the case's events (DOMAIN.md §3).

:class:`CaseClock` remembers what moves the clock — the start date, pauses (补正 and kind-2 special
procedures / suspensions), extensions (kind-1 special procedures) and completion — and answers the
questions rules ask: the promised and the statutory due date, remaining days, the reminder date, the
outcome. Answers are computed by :mod:`hub.engine.clock`; :attr:`CaseClock.revision` changes with
every event that moves a due date (not with the completion) so holders of cached due dates know when
to recompute.

补正 handling is configurable (:class:`SupplementMode`): ``PAUSE`` stops the clock from the notice to
the receipt (both dates included); ``RESTART`` stops it too but, on receipt, counting starts again
from zero the day after the receipt date.
"""

from __future__ import annotations

import enum
from datetime import date

from hub.engine.calendar import WorkCalendar
from hub.engine.clock import (
    Completion,
    Due,
    Limit,
    Pause,
    completion,
    counted_days,
    due_date,
    reminder_date,
)


class SupplementMode(enum.StrEnum):
    """What a 补正 after acceptance does to the clock."""

    PAUSE = "pause"
    RESTART = "restart"


class CaseClock:
    """The clock state of one case. Mutating methods return False when an event was ignored
    (e.g. a resumption with no open suspension), so the caller can note an anomaly."""

    __slots__ = (
        "accepted",
        "closed_pauses",
        "completed",
        "extension",
        "extensions",
        "mode",
        "promised",
        "revision",
        "start",
        "statutory",
        "supplement_since",
        "suspended_since",
    )

    def __init__(
        self,
        accepted: date,
        promised: Limit,
        statutory: Limit | None = None,
        mode: SupplementMode = SupplementMode.PAUSE,
    ) -> None:
        self.accepted = accepted
        self.promised = promised
        self.statutory = statutory
        self.mode = mode
        self.start = accepted
        self.extension = 0
        # (granted on, days) of each extension; a shared empty tuple keeps a million clocks small
        self.extensions: tuple[tuple[date, int], ...] = ()
        self.closed_pauses: tuple[Pause, ...] = ()  # the shared empty tuple for most clocks
        self.supplement_since: date | None = None
        self.suspended_since: date | None = None
        self.completed: date | None = None
        self.revision = 0

    # -- events --------------------------------------------------------------------------------

    def supplement_requested(self, on: date) -> bool:
        """补正告知: the clock stops from ``on``."""
        if self.supplement_since is not None:
            return False
        self.supplement_since = on
        self.revision += 1
        return True

    def supplement_received(self, on: date) -> bool:
        """补交受理: the pause ends on ``on`` (pause mode) or the count restarts from ``on``."""
        since = self.supplement_since
        if since is None:
            return False
        self.supplement_since = None
        if self.mode is SupplementMode.RESTART:
            self.start = max(self.start, on)
        else:
            self.closed_pauses += (Pause(since, max(since, on)),)
        self.revision += 1
        return True

    def suspended(self, on: date, kind: int, extension_days: int = 0) -> bool:
        """特别程序开始: kind 1 extends the limit by ``extension_days``; kind 2 stops the clock."""
        if kind == 1:
            self.extension += extension_days
            self.extensions += ((on, extension_days),)
        elif self.suspended_since is None:
            self.suspended_since = on
        else:
            return False
        self.revision += 1
        return True

    def resumed(self, on: date) -> bool:
        """特别程序结束: an open kind-2 pause ends on ``on`` (a kind-1 end changes nothing)."""
        since = self.suspended_since
        if since is None:
            return False
        self.suspended_since = None
        self.closed_pauses += (Pause(since, max(since, on)),)
        self.revision += 1
        return True

    def complete(self, on: date) -> None:
        """办结 on ``on``. The due dates do not depend on the completion, so the revision (which
        invalidates the case's cached deadlines) stays: a completion costs no recomputation."""
        self.completed = on

    # -- questions -----------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """True while a 补正 or a kind-2 special procedure is open (暂停计时)."""
        return self.supplement_since is not None or self.suspended_since is not None

    def pauses(self) -> tuple[Pause, ...]:
        """Closed and open pauses."""
        if not self.closed_pauses and self.supplement_since is None and self.suspended_since is None:
            return ()  # most cases never pause
        out = list(self.closed_pauses)
        if self.supplement_since is not None:
            out.append(Pause(self.supplement_since, None))
        if self.suspended_since is not None:
            out.append(Pause(self.suspended_since, None))
        return tuple(out)

    def extension_before(self, day: date | None) -> int:
        """Extension days granted before ``day`` (all of them for None)."""
        if day is None:
            return self.extension
        return sum(days for on, days in self.extensions if on < day)

    def due(self, calendar: WorkCalendar, granted_before: date | None = None) -> Due:
        """The promised due date (承诺时限); with ``granted_before``, counting only extensions
        granted before that date (what a card decided on that date could have known)."""
        n, unit = self.promised
        return due_date(calendar, self.start, n, unit, self.pauses(), self.extension_before(granted_before))

    def statutory_due(self, calendar: WorkCalendar, granted_before: date | None = None) -> Due | None:
        """The statutory due date (法定时限), or None when the item has none."""
        if self.statutory is None:
            return None
        n, unit = self.statutory
        return due_date(calendar, self.start, n, unit, self.pauses(), self.extension_before(granted_before))

    def remaining(self, calendar: WorkCalendar, on: date) -> int:
        """Promised days remaining at any moment of date ``on``."""
        n, unit = self.promised
        used = counted_days(calendar, self.start, on - _DAY, unit, self.pauses())
        return n + self.extension - used

    def reminder(
        self, calendar: WorkCalendar, threshold: int, granted_before: date | None = None
    ) -> date | None:
        """The date from whose 00:00 at most ``threshold`` promised days remain."""
        n, unit = self.promised
        return reminder_date(
            calendar, self.start, n, threshold, unit, self.pauses(),
            self.extension_before(granted_before),
        )  # fmt: skip

    def completion(self, calendar: WorkCalendar) -> Completion | None:
        """The outcome against the promised limit, once completed."""
        if self.completed is None:
            return None
        n, unit = self.promised
        return completion(
            calendar, self.start, n, self.completed, unit, self.pauses(), self.extension
        )

    def statutory_completion(self, calendar: WorkCalendar) -> Completion | None:
        """The outcome against the statutory limit, once completed."""
        if self.completed is None or self.statutory is None:
            return None
        n, unit = self.statutory
        return completion(
            calendar, self.start, n, self.completed, unit, self.pauses(), self.extension
        )


_DAY = date(2000, 1, 2) - date(2000, 1, 1)
