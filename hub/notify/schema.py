"""The notification tables in the hub database (``DATA/hub.sqlite``), created on start.

=====================  ======================================================================
``notify_messages``    one row per message: a unique ``key`` (``card:ID:raised``, ``report:2026-11``
                       …), kind, level, department, subject, text, short text, link, attachments
``notify_outbox``      one row per (message, channel, recipient): state ``pending`` → ``sent`` |
                       ``gave_up``, attempts, next_attempt_at, last_error — the durable outbox
``notify_inbox``       the UI inbox: one row per (user, message), read_at once read
``notify_prefs``       per-user preferences: channels and card levels
``notify_state``       key/value: the feed's cursors (``cards_rowid``, ``actions_id``)
``notify_reports``     the months whose report went out (one row per month, ever)
=====================  ======================================================================

``users.email`` / ``users.phone`` (the contacts) are added to the auth table by
:func:`hub.auth.users.ensure_contact_fields`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hub.auth.schema import ensure_schema as ensure_auth_schema
from hub.auth.users import ensure_contact_fields

SCHEMA = """
CREATE TABLE IF NOT EXISTS notify_messages (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, level TEXT,
    dept_code TEXT, card_id TEXT, subject TEXT NOT NULL, body TEXT NOT NULL, short TEXT NOT NULL,
    link TEXT NOT NULL DEFAULT '', attachments TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notify_outbox (
    id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL REFERENCES notify_messages(id),
    channel TEXT NOT NULL, recipient TEXT NOT NULL, address TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL, last_error TEXT, sent_at TEXT, created_at TEXT NOT NULL,
    UNIQUE (message_id, channel, recipient)
);
CREATE INDEX IF NOT EXISTS notify_outbox_due ON notify_outbox(next_attempt_at) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS notify_inbox (
    id INTEGER PRIMARY KEY, username TEXT NOT NULL, message_id INTEGER NOT NULL REFERENCES notify_messages(id),
    created_at TEXT NOT NULL, read_at TEXT, UNIQUE (username, message_id)
);
CREATE INDEX IF NOT EXISTS notify_inbox_unread ON notify_inbox(username, id) WHERE read_at IS NULL;
CREATE INDEX IF NOT EXISTS notify_inbox_user ON notify_inbox(username, id);
CREATE TABLE IF NOT EXISTS notify_prefs (
    username TEXT PRIMARY KEY, channels TEXT NOT NULL, levels TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notify_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notify_reports (
    month TEXT PRIMARY KEY, message_id INTEGER NOT NULL, enqueued_at TEXT NOT NULL
);
"""


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection for the notifier (autocommit; explicit ``BEGIN IMMEDIATE`` where it writes)."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across a process crash, as the supervision's
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the notification tables (and the auth tables and contact columns they rely on)."""
    ensure_auth_schema(conn)
    ensure_contact_fields(conn)
    conn.executescript(SCHEMA)


def has_schema(conn: sqlite3.Connection) -> bool:
    """Whether the notification tables exist (the web shows an empty inbox before the first start)."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notify_inbox'").fetchone()
    return row is not None
