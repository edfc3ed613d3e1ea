"""The simulator's bookkeeping table ``xn_sim_meta``: key → text."""

from __future__ import annotations

from simulator.db import Database


def get_meta(db: Database, key: str) -> str | None:
    """The stored value of ``key``, or None."""
    rows = db.query("SELECT meta_value FROM xn_sim_meta WHERE meta_key = ?", (key,))
    return str(rows[0][0]) if rows else None


def set_meta(db: Database, key: str, value: str) -> None:
    """Store ``value`` under ``key`` (in the caller's transaction)."""
    db.execute("DELETE FROM xn_sim_meta WHERE meta_key = ?", (key,)).close()
    db.execute("INSERT INTO xn_sim_meta (meta_key, meta_value) VALUES (?, ?)", (key, value)).close()
