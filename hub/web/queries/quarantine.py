"""Messages ingest refused (``quarantine``): the list, and counts by reason."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from hub.web.db import has_table
from hub.web.pagination import Page, PageRequest

MAX_DETAIL = 2000


def list_quarantine(
    conn: sqlite3.Connection, page: PageRequest, *, reason: str | None = None, agent_id: str | None = None
) -> Page:
    """Newest first, optionally of one reason and/or agent."""
    if not has_table(conn, "quarantine"):
        return Page([], page.page, page.per_page, 0)
    where, args = [], []
    if reason:
        where.append("reason = ?")
        args.append(reason)
    if agent_id:
        where.append("agent_id = ?")
        args.append(agent_id)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = int(conn.execute("SELECT COUNT(*) FROM quarantine" + clause, args).fetchone()[0])
    rows = conn.execute(
        "SELECT id, received_at, agent_id, topic, reason, substr(detail, 1, ?) AS detail, size"
        " FROM quarantine" + clause + " ORDER BY id DESC LIMIT ? OFFSET ?",
        [MAX_DETAIL, *args, page.per_page, page.offset],
    ).fetchall()
    return Page([dict(r) for r in rows], page.page, page.per_page, total)


def counts_by_reason(conn: sqlite3.Connection) -> dict[str, int]:
    """How many quarantined messages the store holds, per reason."""
    if not has_table(conn, "quarantine"):
        return {}
    rows = conn.execute("SELECT reason, COUNT(*) FROM quarantine GROUP BY reason ORDER BY reason").fetchall()
    return {str(r[0] or "unknown"): int(r[1]) for r in rows}


def reasons(conn: sqlite3.Connection) -> list[str]:
    """The reasons present (for the filter of the list)."""
    return sorted(counts_by_reason(conn))


def recent_count(conn: sqlite3.Connection, now: datetime, hours: int = 24) -> int:
    """Messages quarantined in the last ``hours`` hours (by the newest ids; stops at the bound)."""
    if not has_table(conn, "quarantine"):
        return 0
    bound = (now - timedelta(hours=hours)).strftime("%Y-%m-%d")
    # Coarse string bound on received_at, then exact julianday comparison on what remains.
    row = conn.execute(
        "SELECT COUNT(*) FROM quarantine WHERE received_at >= ? AND julianday(received_at) >= julianday(?)",
        (bound, (now - timedelta(hours=hours)).isoformat()),
    ).fetchone()
    return int(row[0])
