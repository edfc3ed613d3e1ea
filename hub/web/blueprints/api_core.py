"""/api/v1: who am I, the overview figures, and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from werkzeug.wrappers import Response

from hub.auth.roles import Role
from hub.web.access import EVERYONE, READERS
from hub.web.blueprints.overview import snapshot
from hub.web.db import get_db
from hub.web.openapi import API
from hub.web.security import csrf_token
from hub.web.state import web_state

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["username", "display_name", "role", "dept_code", "auth"],
    "properties": {
        "username": {"type": "string"},
        "display_name": {"type": "string"},
        "role": {"type": "string", "enum": [r.value for r in Role]},
        "dept_code": {"type": ["string", "null"]},
        "auth": {"type": "string", "enum": ["session", "token"]},
        "csrf_token": {"type": "string", "description": "for POSTs from the browser (header X-CSRF-Token)"},
    },
}
COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
OVERVIEW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["at", "links", "quarantine_24h", "sites", "supervision", "ranking"],
    "properties": {
        "at": {"type": "string", "format": "date-time"},
        "links": COUNTS,
        "quarantine_24h": {"type": "integer"},
        "sites": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "site_id": {"type": "string"}, "name": {"type": ["string", "null"]},
                    "total": {"type": "integer"}, "online": {"type": "integer"},
                },
            },
        },
        "supervision": {"type": ["object", "null"], "description": "null until the supervision engine runs"},
        "ranking": {"type": ["array", "null"], "items": {"type": "object"}},
        "recent_cards": {"type": ["array", "null"], "items": {"type": "object"},
                         "description": "the newest cards (the wall's live feed), null until the engine runs"},
    },
}


@API.route(bp, "/me", summary="The caller: user, role, department", roles=EVERYONE, tag="session", response=ME_SCHEMA)
def me() -> Response:
    principal = g.principal
    user = principal.user
    body: dict[str, Any] = {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role.value,
        "dept_code": user.dept_code,
        "auth": principal.via,
    }
    if principal.via == "session":
        body["csrf_token"] = csrf_token()
    return jsonify(body)


@API.route(bp, "/overview", summary="Figures of the overview wall", roles=READERS, tag="overview",
           response=OVERVIEW_SCHEMA)
def overview() -> Response:
    return jsonify(snapshot(get_db()))


@API.route(bp, "/openapi.json", summary="This API's OpenAPI 3.1 document", roles=EVERYONE, tag="session",
           response={"type": "object"})
def openapi() -> Response:
    state = web_state()
    return jsonify(
        API.document(
            title="Xiaoneng hub API",
            version=state.version,
            description="JSON API of the Xiaoneng e-supervision hub. Errors are {error, detail}.",
            per_page_max=state.config.per_page_max,
        )
    )
