"""The durable outbox: one row per (message, channel, recipient), sent by the notifier thread.

Lifecycle of a row::

    pending ──send ok──▶ sent
       │ └─send fails──▶ pending (attempts+1, next_attempt_at = now + backoff)
       └──────────────── attempts reach retry.max_attempts ──▶ gave_up

Enqueueing is idempotent (the message key and ``UNIQUE(message_id, channel, recipient)``), so a
feed that reads the same card twice after a restart adds nothing. A row is marked only after its
attempt; a hub killed mid-send finds the row still pending and sends it again on start (e-mails
carry a stable ``Message-ID``, SMS requests an ``Idempotency-Key``, so a receiver can drop the one
case that remains: the send had completed but its mark had not been written).

Each outcome writes an ``audit_log`` row (user ``system``): ``notify.sent``, ``notify.failed``,
``notify.gave_up`` — in the same transaction as the row's new state.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.auth.clock import iso
from hub.notify.backoff import retry_delay
from hub.notify.config import RetryConfig
from hub.notify.messages import Message
from hub.notify.recipients import Delivery

SYSTEM_USER = "system"
MAX_ERROR = 500


def stamp(moment: datetime) -> str:
    """A sortable UTC timestamp with microseconds (``next_attempt_at``, ``sent_at``)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the outbox stores aware times only")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class OutboxRow:
    """A row to send, joined with its message."""

    id: int
    channel: str
    recipient: str
    address: str
    attempts: int
    message_id: int
    message: Message


def _message_values(message: Message, now: datetime) -> tuple[Any, ...]:
    return (message.key, message.kind, message.level, message.dept_code, message.card_id, message.subject,
            message.body, message.short, message.link, json.dumps(list(message.attachments)), stamp(now))  # fmt: skip


def enqueue(conn: sqlite3.Connection, message: Message, deliveries: Iterable[Delivery], now: datetime) -> int:
    """Store ``message`` and one pending row per delivery (both idempotent); returns the message id."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        message_id = enqueue_in(conn, message, deliveries, now)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return message_id


def enqueue_in(conn: sqlite3.Connection, message: Message, deliveries: Iterable[Delivery], now: datetime) -> int:
    """:func:`enqueue` inside the caller's transaction."""
    conn.execute(
        "INSERT OR IGNORE INTO notify_messages(key, kind, level, dept_code, card_id, subject, body, short, link, "
        "attachments, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", _message_values(message, now))  # fmt: skip
    message_id = int(conn.execute("SELECT id FROM notify_messages WHERE key = ?", (message.key,)).fetchone()[0])
    conn.executemany(
        "INSERT OR IGNORE INTO notify_outbox(message_id, channel, recipient, address, next_attempt_at, created_at) "
        "VALUES (?,?,?,?,?,?)",
        [(message_id, d.channel, d.recipient, d.address, stamp(now), stamp(now)) for d in deliveries],
    )
    return message_id


def _message(row: sqlite3.Row) -> Message:
    return Message(key=row["key"], kind=row["kind"], subject=row["subject"], body=row["body"], short=row["short"],
                   link=row["link"], level=row["level"], dept_code=row["dept_code"], card_id=row["card_id"],
                   attachments=tuple(json.loads(row["attachments"])))  # fmt: skip


def due(conn: sqlite3.Connection, now: datetime, limit: int = 100) -> list[OutboxRow]:
    """Pending rows whose time has come, oldest first."""
    rows = conn.execute(
        "SELECT o.id AS oid, o.channel, o.recipient, o.address, o.attempts, m.* FROM notify_outbox o "
        "JOIN notify_messages m ON m.id = o.message_id WHERE o.state = 'pending' AND o.next_attempt_at <= ? "
        "ORDER BY o.next_attempt_at, o.id LIMIT ?", (stamp(now), limit)).fetchall()  # fmt: skip
    return [OutboxRow(r["oid"], r["channel"], r["recipient"], r["address"], r["attempts"], r["id"], _message(r))
            for r in rows]  # fmt: skip


def next_due(conn: sqlite3.Connection) -> datetime | None:
    """When the earliest pending row is due (None when nothing is pending)."""
    row = conn.execute("SELECT MIN(next_attempt_at) FROM notify_outbox WHERE state = 'pending'").fetchone()
    return None if row is None or row[0] is None else datetime.fromisoformat(row[0])


def _audit(conn: sqlite3.Connection, action: str, row: OutboxRow, now: datetime, **detail: Any) -> None:
    text = json.dumps({"message": row.message.key, "kind": row.message.kind, "address": row.address,
                       "attempts": row.attempts + 1, **detail}, ensure_ascii=False, sort_keys=True)  # fmt: skip
    conn.execute("INSERT INTO audit_log(at, username, action, target, detail) VALUES (?,?,?,?,?)",
                 (iso(now), SYSTEM_USER, action, f"{row.channel}:{row.recipient}"[:200], text))  # fmt: skip


def _write(conn: sqlite3.Connection, work: Callable[[], None]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        work()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def mark_sent(conn: sqlite3.Connection, row: OutboxRow, now: datetime) -> None:
    """The attempt succeeded: ``sent``, audited."""
    def work() -> None:
        conn.execute("UPDATE notify_outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?, "
                     "last_error = NULL WHERE id = ? AND state = 'pending'", (stamp(now), row.id))  # fmt: skip
        _audit(conn, "notify.sent", row, now)
    _write(conn, work)


def mark_failed(conn: sqlite3.Connection, row: OutboxRow, error: str, now: datetime, retry: RetryConfig,
                rand: Callable[[], float] | None = None) -> str:
    """The attempt failed: back to ``pending`` after a backoff, or ``gave_up`` after the last
    attempt (a permanent error gives up at once). Returns the new state."""
    attempts = row.attempts + 1
    permanent = error.startswith("permanent:")
    error = error[:MAX_ERROR]

    if permanent or attempts >= retry.max_attempts:
        def give_up() -> None:
            conn.execute("UPDATE notify_outbox SET state = 'gave_up', attempts = ?, last_error = ? WHERE id = ?",
                         (attempts, error, row.id))  # fmt: skip
            _audit(conn, "notify.gave_up", row, now, error=error)
        _write(conn, give_up)
        return "gave_up"
    delay = retry_delay(attempts, retry.base_s, retry.max_s, *(() if rand is None else (rand,)))
    later = now + timedelta(seconds=delay)

    def again() -> None:
        conn.execute("UPDATE notify_outbox SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
                     (attempts, error, stamp(later), row.id))  # fmt: skip
        _audit(conn, "notify.failed", row, now, error=error, retry_at=stamp(later))
    _write(conn, again)
    return "pending"


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows by state (for ``/metrics`` and the tests)."""
    return {str(r[0]): int(r[1]) for r in conn.execute("SELECT state, COUNT(*) FROM notify_outbox GROUP BY state")}
