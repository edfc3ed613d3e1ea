"""Appending mapped events to the outbox exactly once, in the capture's transaction.

Each event carries a ``key`` (source, row key, rule): the sink remembers, as an outbox cursor in the
same transaction, a digest of the last body it appended under that key. Re-reading an unchanged
row (watermark overlap, a replay after a crash, an update that does not change what a rule
produces) therefore appends nothing; a row whose meaning changed appends the new version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any, Protocol

from agent.mapping.engine import Event
from shared.canonical import canonical


class Tx(Protocol):
    """The part of ``agent.outbox.Transaction`` capture uses."""

    def append(self, type_: str, ts: str, body: dict[str, Any]) -> int: ...

    def set_cursor(self, name: str, value: str) -> None: ...

    def get_cursor(self, name: str) -> str | None: ...


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest(event: Event) -> str:
    """What identifies an event's content (its type and body; not its ts): SHA-256 of a
    deterministic JSON text made by the C encoder (the outbox encodes the record canonically once
    more; a second canonical encoding per change cost a tenth of a catch-up's CPU). A body the
    encoder cannot take gets :func:`canonical_digest`, which names what is wrong with it."""
    try:
        text = _ENCODER.encode([event.type, event.body])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    except (TypeError, ValueError):  # UnicodeEncodeError (a lone surrogate) is a ValueError
        return canonical_digest(event)


def canonical_digest(event: Event) -> str:
    """The digest agents kept before :func:`digest` (from the RFC 8785 form): a cursor written by
    them still suppresses an unchanged row."""
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
            stored = tx.get_cursor(cursor)
            if stored is not None and (stored == value or stored == canonical_digest(event)):
                if stored != value:
                    tx.set_cursor(cursor, value)  # an older agent's digest: kept in today's form
                self.suppressed += 1
                continue
            tx.append(event.type, event.ts, event.body)
            tx.set_cursor(cursor, value)
            count += 1
            if event.is_error:
                self.errors += 1
        self.appended += count
        return count
