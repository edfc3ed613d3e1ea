"""The desk's own record stream: records built, chained and signed like an agent's, stored through the
hub's ingest decision in-process.

One stream per desk (``desk-<first start>``), continued across restarts: its head is read from the
store (the ``streams`` table the ingest keeps) before every batch, so what the store committed is
the only truth and a failed batch leaves nothing to undo. A lock serialises submissions: two
browsers registering at once get consecutive sequence numbers, never two records with the same
``prev`` (a fork the ingest would quarantine as equivocation or a broken chain).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.desk import DESK_AGENT
from hub.ingest import Decision, StreamHead
from shared.batch import sign_batch
from shared.errors import XiaonengError
from shared.record import ChainBuilder, Chained
from shared.timefmt import SHANGHAI


class BatchSink(Protocol):
    """Where a signed batch goes: :meth:`hub.service.IngestService.ingest_local`."""

    def ingest_local(self, agent_id: str, payload: bytes) -> Decision: ...


class DeskRefused(XiaonengError):
    """The hub's ingest refused a desk batch (never expected: the desk signs what it chains)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One record to append: its type and body (its ``ts`` is the moment the desk stores it)."""

    type: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Stored:
    """A record the store committed: stream, sequence number and chain hash."""

    stream: str
    seq: int
    hash: str
    type: str


class DeskStream:
    """Appends records to the desk's stream ``stream_id`` through ``sink`` (see the module docstring).

    ``head_of(agent, stream)`` is the store's committed head of a stream (``hub.store.Store.head``);
    ``clock`` the hub's clock (a record's ``ts`` and its batch's ``sent_at``).
    """

    def __init__(
        self, key: Ed25519PrivateKey, sink: BatchSink, stream_id: str,
        head_of: Callable[[str, str], StreamHead | None], clock: Callable[[], datetime],
        agent_id: str = DESK_AGENT,
    ) -> None:  # fmt: skip
        self._key = key
        self._sink = sink
        self._head_of = head_of
        self._clock = clock
        self.agent_id = agent_id
        self.stream_id = stream_id
        self.lock = threading.RLock()

    def _head(self) -> StreamHead | None:
        return self._head_of(self.agent_id, self.stream_id)

    def append(self, entries: Sequence[Entry]) -> list[Stored]:
        """Chain, sign and store ``entries`` as one batch; returns them as stored. Raises
        :class:`DeskRefused` if the ingest did not store them, or what the store raised."""
        if not entries:
            return []
        with self.lock:
            head = self._head()
            builder = ChainBuilder(self.agent_id, self.stream_id, head.head_seq if head else 0,
                                   head.head_hash if head else None)  # fmt: skip
            now = self._clock().astimezone(SHANGHAI)
            ts = now.isoformat(timespec="microseconds")
            chained: list[Chained] = [builder.append(e.type, ts, e.body) for e in entries]
            nonce = (head.last_nonce if head else 0) + 1
            batch = sign_batch(self._key, self.agent_id, self.stream_id, chained, nonce, ts)
            decision = self._sink.ingest_local(self.agent_id, bytes(batch))
            if decision.kind != "store":
                raise DeskRefused(f"the hub's ingest did not store the desk's batch: {decision.kind} "
                                  f"{decision.reason} {decision.detail}".strip())
            return [Stored(self.stream_id, c.seq, c.hash.hex(), e.type) for c, e in zip(chained, entries, strict=True)]


def new_stream_id(now: datetime) -> str:
    """A fresh stream id for a desk that has none yet: ``desk-<local time>-<random>``."""
    return f"desk-{now.astimezone(SHANGHAI):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


def stored_stream(conn: sqlite3.Connection, agent_id: str = DESK_AGENT) -> str | None:
    """The desk's newest stream in the store (None before its first record)."""
    try:
        row = conn.execute("SELECT stream_id FROM streams WHERE agent_id = ? ORDER BY first_seen DESC LIMIT 1",
                           (agent_id,)).fetchone()  # fmt: skip
    except sqlite3.OperationalError:  # no streams table yet
        return None
    return None if row is None else str(row[0])
