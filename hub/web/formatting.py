"""How times and durations are shown: local time of the hub, short durations in the UI language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

Translate = Callable[..., str]


def parse_time(text: str | None) -> datetime | None:
    """An aware datetime from stored ISO-8601 text (naive text is taken as UTC); None if unparsable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def local_time(text: str | None, tz: ZoneInfo) -> str:
    """``2026-11-26 15:04:05`` in the hub's time zone; the text unchanged if it is not a time."""
    moment = parse_time(text)
    if moment is None:
        return text or ""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def age_seconds(text: str | None, now: datetime) -> int | None:
    """Seconds from the stored time ``text`` to ``now`` (None if absent)."""
    moment = parse_time(text)
    return None if moment is None else max(0, int((now - moment).total_seconds()))


def duration(seconds: int | float | None, t: Translate) -> str:
    """The two largest units of a duration (``1天3小时`` / ``1d 3h``); empty for None."""
    if seconds is None:
        return ""
    left = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in (("time.d", 86400), ("time.h", 3600), ("time.m", 60)):
        if left >= size:
            parts.append(t(unit, n=left // size))
            left %= size
        if len(parts) == 2:
            break
    if len(parts) < 2 and (left or not parts):
        parts.append(t("time.s", n=left))
    sep = "" if t("time.s", n=1).endswith("秒") else " "
    return sep.join(parts[:2])
