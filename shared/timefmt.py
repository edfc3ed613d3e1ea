"""Local time for signed data: ISO-8601 with an offset, zone Asia/Shanghai (+08:00)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def iso_local(epoch: float) -> str:
    """``epoch`` seconds as ``YYYY-MM-DDTHH:MM:SS.mmm+08:00``."""
    return datetime.fromtimestamp(epoch, SHANGHAI).isoformat(timespec="milliseconds")


def parse_iso(value: str) -> datetime:
    """Parse an ISO-8601 time that carries an offset (naive times raise ValueError)."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return moment
