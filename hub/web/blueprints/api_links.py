"""/api/v1: agents with their link state and history, sites, quarantined messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Response

from hub.web.access import LINK_READERS
from hub.web.blueprints.links import STALE_AFTER_S, state_filter
from hub.web.db import get_db
from hub.web.openapi import API, PAGINATION, Param, page_of
from hub.web.pagination import PageRequest
from hub.web.queries import devices, links, quarantine
from hub.web.state import web_state

bp = Blueprint("api_links", __name__, url_prefix="/api/v1")

_INT = {"type": ["integer", "null"]}
_STR = {"type": ["string", "null"]}
AGENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["agent_id", "state", "quarantined"],
    "properties": {
        "agent_id": {"type": "string"},
        "name": _STR,
        "site_id": _STR,
        "site_name": _STR,
        "state": {"type": "string", "enum": list(links.STATES)},
        "stale": {"type": "boolean", "description": "online, but the last heartbeat is late"},
        "status_at": _STR,
        "last_heartbeat_at": _STR,
        "heartbeat_age_s": _INT,
        "rtt_ms": _INT,
        "reconnects": _INT,
        "outbox_depth": _INT,
        "oldest_unacked_s": _INT,
        "acked_seq": _INT,
        "cdc_lag_s": _INT,
        "source_health": _STR,
        "degraded": _STR,
        "quarantined": {"type": "integer"},
        "revoked_at": _STR,
        "health": {"type": ["object", "null"], "description": "last health report (single agent only)"},
    },
}
HISTORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "agent_id": {"type": "string"},
        "since": {"type": "string", "format": "date-time"},
        "until": {"type": "string", "format": "date-time"},
        "points": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"at": {"type": "string"}, "online": {"type": "integer"}, "rtt_ms": _INT,
                               "outbox_depth": _INT},
            },
        },
    },
}
QUARANTINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "received_at": _STR, "agent_id": _STR, "topic": _STR, "reason": _STR,
        "detail": _STR, "size": _INT,
    },
}
SITE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"site_id": {"type": "string"}, "name": _STR, "created_at": _STR, "agents": {"type": "integer"}},
}


def _paging() -> PageRequest:
    cfg = web_state().config
    return PageRequest.parse(request.args, cfg.per_page_default, cfg.per_page_max)


@API.route(
    bp, "/agents", summary="Agents with their link state, offline first", roles=LINK_READERS, tag="links",
    response=page_of(AGENT_SCHEMA),
    params=(*PAGINATION, Param("state", {"type": "string", "enum": list(links.STATES)}, "only this link state"),
            Param("site", {"type": "string"}, "only this site id")),
)
def agents() -> Response:
    state = web_state()
    result = links.list_links(
        get_db(), _paging(), now=state.clock(), stale_after_s=STALE_AFTER_S, state=state_filter(),
        site_id=request.args.get("site") or None,
    )
    return jsonify(result.envelope([a.to_json() for a in result.items]))


@API.route(bp, "/agents/<agent_id>", summary="One agent's link and last health report", roles=LINK_READERS,
           tag="links", response=AGENT_SCHEMA, errors=(404,))
def agent(agent_id: str) -> Response:
    state = web_state()
    conn = get_db()
    found = links.get_link(conn, agent_id, now=state.clock(), stale_after_s=STALE_AFTER_S)
    if found is None:
        raise NotFound(f"no agent {agent_id!r}")
    return jsonify({**found.to_json(), "health": links.link_health(conn, agent_id)})


@API.route(
    bp, "/agents/<agent_id>/history", summary="Link history of one agent (bucketed)", roles=LINK_READERS,
    tag="links", response=HISTORY_SCHEMA, errors=(404,),
    params=(Param("hours", {"type": "integer", "minimum": 1, "maximum": 2160, "default": 24}, "how far back"),
            Param("points", {"type": "integer", "minimum": 10, "maximum": 2000, "default": 720}, "at most")),
)
def agent_history(agent_id: str) -> Response:
    state = web_state()
    conn = get_db()
    hours = _bounded("hours", 24, 1, 2160)
    points = _bounded("points", 720, 10, 2000)
    if links.get_link(conn, agent_id, now=state.clock()) is None:
        raise NotFound(f"no agent {agent_id!r}")
    until = state.clock()
    since = until - timedelta(hours=hours)
    data = links.history(conn, agent_id, since=since, until=until, max_points=points)
    return jsonify({"agent_id": agent_id, "since": since.isoformat(timespec="seconds"),
                    "until": until.isoformat(timespec="seconds"), "points": data})


def _bounded(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer between {low} and {high}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be an integer between {low} and {high}")
    return value


@API.route(bp, "/sites", summary="Sites with their number of agents", roles=LINK_READERS, tag="links",
           response={"type": "object", "properties": {"items": {"type": "array", "items": SITE_SCHEMA}}})
def sites() -> Response:
    return jsonify({"items": devices.list_sites(get_db())})


@API.route(
    bp, "/quarantine", summary="Quarantined messages, newest first", roles=LINK_READERS, tag="links",
    response=page_of(QUARANTINE_SCHEMA),
    params=(*PAGINATION, Param("reason", {"type": "string"}, "only this reason"),
            Param("agent", {"type": "string"}, "only this agent id")),
)
def quarantined() -> Response:
    result = quarantine.list_quarantine(
        get_db(), _paging(), reason=request.args.get("reason") or None, agent_id=request.args.get("agent") or None
    )
    return jsonify(result.envelope())
