"""The audit log: every human action, who, when, on what.

``action`` is a dotted word (``auth.login``, ``user.create``, ``card.supervise`` …), ``target`` the
thing acted on, ``detail`` a small JSON object (the web layer adds the client address).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.auth.clock import Clock, iso, utcnow

MAX_DETAIL_BYTES = 4096


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of ``audit_log``."""

    id: int
    at: str
    username: str
    action: str
    target: str
    detail: dict[str, Any]


def audit(
    conn: sqlite3.Connection,
    username: str,
    action: str,
    target: str = "",
    detail: Mapping[str, Any] | None = None,
    *,
    clock: Clock = utcnow,
) -> int:
    """Append one entry; returns its id. ``detail`` is truncated if its JSON exceeds 4 KiB."""
    text = json.dumps(dict(detail or {}), ensure_ascii=False, sort_keys=True, default=str)
    if len(text.encode("utf-8")) > MAX_DETAIL_BYTES:
        text = json.dumps({"truncated": text[: MAX_DETAIL_BYTES // 4]}, ensure_ascii=False)
    with conn:
        cur = conn.execute(
            "INSERT INTO audit_log(at, username, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (iso(clock()), username[:64], action[:64], target[:200], text),
        )
    return int(cur.lastrowid or 0)


def _entry(row: sqlite3.Row) -> AuditEntry:
    try:
        detail = json.loads(row["detail"])
    except ValueError:
        detail = {"raw": row["detail"]}
    if not isinstance(detail, dict):
        detail = {"value": detail}
    return AuditEntry(row["id"], row["at"], row["username"], row["action"], row["target"], detail)


def list_audit(
    conn: sqlite3.Connection,
    *,
    username: str | None = None,
    action: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """Entries newest first, optionally of one user and/or one action; returns ``(page, total)``."""
    where, args = [], []
    if username:
        where.append("username = ?")
        args.append(username)
    if action:
        where.append("action = ?")
        args.append(action)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = int(conn.execute("SELECT COUNT(*) FROM audit_log" + clause, args).fetchone()[0])
    rows = conn.execute(
        "SELECT id, at, username, action, target, detail FROM audit_log"
        + clause
        + " ORDER BY id DESC LIMIT ? OFFSET ?",
        [*args, limit, offset],
    ).fetchall()
    return [_entry(r) for r in rows], total
