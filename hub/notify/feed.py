"""New cards, escalations and 督办 notices, read from the supervision tables into the outbox.

The supervision writes ``cards`` (insert-only rows, updated in place: ``rowid`` grows) and
``card_actions`` (an ``id`` per action). The feed keeps its own cursors in ``notify_state`` and
enqueues, in one transaction with the cursor, one message per card raised or escalated (a red card
with ``escalates``) and per 督办 notice (action ``supervise`` / ``notify``). Historical cards
(imported history) and cards already withdrawn are never notified (DOMAIN.md §4).

Reading the tables rather than trusting an in-memory event means a hub killed between the card's
commit and the notification loses nothing: the next start reads on from the cursor. On the first
start over an existing store the cursors begin at the newest rows: old cards are not sent.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.notify.messages import card_message
from hub.notify.outbox import enqueue_in
from hub.notify.recipients import card_deliveries, department_contacts

log = logging.getLogger("xiaoneng.hub.notify")

SUPERVISE_ACTIONS = ("supervise", "notify")
CARD_COLUMNS = "rowid, card_id, rule, level, state, dept_code, case_id, title, deadline, escalates, historical"


@dataclass
class FeedCounts:
    cards: int = 0
    notices: int = 0
    skipped: int = 0  # historical, withdrawn, or nobody to tell


def _has(conn: sqlite3.Connection, table: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    return row is not None


def _cursor(conn: sqlite3.Connection, key: str) -> int:
    row = conn.execute("SELECT value FROM notify_state WHERE key = ?", (key,)).fetchone()
    if row is not None:
        return int(row[0])
    conn.execute("INSERT INTO notify_state(key, value) VALUES (?, '0')", (key,))
    return 0


def _set(conn: sqlite3.Connection, key: str, value: int) -> None:
    conn.execute("UPDATE notify_state SET value = ? WHERE key = ?", (str(value), key))


def _dept_name(conn: sqlite3.Connection, code: str | None) -> str | None:
    if not code or not _has(conn, "sup_names"):
        return None
    row = conn.execute("SELECT name FROM sup_names WHERE kind = 'dept' AND code = ?", (code,)).fetchone()
    return None if row is None else row[0]


def _card_dict(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    card = {k: row[k] for k in row.keys()}
    name = _dept_name(conn, card.get("dept_code"))
    card["dept_name"] = f"{name}（{card['dept_code']}）" if name else card.get("dept_code")
    return card


class Feed:
    """Moves new cards and 督办 notices into the outbox (see the module docstring)."""

    def __init__(self, conn: sqlite3.Connection, channels: Callable[[], frozenset[str]], batch: int = 500) -> None:
        self.conn = conn
        self.channels = channels
        self.batch = batch
        self.counts = FeedCounts()

    def prime(self) -> None:
        """Set the cursors on the first start: at the newest existing rows (old cards are not sent),
        at 0 when the supervision has not written yet. Later starts keep their cursors."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for key, table, column in (("cards_rowid", "cards", "rowid"), ("actions_id", "card_actions", "id")):
                start = 0
                if _has(conn, table):
                    start = int(conn.execute(f"SELECT COALESCE(MAX({column}), 0) FROM {table}").fetchone()[0])  # noqa: S608
                conn.execute("INSERT OR IGNORE INTO notify_state(key, value) VALUES (?, ?)", (key, str(start)))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def step(self, now: datetime) -> int:
        """Enqueue what is new since the cursors; returns the messages enqueued. Takes the write
        lock only when there is something new (the hub's writers are busy enough)."""
        if not _has(self.conn, "cards"):
            return 0
        sent = 0
        if self._newer("cards_rowid", "SELECT MAX(rowid) FROM cards"):
            sent += self._cards(now)
        if _has(self.conn, "card_actions") and self._newer("actions_id", "SELECT MAX(id) FROM card_actions"):
            sent += self._notices(now)
        return sent

    def _newer(self, key: str, newest: str) -> bool:
        row = self.conn.execute("SELECT value FROM notify_state WHERE key = ?", (key,)).fetchone()
        top = self.conn.execute(newest).fetchone()[0]
        return top is not None and (row is None or int(top) > int(row[0]))

    def _deliver(self, card: dict[str, Any], kind: str, now: datetime, **extra: Any) -> bool:
        people = department_contacts(self.conn, card["dept_code"]) if card.get("dept_code") else []
        deliveries = card_deliveries(people, card.get("level"), self.channels())
        if not deliveries:
            self.counts.skipped += 1
            log.debug("nobody to notify for a card", extra={"card": card["card_id"], "dept": card.get("dept_code")})
            return False
        enqueue_in(self.conn, card_message(card, kind, **extra), deliveries, now)
        return True

    def _cards(self, now: datetime) -> int:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = _cursor(conn, "cards_rowid")
            rows = conn.execute(f"SELECT {CARD_COLUMNS} FROM cards WHERE rowid > ? ORDER BY rowid LIMIT ?",  # noqa: S608
                                (cursor, self.batch)).fetchall()  # fmt: skip
            sent = 0
            for row in rows:
                card = _card_dict(conn, row)
                if card["historical"] or card["state"] == "withdrawn":
                    self.counts.skipped += 1
                    continue
                kind = "escalated" if card.get("escalates") else "raised"
                if self._deliver(card, kind, now):
                    sent += 1
            if rows:
                _set(conn, "cards_rowid", int(rows[-1]["rowid"]))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.counts.cards += sent
        return sent

    def _notices(self, now: datetime) -> int:
        conn = self.conn
        if not _has(conn, "card_actions"):
            return 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = _cursor(conn, "actions_id")
            actions = conn.execute(
                "SELECT id, card_id, action, note, actor FROM card_actions WHERE id > ? ORDER BY id LIMIT ?",
                (cursor, self.batch)).fetchall()  # fmt: skip
            sent = 0
            for action in actions:
                if action["action"] not in SUPERVISE_ACTIONS:
                    continue
                row = conn.execute(f"SELECT {CARD_COLUMNS} FROM cards WHERE card_id = ?",  # noqa: S608
                                   (action["card_id"],)).fetchone()  # fmt: skip
                if row is None or row["historical"]:
                    self.counts.skipped += 1
                    continue
                if self._deliver(_card_dict(conn, row), "supervised", now, action_id=int(action["id"]),
                                 note=str(action["note"] or ""), actor=str(action["actor"] or "")):  # fmt: skip
                    sent += 1
            if actions:
                _set(conn, "actions_id", int(actions[-1]["id"]))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.counts.notices += sent
        return sent
