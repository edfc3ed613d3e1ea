"""The agent's durable outbox: a SQLite (WAL) file of signed-chain records awaiting the hub's ack.

One outbox file is one *stream*: it gets a fresh stream id when created, numbers its records
1, 2, 3 … and links each to the previous by hash. Records leave the outbox only when the hub has
acknowledged them (:meth:`Outbox.ack`), never because they were merely sent; the hashes of the
newest ``keep_acked`` acknowledged ones stay (table ``acked_hashes``) so that the agent can audit the
hub's ledger later (``xiaoneng-agent audit``, docs/ledger.md).

Capture adapters append inside :meth:`Outbox.transaction`, where they also move their capture
position (``set_cursor``): both commit together or not at all, so a crash never loses or doubles a
change. The outbox has a bound (records and bytes); appending beyond it raises
:class:`~shared.errors.OutboxFullError` — the caller keeps the change and retries — and an alarm is
raised before that, at ``alarm_ratio`` of the bound.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.errors import ConfigError, OutboxFullError
from shared.record import ChainBuilder, Chained

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    data BLOB NOT NULL,
    hash BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acked_hashes (seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, acked_at REAL NOT NULL);
"""


@dataclass(frozen=True)
class OutboxLimits:
    """The outbox's bound. ``alarm_ratio`` of either limit raises the alarm."""

    max_records: int = 5_000_000
    max_bytes: int = 2 * 1024**3
    alarm_ratio: float = 0.8
    #: Hashes of acknowledged records kept (newest) for ``xiaoneng-agent audit`` (~40 bytes each).
    keep_acked: int = 1_000_000


@dataclass(frozen=True)
class OutboxStats:
    depth: int
    bytes: int
    head_seq: int
    acked_seq: int
    oldest_created: float | None
    alarm: bool
    full: bool


def new_stream_id(now: datetime | None = None) -> str:
    """A stream id that is never reused: creation time plus 48 random bits."""
    moment = now or datetime.now(UTC)
    return f"s{moment.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(6)}"


class Transaction:
    """Appends and cursor moves that commit together (see :meth:`Outbox.transaction`)."""

    def __init__(self, outbox: "Outbox", conn: sqlite3.Connection):
        self._outbox = outbox
        self._conn = conn
        self._rows: list[tuple[int, bytes, bytes, float]] = []
        self._bytes = 0

    def append(self, type_: str, ts: str, body: dict[str, Any]) -> int:
        """Chain a record and stage it; returns its seq. Raises OutboxFullError at the bound."""
        ob = self._outbox
        if ob._depth + len(self._rows) + 1 > ob.limits.max_records or (
            ob._bytes + self._bytes > ob.limits.max_bytes
        ):
            ob._full_refusals += 1
            raise OutboxFullError(
                f"outbox {ob.path} is full ({ob._depth + len(self._rows)} records, "
                f"{ob._bytes + self._bytes} bytes; bound {ob.limits.max_records} records / "
                f"{ob.limits.max_bytes} bytes): the hub has not acknowledged for a long time — "
                "check the link to the hub; the record was not accepted, retry later"
            )
        chained = ob._chain.append(type_, ts, body)
        self._rows.append((chained.seq, chained.data, chained.hash, ob._clock()))
        self._bytes += len(chained.data)
        return chained.seq

    def set_cursor(self, name: str, value: str) -> None:
        self._conn.execute(
            "INSERT INTO cursors(name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def get_cursor(self, name: str) -> str | None:
        row = self._conn.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _flush(self) -> None:
        if self._rows:
            self._conn.executemany(
                "INSERT INTO outbox(seq, data, hash, created) VALUES (?, ?, ?, ?)", self._rows
            )
            ob = self._outbox
            self._conn.executemany(
                "UPDATE meta SET value = ? WHERE key = ?",
                [(str(ob._chain.seq), "head_seq"), (ob._chain.head.hex(), "head_hash")],
            )


class Outbox:
    """A durable, bounded, hash-chained outbox. Thread-safe; one process owns the file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        agent_id: str,
        limits: OutboxLimits | None = None,
        clock: Callable[[], float] = time.time,
        synchronous: str = "FULL",
    ):
        self.path = Path(path)
        self.agent_id = agent_id
        self.limits = limits or OutboxLimits()
        self._clock = clock
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        self._full_refusals = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.executescript(_SCHEMA)
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            meta = {
                "agent_id": agent_id,
                "stream_id": new_stream_id(),
                "head_seq": "0",
                "head_hash": "",
                "acked_seq": "0",
                "nonce": "0",
            }
            with self._tx():
                self._conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
        elif meta.get("agent_id") != agent_id:
            raise ConfigError(
                f"outbox {self.path} belongs to agent {meta.get('agent_id')!r}, not {agent_id!r}: "
                "point this agent at its own data directory"
            )
        self.stream_id = meta["stream_id"]
        head = bytes.fromhex(meta["head_hash"]) if meta["head_hash"] else None
        self._chain = ChainBuilder(agent_id, self.stream_id, int(meta["head_seq"]), head)
        self._acked = int(meta["acked_seq"])
        self._nonce = int(meta["nonce"])
        depth, size = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM outbox"
        ).fetchone()
        self._depth, self._bytes = int(depth), int(size)

    # -- writing -------------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Stage appends and cursor moves; all commit at the end of the block, or none do."""
        with self._lock:
            seq, head = self._chain.seq, self._chain.head
            tx = Transaction(self, self._conn)
            try:
                with self._tx():
                    yield tx
                    tx._flush()
            except BaseException:
                self._chain.seq, self._chain.head = seq, head
                raise
            self._depth += len(tx._rows)
            self._bytes += tx._bytes
        if tx._rows:
            for listener in list(self._listeners):
                listener()

    def append(self, type_: str, ts: str, body: dict[str, Any]) -> int:
        """Append one record in its own transaction; returns its seq."""
        with self.transaction() as tx:
            return tx.append(type_, ts, body)

    def on_append(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from the appending thread) after each commit that added records."""
        self._listeners.append(listener)

    # -- the uplink's side ----------------------------------------------------------------------

    def read(self, after_seq: int, limit: int, max_bytes: int = 1 << 62) -> list[Chained]:
        """Up to ``limit`` records with seq > ``after_seq`` in order, stopping near ``max_bytes``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, data, hash FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        out: list[Chained] = []
        size = 0
        for seq, data, digest in rows:
            if out and size + len(data) > max_bytes:
                break
            out.append(Chained(seq, data, digest))
            size += len(data)
        return out

    def ack(self, upto_seq: int) -> int:
        """The hub stored everything up to ``upto_seq``: delete it. Returns records removed."""
        with self._lock:
            if upto_seq <= self._acked:
                return 0
            upto = min(upto_seq, self._chain.seq)
            with self._tx():
                removed_bytes = self._conn.execute(
                    "SELECT COALESCE(SUM(LENGTH(data)), 0) FROM outbox WHERE seq <= ?", (upto,)
                ).fetchone()[0]
                self._conn.execute(
                    "INSERT OR IGNORE INTO acked_hashes(seq, hash, acked_at) "
                    "SELECT seq, hash, ? FROM outbox WHERE seq <= ?",
                    (self._clock(), upto),
                )
                self._conn.execute(
                    "DELETE FROM acked_hashes WHERE seq <= ?", (upto - self.limits.keep_acked,)
                )
                cur = self._conn.execute("DELETE FROM outbox WHERE seq <= ?", (upto,))
                self._conn.execute(
                    "UPDATE meta SET value = ? WHERE key = 'acked_seq'", (str(upto),)
                )
            self._acked = upto
            self._depth -= cur.rowcount
            self._bytes -= int(removed_bytes)
            return cur.rowcount

    def next_nonce(self) -> int:
        """A fresh, persisted send counter for the next batch (never reused, even after a crash)."""
        with self._lock:
            self._nonce += 1
            self._conn.execute("UPDATE meta SET value = ? WHERE key = 'nonce'", (str(self._nonce),))
            return self._nonce

    # -- state --------------------------------------------------------------------------------

    @property
    def head_seq(self) -> int:
        return self._chain.seq

    @property
    def acked_seq(self) -> int:
        return self._acked

    @property
    def full_refusals(self) -> int:
        """How many appends were refused because the outbox was full (since start)."""
        return self._full_refusals

    def stats(self) -> OutboxStats:
        with self._lock:
            row = self._conn.execute(
                "SELECT created FROM outbox ORDER BY seq LIMIT 1"
            ).fetchone()
            lim = self.limits
            alarm = (
                self._depth >= lim.max_records * lim.alarm_ratio
                or self._bytes >= lim.max_bytes * lim.alarm_ratio
            )
            full = self._depth >= lim.max_records or self._bytes >= lim.max_bytes
            return OutboxStats(
                depth=self._depth, bytes=self._bytes, head_seq=self._chain.seq,
                acked_seq=self._acked, oldest_created=None if row is None else float(row[0]),
                alarm=alarm, full=full,
            )

    def cursor(self, name: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
            return None if row is None else str(row[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
