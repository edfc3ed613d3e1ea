"""The clock type every auth component takes, and the timestamp format of the auth tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The real clock: an aware UTC datetime."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``moment`` as the ISO-8601 UTC text stored in the auth tables (sorts chronologically)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the auth tables store aware UTC times only")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str) -> datetime:
    """The aware datetime stored by :func:`iso`."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed
