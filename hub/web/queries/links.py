"""Link state of every agent (``agents`` ⋈ ``agent_link`` ⋈ ``sites``) and its history."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.desk import DESK_AGENT
from hub.web.db import has_table
from hub.web.formatting import age_seconds, parse_time
from hub.web.pagination import Page, PageRequest

STATES = ("online", "offline", "never", "revoked")

#: The agents that have a link to the broker: all but the hub's own desk (hub.desk signs records
#: in-process and never connects; it is listed with its key on the devices page).
LINKED = f"(SELECT * FROM agents WHERE agent_id != '{DESK_AGENT}')"
_SELECT = f"""
SELECT a.agent_id, a.name, a.site_id, s.name AS site_name, a.revoked_at,
       l.online, l.status_at, l.last_heartbeat_at, l.rtt_ms, l.reconnects, l.outbox_depth,
       l.oldest_unacked_s, l.acked_seq, l.cdc_lag_s, l.source_health, l.degraded,
       CASE WHEN a.revoked_at IS NOT NULL THEN 3
            WHEN l.agent_id IS NULL THEN 1
            WHEN COALESCE(l.online, 0) = 0 THEN 0
            ELSE 2 END AS state_rank
FROM {LINKED} a
LEFT JOIN agent_link l ON l.agent_id = a.agent_id
LEFT JOIN sites s ON s.site_id = a.site_id
"""
_STATE_SQL = {"offline": "state_rank = 0", "never": "state_rank = 1", "online": "state_rank = 2",
              "revoked": "state_rank = 3"}


@dataclass(frozen=True, slots=True)
class AgentLink:
    """One agent's link, as the links page and ``/api/v1/agents`` show it."""

    agent_id: str
    name: str | None
    site_id: str | None
    site_name: str | None
    state: str  # online | offline | never | revoked
    stale: bool  # online, but no heartbeat for longer than the stale limit
    status_at: str | None
    last_heartbeat_at: str | None
    heartbeat_age_s: int | None
    rtt_ms: int | None
    reconnects: int | None
    outbox_depth: int | None
    oldest_unacked_s: int | None
    acked_seq: int | None
    cdc_lag_s: int | None
    source_health: str | None
    degraded: str | None
    quarantined: int
    revoked_at: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _ready(conn: sqlite3.Connection) -> bool:
    return has_table(conn, "agents") and has_table(conn, "agent_link") and has_table(conn, "sites")


def quarantine_counts(conn: sqlite3.Connection, agent_ids: Sequence[str]) -> dict[str, int]:
    """Quarantined messages per agent, for the given agents only."""
    if not agent_ids or not has_table(conn, "quarantine"):
        return {}
    marks = ",".join("?" * len(agent_ids))
    rows = conn.execute(
        f"SELECT agent_id, COUNT(*) FROM quarantine WHERE agent_id IN ({marks}) GROUP BY agent_id",
        list(agent_ids),
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def list_links(
    conn: sqlite3.Connection,
    page: PageRequest,
    *,
    now: datetime,
    stale_after_s: int = 90,
    state: str | None = None,
    site_id: str | None = None,
) -> Page:
    """Agents with their link state: offline first, then never seen, online, revoked."""
    if not _ready(conn):
        return Page([], page.page, page.per_page, 0)
    where, args = [], []
    if state:
        where.append(_STATE_SQL[state])
    if site_id:
        where.append("site_id = ?")
        args.append(site_id)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    inner = f"SELECT * FROM ({_SELECT}){clause}"
    total = int(conn.execute(f"SELECT COUNT(*) FROM ({inner})", args).fetchone()[0])
    rows = conn.execute(
        inner + " ORDER BY state_rank, site_name, agent_id LIMIT ? OFFSET ?", [*args, page.per_page, page.offset]
    ).fetchall()
    counts = quarantine_counts(conn, [r["agent_id"] for r in rows])
    items = [_link(r, counts.get(r["agent_id"], 0), now, stale_after_s) for r in rows]
    return Page(items, page.page, page.per_page, total)


def get_link(conn: sqlite3.Connection, agent_id: str, *, now: datetime, stale_after_s: int = 90) -> AgentLink | None:
    """One agent's link, or None if the agent is not registered."""
    if not _ready(conn):
        return None
    row = conn.execute(_SELECT + " WHERE a.agent_id = ?", (agent_id,)).fetchone()
    if row is None:
        return None
    return _link(row, quarantine_counts(conn, [agent_id]).get(agent_id, 0), now, stale_after_s)


def _link(row: sqlite3.Row, quarantined: int, now: datetime, stale_after_s: int) -> AgentLink:
    state = ("offline", "never", "online", "revoked")[int(row["state_rank"])]
    hb_age = age_seconds(row["last_heartbeat_at"], now)
    return AgentLink(
        agent_id=row["agent_id"],
        name=row["name"],
        site_id=row["site_id"],
        site_name=row["site_name"],
        state=state,
        stale=state == "online" and (hb_age is None or hb_age > stale_after_s),
        status_at=row["status_at"],
        last_heartbeat_at=row["last_heartbeat_at"],
        heartbeat_age_s=hb_age,
        rtt_ms=row["rtt_ms"],
        reconnects=row["reconnects"],
        outbox_depth=row["outbox_depth"],
        oldest_unacked_s=row["oldest_unacked_s"],
        acked_seq=row["acked_seq"],
        cdc_lag_s=row["cdc_lag_s"],
        source_health=row["source_health"],
        degraded=row["degraded"],
        quarantined=quarantined,
        revoked_at=row["revoked_at"],
    )


def link_health(conn: sqlite3.Connection, agent_id: str) -> dict[str, Any] | None:
    """The agent's last health report (``agent_link.health_json``) as an object, if any."""
    if not has_table(conn, "agent_link"):
        return None
    row = conn.execute("SELECT health_json FROM agent_link WHERE agent_id = ?", (agent_id,)).fetchone()
    if row is None or not row[0]:
        return None
    try:
        value = json.loads(row[0])
    except ValueError:
        return {"unparsable": str(row[0])[:200]}
    return value if isinstance(value, dict) else {"value": value}


def summary(conn: sqlite3.Connection) -> dict[str, int]:
    """Counts of agents by link state (revoked agents excluded from ``total``)."""
    out = {"online": 0, "offline": 0, "never": 0, "revoked": 0}
    if _ready(conn):
        rows = conn.execute(
            "SELECT CASE WHEN a.revoked_at IS NOT NULL THEN 'revoked' WHEN l.agent_id IS NULL THEN 'never'"
            " WHEN COALESCE(l.online, 0) = 0 THEN 'offline' ELSE 'online' END AS st, COUNT(*)"
            f" FROM {LINKED} a LEFT JOIN agent_link l ON l.agent_id = a.agent_id GROUP BY st"
        ).fetchall()
        out.update({r[0]: int(r[1]) for r in rows})
    out["total"] = out["online"] + out["offline"] + out["never"]
    return out


def sites_summary(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Per site: agents online and in service (for the halls panel of the overview)."""
    if not _ready(conn):
        return []
    rows = conn.execute(
        "SELECT s.site_id, s.name, COUNT(a.agent_id) AS total,"
        " SUM(CASE WHEN COALESCE(l.online, 0) = 1 THEN 1 ELSE 0 END) AS online"
        f" FROM sites s JOIN {LINKED} a ON a.site_id = s.site_id AND a.revoked_at IS NULL"
        " LEFT JOIN agent_link l ON l.agent_id = a.agent_id"
        " GROUP BY s.site_id, s.name ORDER BY (total - online) DESC, s.name"
    ).fetchall()
    return [{"site_id": r[0], "name": r[1], "total": int(r[2]), "online": int(r[3] or 0)} for r in rows]


def history(
    conn: sqlite3.Connection, agent_id: str, *, since: datetime, until: datetime, max_points: int = 720
) -> list[dict[str, Any]]:
    """``link_history`` of one agent between two times, averaged into at most ``max_points`` buckets.

    Each point: ``at`` (ISO, bucket start), ``online`` (0 if offline at any time in the bucket),
    ``rtt_ms`` (mean), ``outbox_depth`` (max).
    """
    if not has_table(conn, "link_history"):
        return []
    # `at` is ISO text whose offset may vary: a string bound a day early narrows the scan on an
    # (agent_id, at) index; the exact bound is checked on the parsed time.
    low = (since - timedelta(days=1)).strftime("%Y-%m-%d")
    rows = conn.execute(
        "SELECT at, online, rtt_ms, outbox_depth FROM link_history WHERE agent_id = ? AND at >= ? ORDER BY at",
        (agent_id, low),
    ).fetchall()
    span = max(1.0, (until - since).total_seconds())
    width = max(1.0, span / max_points)
    buckets: dict[int, dict[str, Any]] = {}
    for at_text, online, rtt, outbox in rows:
        moment = parse_time(at_text)
        if moment is None or not since <= moment <= until:
            continue
        index = int((moment - since).total_seconds() // width)
        b = buckets.setdefault(index, {"online": 1, "rtt": [], "outbox": None})
        if not online:
            b["online"] = 0
        if rtt is not None:
            b["rtt"].append(int(rtt))
        if outbox is not None:
            b["outbox"] = max(int(outbox), b["outbox"] or 0)
    points = []
    for index in sorted(buckets):
        b = buckets[index]
        start = since + timedelta(seconds=index * width)
        points.append(
            {
                "at": start.isoformat(timespec="seconds"),
                "online": b["online"],
                "rtt_ms": round(sum(b["rtt"]) / len(b["rtt"])) if b["rtt"] else None,
                "outbox_depth": b["outbox"],
            }
        )
    return points
