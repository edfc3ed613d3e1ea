"""Working days and office hours for the simulated halls.

Uses the official holiday arrangement from ``chinesecalendar`` where it has data and falls back to
Monday–Friday for years it does not cover (DOMAIN.md §3), so the simulator never crashes on a new
year. Counting follows DOMAIN.md §3: it starts the day after the start date and skips paused dates.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from functools import lru_cache

try:
    import chinese_calendar as _cc
except ImportError:  # pragma: no cover - it is a declared dependency
    _cc = None

#: Office hours of a hall: morning and afternoon sessions.
SESSIONS = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))
OFFICE_MINUTES_PER_DAY = 420


@lru_cache(maxsize=4096)
def is_workday(day: date) -> bool:
    """True on working days (调休 Saturdays included, statutory holidays excluded)."""
    if _cc is not None:
        try:
            return bool(_cc.is_workday(day))
        except NotImplementedError:
            pass
    return day.weekday() < 5


def next_workday(day: date) -> date:
    """The first working day strictly after ``day``."""
    day += timedelta(days=1)
    while not is_workday(day):
        day += timedelta(days=1)
    return day


def workday_on_or_after(day: date) -> date:
    """``day`` if it is a working day, else the next one."""
    return day if is_workday(day) else next_workday(day)


def workday_on_or_before(day: date) -> date:
    """``day`` if it is a working day, else the previous one."""
    while not is_workday(day):
        day -= timedelta(days=1)
    return day


def counted_date(start: date, n: int, unit: str, paused: Collection[date] = ()) -> date:
    """The date of the ``n``-th counted date after ``start`` (``n`` = 0: ``start`` itself)."""
    day = start
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if day in paused:
            continue
        if unit == "Z" or is_workday(day):
            counted += 1
    return day


def dates_between(first: date, last: date) -> set[date]:
    """Every date from ``first`` to ``last``, both included."""
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


def in_office(moment: datetime) -> bool:
    """True when ``moment`` (local) falls in a session of a working day."""
    if not is_workday(moment.date()):
        return False
    t = moment.time()
    return any(start <= t < end for start, end in SESSIONS)


def add_office_minutes(moment: datetime, minutes: float) -> datetime:
    """``moment`` moved forward by ``minutes`` of office time (nights, weekends, holidays skipped)."""
    remaining = timedelta(minutes=minutes)
    current = moment
    for _ in range(10_000):
        day = current.date()
        if is_workday(day):
            for start, end in SESSIONS:
                s = datetime.combine(day, start, current.tzinfo)
                e = datetime.combine(day, end, current.tzinfo)
                if current >= e:
                    continue
                current = max(current, s)
                if current + remaining <= e:
                    return current + remaining
                remaining -= e - current
                current = e
        current = datetime.combine(day + timedelta(days=1), time(0, 0), current.tzinfo)
    raise ValueError("no office time found within 10,000 days")


def office_minutes_between(first: datetime, last: datetime) -> float:
    """Minutes of office time between two moments (0 if ``last`` is not after ``first``)."""
    total = 0.0
    day = first.date()
    while day <= last.date():
        if is_workday(day):
            for start, end in SESSIONS:
                s = max(first, datetime.combine(day, start, first.tzinfo))
                e = min(last, datetime.combine(day, end, first.tzinfo))
                if e > s:
                    total += (e - s).total_seconds() / 60
        day += timedelta(days=1)
    return total
