"""Prometheus families of the notifier, computed at scrape time (``/metrics``) from the outbox,
through a short connection of their own (the notifier's thread keeps its own).

The process-wide registry gets one collector, once (:func:`watch`); it reports the database of the
running notifier, and nothing once that notifier stopped (:func:`unwatch`).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from hub.notify.schema import connect, has_schema
from hub.web.metrics import REGISTRY, Family

STATES = ("pending", "sent", "gave_up")
_lock = threading.Lock()
_watched: list[Path] = []
_registered = False


def watch(database: Path) -> None:
    """Report ``database``'s outbox on ``/metrics`` (registers the collector on first use)."""
    global _registered
    with _lock:
        _watched[:] = [database]
        if not _registered:
            REGISTRY.add_collector(_collect)
            _registered = True


def unwatch(database: Path) -> None:
    """Stop reporting ``database`` (its notifier stopped)."""
    with _lock:
        if _watched and _watched[0] == database:
            _watched.clear()


def _collect() -> list[Family]:
    with _lock:
        database = _watched[0] if _watched else None
    return [] if database is None or not database.exists() else notify_collector(database)


def notify_collector(database: Path) -> list[Family]:
    """Outbox rows by state and channel; the age of the oldest pending row."""
    rows = Family("xiaoneng_notify_outbox_rows", "Notification outbox rows by state and channel", "gauge")
    oldest = Family("xiaoneng_notify_oldest_pending_seconds",
                    "Age of the oldest notification still waiting to be delivered (0 when none)", "gauge")
    conn = connect(database)
    try:
        if not has_schema(conn):
            return [rows, oldest.add(0)]
        found = {(r[0], r[1]): int(r[2]) for r in conn.execute(
            "SELECT state, channel, COUNT(*) FROM notify_outbox GROUP BY state, channel")}  # fmt: skip
        first = conn.execute("SELECT MIN(created_at) FROM notify_outbox WHERE state = 'pending'").fetchone()[0]
    finally:
        conn.close()
    for channel in ("inbox", "email", "sms"):
        for state in STATES:
            rows.add(found.get((state, channel), 0), state=state, channel=channel)
    age = 0.0 if first is None else max(0.0, (datetime.now(UTC) - datetime.fromisoformat(first)).total_seconds())
    return [rows, oldest.add(round(age, 3))]
