"""The UI inbox as the web reads it: a user's messages, the unread count, marking read.

Every function is scoped to one username (a user reads and marks only their own messages) and
answers empty before the notifier first created its tables.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from hub.notify.outbox import stamp
from hub.notify.schema import has_schema


@dataclass(frozen=True)
class InboxItem:
    id: int
    kind: str
    level: str | None
    subject: str
    body: str
    link: str
    created_at: str
    read_at: str | None

    @property
    def unread(self) -> bool:
        return self.read_at is None


def unread_count(conn: sqlite3.Connection, username: str) -> int:
    """How many of ``username``'s messages are unread."""
    if not has_schema(conn):
        return 0
    row = conn.execute("SELECT COUNT(*) FROM notify_inbox WHERE username = ? AND read_at IS NULL",
                       (username,)).fetchone()  # fmt: skip
    return int(row[0])


def list_inbox(conn: sqlite3.Connection, username: str, *, unread_only: bool = False, limit: int = 30,
               offset: int = 0) -> tuple[list[InboxItem], int]:
    """``username``'s messages, newest first, and their total."""
    if not has_schema(conn):
        return [], 0
    where = "i.username = ?" + (" AND i.read_at IS NULL" if unread_only else "")
    total = int(conn.execute(f"SELECT COUNT(*) FROM notify_inbox i WHERE {where}", (username,)).fetchone()[0])  # noqa: S608
    rows = conn.execute(
        "SELECT i.id, m.kind, m.level, m.subject, m.body, m.link, i.created_at, i.read_at FROM notify_inbox i "  # noqa: S608
        f"JOIN notify_messages m ON m.id = i.message_id WHERE {where} ORDER BY i.id DESC LIMIT ? OFFSET ?",
        (username, limit, offset)).fetchall()  # fmt: skip
    return [InboxItem(*tuple(r)) for r in rows], total


def mark_read(conn: sqlite3.Connection, username: str, now: datetime, item_id: int | None = None) -> int:
    """Mark one message (``item_id``) or all of ``username``'s messages read; returns how many changed."""
    if not has_schema(conn):
        return 0
    with conn:
        if item_id is None:
            cur = conn.execute("UPDATE notify_inbox SET read_at = ? WHERE username = ? AND read_at IS NULL",
                               (stamp(now), username))  # fmt: skip
        else:
            cur = conn.execute("UPDATE notify_inbox SET read_at = ? WHERE id = ? AND username = ? AND read_at IS NULL",
                               (stamp(now), item_id, username))  # fmt: skip
    return cur.rowcount


def item_link(conn: sqlite3.Connection, username: str, item_id: int) -> str | None:
    """The UI path a message of ``username`` points to (None if not theirs or without a link)."""
    if not has_schema(conn):
        return None
    row = conn.execute("SELECT m.link FROM notify_inbox i JOIN notify_messages m ON m.id = i.message_id "
                       "WHERE i.id = ? AND i.username = ?", (item_id, username)).fetchone()  # fmt: skip
    return str(row[0]) if row is not None and row[0] else None
