"""The tables the auth package owns in the hub database, and how to open that database.

``users``, ``api_tokens`` and ``audit_log`` are the contract other code reads; ``web_sessions`` and
``login_failures`` are private to the web login (the older ``login_throttle`` table, keyed by
strings that could not tell which usernames failed from an address, is dropped: it only held
throttle state, which starts afresh).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username      TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    dept_code     TEXT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash TEXT PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES users(username),
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT NULL
);
CREATE INDEX IF NOT EXISTS api_tokens_username ON api_tokens(username);
CREATE TABLE IF NOT EXISTS audit_log (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    username TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL DEFAULT '',
    detail   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_log_username ON audit_log(username, id);
CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log(action, id);
CREATE TABLE IF NOT EXISTS web_sessions (
    sid_hash     TEXT PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES users(username),
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT NULL,
    ip           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS web_sessions_username ON web_sessions(username);
DROP TABLE IF EXISTS login_throttle;
CREATE TABLE IF NOT EXISTS login_failures (
    address         TEXT NOT NULL,
    username        TEXT NOT NULL,
    failures        INTEGER NOT NULL,
    last_failure_at TEXT NOT NULL,
    locked_until    TEXT NULL,
    PRIMARY KEY (address, username)
);
CREATE INDEX IF NOT EXISTS login_failures_at ON login_failures(last_failure_at);
"""


def connect(path: str | Path) -> sqlite3.Connection:
    """Open the hub database the way every hub component should: WAL, a busy timeout, Row rows."""
    conn = sqlite3.connect(str(path), timeout=10.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the auth tables if absent and switch the file to WAL (idempotent)."""
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(SCHEMA)
    conn.commit()
