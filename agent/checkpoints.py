"""The hub's signed checkpoints as this agent keeps them (a witness of the hub's ledger, §4.3).

Kept in the outbox's SQLite file (table ``hub_checkpoints``) beside ``acked_hashes`` (the hashes of
the agent's acknowledged records, written by :meth:`agent.outbox.Outbox.ack`):

- ``latest``: the newest checkpoint received on ``xn/v1/hub/checkpoint`` whose signature verifies
  with the configured ``hub_public_key`` — being newer than the agent's acknowledgements, it covers
  the acknowledged records (once its size has passed them).
- ``anchor``: the newest checkpoint an audit proved consistent (the first one received, before any
  audit).

A received checkpoint smaller than ``latest``, or of the same size with another root, is never
kept: it is itself evidence that the hub's log was rolled back or forked, and :meth:`offer` says so
(the uplink raises a security alert). ``xiaoneng-agent audit`` proves both kept checkpoints
consistent with the hub's current one.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared import topics
from shared.checkpoint import Checkpoint, verify_checkpoint
from shared.errors import ProofError, RecordError
from shared.timefmt import iso_local

log = logging.getLogger("xiaoneng.agent.witness")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hub_checkpoints (role TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acked_hashes (seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, acked_at REAL NOT NULL);
"""
MAX_CHECKPOINT_BYTES = 4096


def hub_key(hex_key: str) -> Ed25519PublicKey:
    """The hub's public key from ``agent.yaml``'s ``hub_public_key`` (64 hex digits)."""
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(hex_key))


class HubWitness:
    """The checkpoints this agent keeps; own connection to the outbox file (thread-confined use)."""

    def __init__(self, path: Path, hub_key: Ed25519PublicKey):
        self.path = Path(path)
        self.hub_key = hub_key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def get(self, role: str) -> Checkpoint | None:
        row = self._conn.execute("SELECT body FROM hub_checkpoints WHERE role = ?", (role,)).fetchone()
        return None if row is None else Checkpoint.from_json(json.loads(row[0]))

    def kept(self) -> list[Checkpoint]:
        """The kept checkpoints (anchor first), without repeats."""
        out: list[Checkpoint] = []
        for role in ("anchor", "latest"):
            cp = self.get(role)
            if cp is not None and cp not in out:
                out.append(cp)
        return out

    def _put(self, role: str, cp: Checkpoint) -> None:
        self._conn.execute(
            "INSERT INTO hub_checkpoints(role, body) VALUES (?, ?) "
            "ON CONFLICT(role) DO UPDATE SET body = excluded.body",
            (role, json.dumps(cp.to_json(), sort_keys=True)),
        )

    def offer(self, payload: bytes) -> str | None:
        """A checkpoint as published by the hub: keep it if it is valid and newer.

        Returns an alert text when the checkpoint shows a rollback or a fork (signed by the hub,
        but smaller than, or conflicting with, one it published before); None otherwise."""
        if len(payload) > MAX_CHECKPOINT_BYTES:
            log.warning("oversized checkpoint message ignored", extra={"size": len(payload)})
            return None
        try:
            cp = Checkpoint.from_json(json.loads(payload))
            verify_checkpoint(cp, self.hub_key)
        except (RecordError, ProofError, ValueError, RecursionError) as exc:
            log.warning("checkpoint ignored: it does not verify with hub_public_key", extra={"error": str(exc)})
            return None
        latest = self.get("latest")
        if latest is not None:
            if cp.size < latest.size:
                return (f"the hub published a checkpoint of {cp.size} leaves ({cp.timestamp}) after one of "
                        f"{latest.size} ({latest.timestamp}): its ledger was rolled back or truncated")
            if cp.size == latest.size and cp.root != latest.root:
                return (f"the hub signed two different roots for {cp.size} leaves ({latest.timestamp}, "
                        f"{cp.timestamp}): its ledger was forked")
            if cp.size == latest.size:
                return None
        with _tx(self._conn):
            self._put("latest", cp)
            if self.get("anchor") is None:
                self._put("anchor", cp)
        return None

    def advance(self, cp: Checkpoint) -> None:
        """An audit proved ``cp`` consistent with everything kept: it becomes the anchor (and the
        latest, when newer)."""
        latest = self.get("latest")
        with _tx(self._conn):
            self._put("anchor", cp)
            if latest is None or cp.size > latest.size:
                self._put("latest", cp)

    def acked(self, limit: int | None = None) -> list[tuple[int, bytes]]:
        """``(seq, hash)`` of kept acknowledged records, newest first."""
        sql = "SELECT seq, hash FROM acked_hashes ORDER BY seq DESC"
        rows = self._conn.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ())
        return [(int(s), bytes(h)) for s, h in rows]

    def acked_at(self, seqs: list[int]) -> dict[int, float]:
        """When (this machine's clock) each of ``seqs`` was acknowledged by the hub."""
        out: dict[int, float] = {}
        for i in range(0, len(seqs), 500):
            chunk = seqs[i:i + 500]
            out.update((int(s), float(t)) for s, t in self._conn.execute(
                f"SELECT seq, acked_at FROM acked_hashes WHERE seq IN ({','.join('?' * len(chunk))})", chunk))
        return out


class _tx:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def alert_payload(kind: str, detail: str, at: str) -> bytes:
    """What the agent publishes on ``xn/v1/agents/{id}/alert``."""
    return json.dumps({"kind": kind, "detail": detail[:2000], "at": at}, ensure_ascii=False).encode()


def watch_checkpoints(uplink: Any, witness: HubWitness, wall: Callable[[], float]) -> None:
    """Keep the checkpoints the uplink receives on ``xn/v1/hub/checkpoint`` (its thread calls the
    handler); a rollback or fork seen there raises a security alert at once."""

    def on_checkpoint(topic: str, payload: bytes) -> None:
        problem = witness.offer(payload)
        if problem:
            log.error("SECURITY: hub ledger rolled back or forked", extra={"detail": problem, "security_alert": True})
            uplink.publish_side(topics.alert(uplink.agent_id),
                                alert_payload("ledger.rollback", problem, iso_local(wall())), qos=1)

    uplink.on_topic(topics.CHECKPOINT, on_checkpoint)
