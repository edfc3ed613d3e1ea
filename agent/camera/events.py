"""Bodies of the camera records (DOMAIN.md §2) — pure, integers and strings only.

    presence.absent / presence.present
        {"window_id", "camera_id", "at", "confidence", "snapshot_ref"}
    queue.long
        {"hall_id", "camera_id", "at", "people", "snapshot_ref"}

``at`` is when the state began (for ``presence.absent``: the last moment anyone was seen; for
``presence.present``: the start of the evidence that decided it; for ``queue.long``: the moment the
queue was judged long), ISO-8601 with the +08:00 offset; the record's ``ts`` is when the agent
decided. ``confidence`` is an integer percent: present 95 (a face was detected), 70 (the desk
differs from its learned empty picture), 60 (sustained motion only); absent 90 (the desk matches its
empty picture), 70 (no empty picture learned yet), 60 (something on the desk, nothing moved for
``still_hold``). No floats: the records are signed (RFC 8785).

The first decision after the agent starts is reported too (a window may thus get
``presence.present`` without an ``absent`` before it): it tells the hub the state after a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8))

PRESENCE_ABSENT = "presence.absent"
PRESENCE_PRESENT = "presence.present"
QUEUE_LONG = "queue.long"

Body = dict[str, str | int]


# Where camera records go (the agent's outbox): ``emit(type, body, ts)``.
Emit = Callable[[str, Body, str], None]


Clock = Callable[[], float]


def iso(epoch: float) -> str:
    """Epoch seconds as ISO-8601 local time with offset, millisecond precision."""
    return datetime.fromtimestamp(epoch, SHANGHAI).isoformat(timespec="milliseconds")


def presence_body(
    *, window_id: str, camera_id: str, at: float, confidence: int, snapshot_ref: str
) -> Body:
    """The body of a ``presence.absent`` / ``presence.present`` record."""
    if not 0 <= confidence <= 100:
        raise ValueError(f"confidence {confidence} is not a percent")
    return {
        "window_id": window_id,
        "camera_id": camera_id,
        "at": iso(at),
        "confidence": int(confidence),
        "snapshot_ref": snapshot_ref,
    }


def queue_body(*, hall_id: str, camera_id: str, at: float, people: int, snapshot_ref: str) -> Body:
    """The body of a ``queue.long`` record."""
    return {
        "hall_id": hall_id,
        "camera_id": camera_id,
        "at": iso(at),
        "people": int(people),
        "snapshot_ref": snapshot_ref,
    }
