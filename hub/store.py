"""The hub's store: verified records, their batches, the Merkle ledger, quarantine and link state.

Embedded default: one SQLite file (WAL) opened through sqlite-utils. Everything one batch changes —
records, the batch header, ledger nodes, the stream head — is written in one transaction, and the
hub acknowledges only after that transaction commits.

Ledger: record ``id`` - 1 is its leaf index. The leaf data binds a record hash to its place:
``agent \\n stream \\n seq \\n`` + the 32-byte record hash. Level-0 hashes live in ``records.leaf``;
perfect subtrees of level >= ``STORED_LEVEL`` in ``ledger_nodes``; the few levels below are
recomputed from at most ``2**(STORED_LEVEL-1)`` leaves when a proof needs them (a row per node
would double the rows written per record).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from hub.ingest import NewRecord, StreamHead
from shared.batch import BatchHeader
from shared.ledger import leaf_data
from shared.merkle import CompactRange, leaf_hash, root_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (
    agent_id TEXT NOT NULL, stream_id TEXT NOT NULL, head_seq INTEGER NOT NULL,
    head_hash BLOB NOT NULL, last_nonce INTEGER NOT NULL, first_seen TEXT NOT NULL,
    last_batch_at TEXT NOT NULL, PRIMARY KEY (agent_id, stream_id)
);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY, agent_id TEXT NOT NULL, stream_id TEXT NOT NULL,
    seq INTEGER NOT NULL, hash BLOB NOT NULL, leaf BLOB NOT NULL, type TEXT NOT NULL,
    ts TEXT NOT NULL, received_at TEXT NOT NULL, batch_id INTEGER NOT NULL, raw BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS records_stream_seq ON records(agent_id, stream_id, seq);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY, agent_id TEXT NOT NULL, stream_id TEXT NOT NULL,
    first INTEGER NOT NULL, last INTEGER NOT NULL, header BLOB NOT NULL, received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_nodes (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY, root BLOB NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, agent_id TEXT, topic TEXT,
    reason TEXT NOT NULL, detail TEXT NOT NULL, size INTEGER NOT NULL, payload BLOB
);
CREATE INDEX IF NOT EXISTS quarantine_reason ON quarantine(reason);
CREATE TABLE IF NOT EXISTS security_alerts (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, agent_id TEXT, kind TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_link (
    agent_id TEXT PRIMARY KEY, online INTEGER NOT NULL DEFAULT 0, status_at TEXT,
    last_heartbeat_at TEXT, rtt_ms INTEGER, reconnects INTEGER, outbox_depth INTEGER,
    oldest_unacked_s INTEGER, acked_seq INTEGER, cdc_lag_s INTEGER, source_health TEXT,
    degraded TEXT, health_json TEXT, config_version INTEGER, config_error TEXT
);
CREATE TABLE IF NOT EXISTS link_history (
    agent_id TEXT NOT NULL, at TEXT NOT NULL, online INTEGER, rtt_ms INTEGER, outbox_depth INTEGER
);
CREATE INDEX IF NOT EXISTS link_history_agent_at ON link_history(agent_id, at);
"""

#: agent_link columns newer than the first schema, added to older stores by ``Store._upgrade``:
#: the pushed configuration an agent reports applied, and why the newest one was not (hub.configpush).
AGENT_LINK_ADDED = (("config_version", "INTEGER"), ("config_error", "TEXT"))

QUARANTINE_PAYLOAD_LIMIT = 64 * 1024
STORED_LEVEL = 4


@dataclass
class Quarantined:
    received_at: str
    agent_id: str | None
    topic: str
    reason: str
    detail: str
    payload: bytes


class NodeStore:
    """Reads perfect-subtree hashes of the ledger (``shared.merkle.NodeReader``)."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def node(self, level: int, index: int) -> bytes:
        if 0 < level < STORED_LEVEL:
            width = 1 << level
            leaves = [bytes(r[0]) for r in self._conn.execute(
                "SELECT leaf FROM records WHERE id > ? AND id <= ? ORDER BY id",
                (index * width, (index + 1) * width),
            )]
            if len(leaves) != width:
                raise KeyError(f"ledger node ({level}, {index}) is not complete")
            return root_of(leaves)
        if level == 0:
            row = self._conn.execute("SELECT leaf FROM records WHERE id = ?", (index + 1,)).fetchone()
        else:
            row = self._conn.execute(
                "SELECT hash FROM ledger_nodes WHERE level = ? AND idx = ?", (level, index)
            ).fetchone()
        if row is None:
            raise KeyError(f"ledger node ({level}, {index}) is not stored")
        return bytes(row[0])


class Store:
    """SQLite store. One writer (the ingest thread); readers open their own connections."""

    def __init__(self, path: str | Path, synchronous: str = "FULL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db = sqlite_utils.Database(self._conn)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.executescript(SCHEMA)
        self._upgrade()
        self._lock = threading.RLock()
        self._heads: dict[tuple[str, str], StreamHead] = {}
        self._load_heads()
        size = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM records").fetchone()[0]
        self.nodes = NodeStore(self._conn)
        self.frontier = CompactRange.from_reader(int(size), self.nodes)
        self._in_tx = False

    def _upgrade(self) -> None:
        """Columns added since a store was created (SQLite adds a column in place)."""
        have = {row[1] for row in self._conn.execute("PRAGMA table_info(agent_link)")}
        for column, decl in AGENT_LINK_ADDED:
            if column not in have:
                self._conn.execute(f"ALTER TABLE agent_link ADD COLUMN {column} {decl}")

    def _load_heads(self) -> None:
        self._heads = {
            (a, s): StreamHead(int(seq), bytes(h), int(n))
            for a, s, seq, h, n in self._conn.execute(
                "SELECT agent_id, stream_id, head_seq, head_hash, last_nonce FROM streams"
            )
        }

    # -- lookups used by the ingest decision ----------------------------------------------------

    def head(self, agent_id: str, stream_id: str) -> StreamHead | None:
        return self._heads.get((agent_id, stream_id))

    def stored_hashes(self, agent_id: str, stream_id: str, first: int, last: int) -> dict[int, bytes]:
        rows = self._conn.execute(
            "SELECT seq, hash FROM records WHERE agent_id = ? AND stream_id = ? AND seq BETWEEN ? AND ?",
            (agent_id, stream_id, first, last),
        )
        return {int(seq): bytes(h) for seq, h in rows}

    # -- writing --------------------------------------------------------------------------------

    def transaction(self) -> "_Tx":
        return _Tx(self)

    @contextmanager
    def savepoint(self) -> Iterator["Store"]:
        """A nested unit inside :meth:`transaction`: if the block raises, what it wrote (rows,
        ledger frontier, stream heads) is undone and the rest of the transaction stands."""
        assert self._in_tx, "savepoint must run inside a transaction"
        size, frontier, heads = self.frontier.size, self.frontier.to_hashes(), dict(self._heads)
        self._conn.execute("SAVEPOINT one_batch")
        try:
            yield self
        except BaseException:
            self._conn.execute("ROLLBACK TO one_batch")
            self._conn.execute("RELEASE one_batch")
            self.frontier = CompactRange.from_hashes(size, frontier)
            self._heads = heads
            raise
        self._conn.execute("RELEASE one_batch")

    def add_batch(self, header: BatchHeader, records: list[NewRecord], received_at: str) -> None:
        """Store a verified batch's new records (inside :meth:`transaction`)."""
        assert self._in_tx, "add_batch must run inside a transaction"
        cur = self._conn.execute(
            "INSERT INTO batches(agent_id, stream_id, first, last, header, received_at) VALUES (?,?,?,?,?,?)",
            (header.agent, header.stream, header.first, header.last, header.to_bytes(), received_at),
        )
        batch_id = cur.lastrowid
        first_id = self.frontier.size + 1
        rows = []
        nodes: list[tuple[int, int, bytes]] = []
        for i, r in enumerate(records):
            leaf = leaf_hash(leaf_data(header.agent, header.stream, r.seq, r.hash))
            nodes.extend(n for n in self.frontier.append(leaf) if n[0] >= STORED_LEVEL)
            rows.append((first_id + i, header.agent, header.stream, r.seq, r.hash, leaf, r.type, r.ts,
                         received_at, batch_id, r.data))
        self._conn.executemany(
            "INSERT INTO records(id, agent_id, stream_id, seq, hash, leaf, type, ts, received_at, batch_id, raw) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        if nodes:
            self._conn.executemany("INSERT INTO ledger_nodes(level, idx, hash) VALUES (?,?,?)", nodes)
        key = (header.agent, header.stream)
        old = self._heads.get(key)
        head = StreamHead(records[-1].seq, records[-1].hash, max(header.nonce, old.last_nonce if old else 0))
        self._conn.execute(
            "INSERT INTO streams(agent_id, stream_id, head_seq, head_hash, last_nonce, first_seen, last_batch_at) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT(agent_id, stream_id) DO UPDATE SET "
            "head_seq = excluded.head_seq, head_hash = excluded.head_hash, "
            "last_nonce = excluded.last_nonce, last_batch_at = excluded.last_batch_at",
            (header.agent, header.stream, head.head_seq, head.head_hash, head.last_nonce,
             received_at, received_at),
        )
        self._heads[key] = head

    def quarantine(self, item: Quarantined) -> None:
        payload = item.payload[:QUARANTINE_PAYLOAD_LIMIT]
        self._conn.execute(
            "INSERT INTO quarantine(received_at, agent_id, topic, reason, detail, size, payload) "
            "VALUES (?,?,?,?,?,?,?)",
            (item.received_at, item.agent_id, item.topic[:300], item.reason, item.detail[:2000],
             len(item.payload), payload),
        )

    def security_alert(self, at: str, agent_id: str | None, kind: str, detail: str) -> None:
        self._conn.execute(
            "INSERT INTO security_alerts(at, agent_id, kind, detail) VALUES (?,?,?,?)",
            (at, agent_id, kind, detail[:2000]),
        )

    def update_link(self, agent_id: str, fields: dict[str, Any], history: bool = False) -> None:
        """Upsert the agent's link row; optionally append a history point."""
        cols = sorted(fields)
        self._conn.execute(
            f"INSERT INTO agent_link(agent_id, {', '.join(cols)}) VALUES (?{', ?' * len(cols)}) "
            f"ON CONFLICT(agent_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in cols)}",
            (agent_id, *[fields[c] for c in cols]),
        )
        if history:
            row = self._conn.execute(
                "SELECT online, rtt_ms, outbox_depth, COALESCE(last_heartbeat_at, status_at) "
                "FROM agent_link WHERE agent_id = ?", (agent_id,)
            ).fetchone()
            self._conn.execute(
                "INSERT INTO link_history(agent_id, at, online, rtt_ms, outbox_depth) VALUES (?,?,?,?,?)",
                (agent_id, row[3], row[0], row[1], row[2]),
            )

    def add_checkpoint(self, size: int, root: bytes, body: str, created_at: str) -> None:
        self._conn.execute(
            "INSERT OR IGNORE INTO checkpoints(size, root, body, created_at) VALUES (?,?,?,?)",
            (size, root, body, created_at),
        )

    # -- reading --------------------------------------------------------------------------------

    def count(self, table: str) -> int:
        if table not in {"records", "quarantine", "batches", "streams", "checkpoints", "security_alerts"}:
            raise ValueError(table)
        return int(self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def latest_checkpoint(self) -> tuple[int, bytes, str] | None:
        row = self._conn.execute(
            "SELECT size, root, body FROM checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]), str(row[2]))

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        yield from self._conn.execute(sql, params)

    def close(self) -> None:
        self._conn.close()


class _Tx:
    def __init__(self, store: Store):
        self.store = store

    def __enter__(self) -> Store:
        s = self.store
        s._lock.acquire()
        s._conn.execute("BEGIN IMMEDIATE")
        s._in_tx = True
        self._frontier = s.frontier.to_hashes()
        self._size = s.frontier.size
        self._heads = dict(s._heads)
        return s

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        s = self.store
        try:
            if exc_type is None:
                s._conn.execute("COMMIT")
            else:
                s._conn.execute("ROLLBACK")
                s.frontier = CompactRange.from_hashes(self._size, self._frontier)
                s._heads = self._heads
        finally:
            s._in_tx = False
            s._lock.release()
