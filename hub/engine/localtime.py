"""Local dates and moments (DOMAIN.md §3: all dates are local dates in Asia/Shanghai).

China has used UTC+08:00 without daylight saving since 1991, so a fixed offset is exact for every
date the product handles and needs no time-zone database.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

from shared.errors import RecordError

LOCAL_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
ONE_DAY = timedelta(days=1)


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar date of an aware moment."""
    if moment.tzinfo is None:
        raise ValueError(f"moment {moment.isoformat()} has no UTC offset")
    return moment.astimezone(LOCAL_TZ).date()


@lru_cache(maxsize=8192)
def start_of(day: date) -> datetime:
    """00:00 Asia/Shanghai on ``day`` (the moment a date-based deadline changes state)."""
    return datetime.combine(day, time(0), LOCAL_TZ)


def parse_moment(value: object, what: str) -> datetime:
    """Parse an ISO-8601 timestamp that carries an offset; :class:`RecordError` names ``what``."""
    if not isinstance(value, str):
        raise RecordError(f"{what} must be an ISO-8601 string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{what} {value[:40]!r} is not ISO-8601") from None
    if parsed.tzinfo is None:
        raise RecordError(f"{what} {value[:40]!r} has no UTC offset")
    return parsed


def parse_day(value: object, what: str) -> date:
    """Parse a ``YYYY-MM-DD`` date; raises :class:`ValueError` naming ``what``."""
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError(f"{what} must be a YYYY-MM-DD date, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a valid YYYY-MM-DD date") from None
