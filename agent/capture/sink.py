"""Appending mapped events to the outbox exactly once, in the capture's transaction.

Each event carries a ``key`` (source, row key, rule): the sink remembers, as an outbox cursor in the
same transaction, a digest of the last body it appended under that key. Re-reading an unchanged
row (watermark overlap, a replay after a crash, an update that does not change what a rule
produces) therefore appends nothing; a row whose meaning changed appends the new version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Protocol

from agent.mapping.engine import Event
from shared.canonical import canonical


class Tx(Protocol):
    """The part of ``agent.outbox.Transaction`` capture uses."""

    def append(self, type_: str, ts: str, body: dict[str, Any]) -> int: ...

    def set_cursor(self, name: str, value: str) -> None: ...

    def get_cursor(self, name: str) -> str | None: ...


def digest(event: Event) -> str:
    """What identifies an event's content (its type and body; not its ts)."""
    return hashlib.sha256(canonical({"type": event.type, "body": event.body})).hexdigest()[:32]


class EventSink:
    """De-duplicating writer of one capture (``name`` keeps captures apart)."""

    def __init__(self, name: str):
        self.name = name
        self.appended = 0
        self.suppressed = 0
        self.errors = 0

    def emit(self, tx: Tx, events: Iterable[Event]) -> int:
        """Append the events not already appended with the same content; returns how many."""
        count = 0
        for event in events:
            cursor = f"ev:{self.name}:{event.key}"
            value = digest(event)
            if tx.get_cursor(cursor) == value:
                self.suppressed += 1
                continue
            tx.append(event.type, event.ts, event.body)
            tx.set_cursor(cursor, value)
            count += 1
            if event.is_error:
                self.errors += 1
        self.appended += count
        return count
