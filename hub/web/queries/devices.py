"""Sites and agents as registered by provisioning (read-only here)."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

from hub.web.db import has_table
from hub.web.pagination import Page, PageRequest


def fingerprint(public_key: bytes | None) -> str:
    """A short SHA-256 fingerprint of a public key (``ab12:cd34:…``, 16 hex digits)."""
    if not public_key:
        return ""
    digest = hashlib.sha256(bytes(public_key)).hexdigest()[:16]
    return ":".join(digest[i : i + 4] for i in range(0, 16, 4))


def list_sites(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every site with its number of agents in service."""
    if not has_table(conn, "sites"):
        return []
    join = has_table(conn, "agents")
    sql = (
        "SELECT s.site_id, s.name, s.created_at, COUNT(a.agent_id) AS agents FROM sites s"
        " LEFT JOIN agents a ON a.site_id = s.site_id AND a.revoked_at IS NULL"
        " GROUP BY s.site_id ORDER BY s.site_id"
        if join
        else "SELECT site_id, name, created_at, 0 AS agents FROM sites ORDER BY site_id"
    )
    return [dict(r) for r in conn.execute(sql).fetchall()]


def list_agents(conn: sqlite3.Connection, page: PageRequest) -> Page:
    """Registered agents (never the password hash), by site and id."""
    if not has_table(conn, "agents"):
        return Page([], page.page, page.per_page, 0)
    total = int(conn.execute("SELECT COUNT(*) FROM agents").fetchone()[0])
    rows = conn.execute(
        "SELECT agent_id, site_id, name, public_key, mqtt_username, created_at, revoked_at FROM agents"
        " ORDER BY site_id, agent_id LIMIT ? OFFSET ?",
        (page.per_page, page.offset),
    ).fetchall()
    items = [
        {
            "agent_id": r["agent_id"],
            "site_id": r["site_id"],
            "name": r["name"],
            "key_fingerprint": fingerprint(r["public_key"]),
            "mqtt_username": r["mqtt_username"],
            "created_at": r["created_at"],
            "revoked_at": r["revoked_at"],
        }
        for r in rows
    ]
    return Page(items, page.page, page.per_page, total)
