"""The video wall's cameras: what each agent's last heartbeat says about its cameras.

An agent with cameras reports them in every heartbeat (``health_json.cameras``, see
agent/camera/service.py): id, hall, windows, and the watchdog's feed state. The hub keeps the last
heartbeat per agent (``agent_link``), so the wall needs no registry of its own: a camera appears
when its agent first reports it. Each camera gets one ``state`` for its badge:

    ok        the feed is live
    stale     the picture is frozen (identical frames): the camera or its encoder is stuck
    dead      no frames: the camera is unreachable or unplugged (the agent keeps reconnecting)
    offline   the agent itself is offline: nothing from this hall can be seen
    silent    the agent is marked online but its heartbeat is late (half-broken link, hung agent)
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from hub.web.db import has_table
from hub.web.formatting import age_seconds

STATES = ("ok", "stale", "dead", "offline", "silent")
FEEDS = {"ok": "ok", "stale": "stale", "dead": "dead"}


def camera_state(online: bool, heartbeat_age_s: int | None, feed: str, stale_after_s: int) -> str:
    """The badge of one camera (see the module docstring)."""
    if not online:
        return "offline"
    if heartbeat_age_s is None or heartbeat_age_s > stale_after_s:
        return "silent"
    return FEEDS.get(feed, "dead")


def _cameras(health_json: str | None) -> list[dict[str, Any]]:
    if not health_json:
        return []
    try:
        health = json.loads(health_json)
    except ValueError:
        return []
    cameras = health.get("cameras") if isinstance(health, dict) else None
    if not isinstance(cameras, list):
        return []
    return [c for c in cameras if isinstance(c, dict) and isinstance(c.get("camera_id"), str)]


def wall(conn: sqlite3.Connection, *, now: datetime, stale_after_s: int = 90) -> list[dict[str, Any]]:
    """Halls (sites) with their cameras, in site and camera order; agents without cameras left out."""
    if not (has_table(conn, "agents") and has_table(conn, "agent_link")):
        return []
    sites = has_table(conn, "sites")
    rows = conn.execute(
        "SELECT a.agent_id, a.site_id, a.name, l.online, l.last_heartbeat_at, l.health_json"
        + (", s.name AS site_name" if sites else ", NULL AS site_name")
        + " FROM agents a JOIN agent_link l ON l.agent_id = a.agent_id"
        + (" LEFT JOIN sites s ON s.site_id = a.site_id" if sites else "")
        + " WHERE a.revoked_at IS NULL ORDER BY a.site_id, a.agent_id"
    ).fetchall()
    halls: dict[str, dict[str, Any]] = {}
    for row in rows:
        cameras = _cameras(row["health_json"])
        if not cameras:
            continue
        site = row["site_id"] or ""
        hall = halls.setdefault(site, {"site_id": site, "name": row["site_name"] or site, "cameras": []})
        online = bool(row["online"])
        hb_age = age_seconds(row["last_heartbeat_at"], now)
        for cam in cameras:
            feed = str(cam.get("feed", ""))
            windows = cam.get("windows")
            hall["cameras"].append({
                "agent_id": row["agent_id"],
                "agent_name": row["name"],
                "camera_id": cam["camera_id"],
                "hall_id": str(cam.get("hall_id", "")),
                "windows": [str(w) for w in windows] if isinstance(windows, list) else [],
                "feed": feed,
                "reason": str(cam.get("reason", ""))[:200],
                "agent_online": online,
                "heartbeat_age_s": hb_age,
                "state": camera_state(online, hb_age, feed, stale_after_s),
            })
    for hall in halls.values():
        hall["cameras"].sort(key=lambda c: (c["hall_id"], c["camera_id"], c["agent_id"]))
    return list(halls.values())


def agent_state(conn: sqlite3.Connection, agent_id: str) -> str | None:
    """``online`` / ``offline`` / ``revoked`` for a registered agent, None if unknown."""
    if not has_table(conn, "agents"):
        return None
    row = conn.execute("SELECT revoked_at FROM agents WHERE agent_id = ?", (agent_id,)).fetchone()
    if row is None:
        return None
    if row["revoked_at"]:
        return "revoked"
    if not has_table(conn, "agent_link"):
        return "offline"
    link = conn.execute("SELECT online FROM agent_link WHERE agent_id = ?", (agent_id,)).fetchone()
    return "online" if link is not None and link["online"] else "offline"
