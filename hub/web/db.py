"""The per-request database handle (Flask ``g``), closed when the request ends."""

from __future__ import annotations

import sqlite3

from flask import current_app, g

from hub.auth.schema import connect


def get_db() -> sqlite3.Connection:
    """The request's connection to the hub database, opened on first use."""
    conn: sqlite3.Connection | None = g.get("_xn_db")
    if conn is None:
        conn = connect(current_app.config["XN_DATABASE"])
        g._xn_db = conn
    return conn


def close_db(_exc: BaseException | None = None) -> None:
    """Teardown: close the request's connection if one was opened."""
    conn: sqlite3.Connection | None = g.pop("_xn_db", None)
    if conn is not None:
        conn.close()


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    """Whether ``name`` exists yet (tables of other components appear when those first run)."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
    return row is not None
