"""R10 离岗: a window that shows nobody for too long during office hours (DOMAIN.md §4).

Absences come from ``presence.absent`` / ``presence.present`` events. Only time inside office hours
on working days counts, and it is counted per day: an absence that began before closing time
starts again from zero at the next opening. When an absence reaches ``absence_minutes`` in a day,
a reminder is due; the ``absence_yellow_after``-th such absence of the same day is a yellow card.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from hub.engine.calendar import WorkCalendar
from hub.engine.config import EngineConfig, Level, OfficeHours, Thresholds
from hub.engine.localtime import LOCAL_TZ, ONE_DAY, local_date
from hub.engine.rules import Pending, decide
from hub.engine.wording import title

KEEP = timedelta(days=2)  # absences older than this are forgotten
HORIZON_DAYS = 14  # an open absence is followed this many days ahead


@dataclass(slots=True)
class Absence:
    """Nobody at the window from ``start`` to ``end`` (``None``: still absent)."""

    start: datetime
    evidence: str
    end: datetime | None = None
    end_evidence: str | None = None


class WindowState:
    """A window's recent absences."""

    __slots__ = ("absences", "dept_code", "window_id")

    def __init__(self, window_id: str, dept_code: str | None = None) -> None:
        self.window_id = window_id
        self.dept_code = dept_code
        self.absences: list[Absence] = []

    @property
    def open_absence(self) -> Absence | None:
        """The absence still going on, if any."""
        if self.absences and self.absences[-1].end is None:
            return self.absences[-1]
        return None

    def absent(self, at: datetime, evidence: str) -> bool:
        """Nobody seen from ``at``; False when an absence is already open (kept as it is)."""
        if self.open_absence is not None:
            return False
        self.absences = [a for a in self.absences if a.end is None or a.end >= at - KEEP]
        self.absences.append(Absence(at, evidence))
        return True

    def present(self, at: datetime, evidence: str) -> bool:
        """Someone seen again at ``at``; False when no absence was open."""
        current = self.open_absence
        if current is None:
            return False
        current.end, current.end_evidence = max(at, current.start), evidence
        return True


def threshold_moment(
    start: datetime,
    end: datetime | None,
    minutes: int,
    office_hours: OfficeHours,
    calendar: WorkCalendar,
) -> datetime | None:
    """When the absence ``start``–``end`` has lasted ``minutes`` of one day's office hours."""
    need = timedelta(minutes=minutes)
    first = local_date(start)
    for offset in range(HORIZON_DAYS):
        day: date = first + ONE_DAY * offset
        if end is not None and end < datetime.combine(day, office_hours[0][0], LOCAL_TZ):
            return None
        try:
            if not calendar.is_workday(day):
                continue
        except ValueError:
            return None
        used = timedelta(0)
        for begin, finish in office_hours:
            lo = max(start, datetime.combine(day, begin, LOCAL_TZ))
            hi = datetime.combine(day, finish, LOCAL_TZ)
            if end is not None:
                hi = min(hi, end)
            if hi <= lo:
                continue
            if used + (hi - lo) >= need:
                return lo + (need - used)
            used += hi - lo
    return None


def window_pending(
    window: WindowState, config: EngineConfig, calendar: WorkCalendar
) -> list[Pending]:
    """R10 moments of ``window``: one per absence that reaches (or will reach) the threshold."""
    if not config.rule("R10").enabled or not window.absences:
        return []
    th: Thresholds = config.for_case(None, window.dept_code)
    moments: list[tuple[datetime, Absence]] = []
    for absence in window.absences:
        moment = threshold_moment(
            absence.start, absence.end, th.absence_minutes, th.office_hours, calendar
        )
        if moment is not None:
            moments.append((moment, absence))
    moments.sort(key=lambda pair: pair[0])
    per_day: dict[date, int] = {}
    out: list[Pending] = []
    wid = window.window_id
    subject = f"window:{wid}"
    for moment, absence in moments:
        day = local_date(moment)
        per_day[day] = per_day.get(day, 0) + 1
        nth = per_day[day]
        level = Level.YELLOW if nth >= th.absence_yellow_after else None
        key = f"R10|{subject}|{absence.start.isoformat()}"
        evidence = tuple(e for e in (absence.evidence, absence.end_evidence) if e)
        details = {"absent_since": absence.start.isoformat(), "nth_of_day": nth,
                   "minutes": th.absence_minutes}  # fmt: skip
        message = title("R10", details, moment, subject)

        make = partial(
            decide, config, "R10", key, subject, moment, message, evidence=evidence,
            level=level, window_id=wid, dept_code=window.dept_code, details=details,
        )  # fmt: skip
        out.append(Pending(moment, key, make))
    return out
