"""Tail truncation with tidy-up, as an attacker with the database file would do it (issue 11, finding 4):
delete the newest batches and their records, the ledger nodes and checkpoints above the new size,
and set each stream's head back to its last remaining record — ``xiaoneng-hub verify`` alone then
finds nothing wrong."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def truncate_tail(db: Path, batches: int) -> int:
    """Remove the newest ``batches`` batches and tidy up; returns how many records were removed."""
    conn = sqlite3.connect(db)
    try:
        ids = [int(r[0]) for r in conn.execute("SELECT id FROM batches ORDER BY id DESC LIMIT ?", (batches,))]
        if not ids:
            return 0
        cut = min(ids)
        before = int(conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])
        conn.execute("DELETE FROM records WHERE batch_id >= ?", (cut,))
        conn.execute("DELETE FROM batches WHERE id >= ?", (cut,))
        size = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM records").fetchone()[0])
        conn.execute("DELETE FROM ledger_nodes WHERE ((idx + 1) << level) > ?", (size,))
        conn.execute("DELETE FROM checkpoints WHERE size > ?", (size,))
        for agent, stream in conn.execute("SELECT agent_id, stream_id FROM streams").fetchall():
            row = conn.execute(
                "SELECT seq, hash FROM records WHERE agent_id = ? AND stream_id = ? ORDER BY seq DESC LIMIT 1",
                (agent, stream),
            ).fetchone()
            if row is None:
                conn.execute("DELETE FROM streams WHERE agent_id = ? AND stream_id = ?", (agent, stream))
            else:
                conn.execute("UPDATE streams SET head_seq = ?, head_hash = ? WHERE agent_id = ? AND stream_id = ?",
                             (row[0], row[1], agent, stream))
        conn.commit()
        after = int(conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])
        return before - after
    finally:
        conn.close()
