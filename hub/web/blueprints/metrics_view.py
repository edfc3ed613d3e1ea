"""/metrics: the Prometheus exposition (registered metrics + figures read from the database)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from flask import Blueprint
from werkzeug.wrappers import Response

from hub.web.access import OPERATIONS, allow
from hub.web.db import get_db
from hub.web.formatting import age_seconds
from hub.web.metrics import CONTENT_TYPE, Family
from hub.web.pagination import PageRequest
from hub.web.queries import links, quarantine
from hub.web.queries.links import AgentLink
from hub.web.state import WebState, web_state

bp = Blueprint("metrics", __name__)
MAX_AGENTS = 5000


def database_families(conn: sqlite3.Connection, state: WebState) -> list[Family]:
    """Figures that live in the hub database, read at scrape time."""
    counts = links.summary(conn)
    by_state = Family("xiaoneng_agents", "Registered agents by link state.", "gauge")
    for name in ("online", "offline", "never", "revoked"):
        by_state.add(counts[name], state=name)
    fams = [
        by_state,
        Family("xiaoneng_agents_online", "Agents whose link is up.", "gauge").add(counts["online"]),
    ]
    reasons = Family("xiaoneng_quarantine_records", "Quarantined messages in the store, by reason.", "gauge")
    for reason, n in quarantine.counts_by_reason(conn).items():
        reasons.add(n, reason=reason)
    fams.append(reasons)
    page = links.list_links(conn, PageRequest(1, MAX_AGENTS), now=state.clock())
    per_agent: dict[str, tuple[str, Callable[[AgentLink], float | int | None]]] = {
        "xiaoneng_agent_up": ("1 if the agent's link is up.", lambda a: 1 if a.state == "online" else 0),
        "xiaoneng_agent_rtt_seconds": ("Round-trip time of the agent's link.", lambda a: _ms(a.rtt_ms)),
        "xiaoneng_agent_reconnects": ("Reconnects the agent reported (resets when it restarts).",
                                      lambda a: a.reconnects),
        "xiaoneng_agent_outbox_depth": ("Records waiting in the agent's outbox.", lambda a: a.outbox_depth),
        "xiaoneng_agent_oldest_unacked_seconds": ("Age of the oldest record the hub has not acknowledged.",
                                                  lambda a: a.oldest_unacked_s),
        "xiaoneng_agent_cdc_lag_seconds": ("How far capture lags behind the department database.",
                                           lambda a: a.cdc_lag_s),
        "xiaoneng_agent_heartbeat_age_seconds": ("Seconds since the agent's last heartbeat.",
                                                 lambda a: age_seconds(a.last_heartbeat_at, state.clock())),
    }
    for name, (help_text, getter) in per_agent.items():
        fam = Family(name, help_text, "gauge")
        for agent in page.items:
            value = getter(agent)
            if value is not None and agent.state != "revoked":
                fam.add(value, agent_id=agent.agent_id, site_id=agent.site_id or "")
        fams.append(fam)
    return fams


def _ms(value: int | None) -> float | None:
    return None if value is None else value / 1000.0


@bp.get("/metrics")
@allow(*OPERATIONS)
def metrics() -> Response:
    """The registry's exposition plus the database figures (a registered family of the same name wins)."""
    state = web_state()
    body = state.registry.render(database_families(get_db(), state))
    return Response(body, content_type=CONTENT_TYPE)
