"""视频: the video wall page and its API (cameras; browser ↔ hub WebRTC signalling over HTTP).

The browser makes a receive-only VP8 offer per tile, gathers its ICE candidates (no trickle), and
POSTs it to ``/api/v1/video/watch``; the hub's relay answers once the agent streams that camera
(or says why not). ``/api/v1/video/leave`` ends a tile's session. The relay is the hub's
:class:`hub.video.relay.VideoRelay`, attached to the app by the hub (``app.extensions``); without
it (tests, a hub without the video extra) the page says so and ``watch`` answers 503.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from flask import Blueprint, current_app, g, jsonify, render_template, request
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from hub.video.errors import VideoError
from hub.web.access import READERS, allow
from hub.web.blueprints.links import STALE_AFTER_S
from hub.web.db import get_db
from hub.web.errors import json_error
from hub.web.openapi import API
from hub.web.queries import video
from hub.web.state import web_state

bp = Blueprint("video", __name__)
EXTENSION = "xiaoneng_video"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VIEWER = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_SDP = 64 * 1024


class Relay(Protocol):
    """What the web layer uses of the hub's video relay."""

    def watch(self, agent_id: str, camera_id: str, offer_sdp: str, *, user: str = "",
              known_online: bool = False) -> tuple[str, str]: ...

    def leave(self, viewer_id: str) -> bool: ...

    def stats(self) -> dict[str, Any]: ...


def relay() -> Relay | None:
    """The relay attached to this app, if any."""
    found = current_app.extensions.get(EXTENSION)
    return found if found is not None else None


_STR = {"type": "string"}
CAMERA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "agent_id": _STR, "agent_name": {"type": ["string", "null"]}, "camera_id": _STR, "hall_id": _STR,
        "windows": {"type": "array", "items": _STR},
        "feed": {"type": "string", "description": "the agent watchdog's feed state: ok, stale, dead"},
        "reason": _STR, "agent_online": {"type": "boolean"}, "heartbeat_age_s": {"type": ["integer", "null"]},
        "state": {"type": "string", "enum": list(video.STATES), "description": "the badge"},
        "viewers": {"type": "integer", "description": "browsers watching it through the relay now"},
        "streaming": {"type": "boolean", "description": "the relay receives it from the agent now"},
    },
}
CAMERAS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["available", "halls"],
    "properties": {
        "available": {"type": "boolean", "description": "the video relay runs in this hub"},
        "halls": {"type": "array", "items": {"type": "object", "properties": {
            "site_id": _STR, "name": _STR, "cameras": {"type": "array", "items": CAMERA_SCHEMA}}}},
    },
}
WATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["viewer_id", "type", "sdp"],
    "properties": {"viewer_id": _STR, "type": {"const": "answer"}, "sdp": _STR},
}


def _cameras() -> dict[str, Any]:
    state = web_state()
    halls = video.wall(get_db(), now=state.clock(), stale_after_s=STALE_AFTER_S)
    found = relay()
    streams: dict[tuple[str, str], dict[str, Any]] = {}
    if found is not None:
        streams = {(s["agent_id"], s["camera_id"]): s for s in found.stats().get("streams", [])}
    for hall in halls:
        for cam in hall["cameras"]:
            s = streams.get((cam["agent_id"], cam["camera_id"]))
            cam["viewers"] = int(s["viewers"]) if s else 0
            cam["streaming"] = bool(s and s["state"] == "live")
    return {"available": found is not None, "halls": halls}


@bp.get("/video")
@allow(*READERS)
def page() -> str:
    return render_template("video.html", wall=_cameras(), states=video.STATES)


@API.route(bp, "/api/v1/video/cameras", summary="The video wall: halls, cameras and their feed state",
           roles=READERS, tag="video", response=CAMERAS_SCHEMA)
def cameras() -> Response:
    return jsonify(_cameras())


def _field(body: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not pattern.match(value):
        raise BadRequest(f"{name} must be an id (1-64 of A-Z a-z 0-9 _ . -)")
    return value


@API.route(
    bp, "/api/v1/video/watch", method="POST", summary="Watch a camera: the browser's WebRTC offer in, the answer out",
    roles=READERS, tag="video", response=WATCH_SCHEMA, errors=(400, 404, 503),
    description=(
        "Body: JSON {agent_id, camera_id, type: 'offer', sdp} — a receive-only VP8 offer with its ICE "
        "candidates gathered (no trickle). Answers {viewer_id, type: 'answer', sdp}. Errors: 400 bad_offer, "
        "404 unknown_agent / unknown_camera, 503 agent_offline / agent_timeout / agent_failed / "
        "too_many_viewers / video_unavailable."
    ),
)
def watch() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send JSON {agent_id, camera_id, type: 'offer', sdp}")
    agent_id = _field(body, "agent_id", _ID)
    camera_id = _field(body, "camera_id", _ID)
    sdp = body.get("sdp")
    if body.get("type") != "offer" or not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP:
        raise BadRequest("type must be 'offer' and sdp a complete SDP offer (at most 64 KiB)")
    found = relay()
    if found is None:
        return json_error(503, "the video relay is not running in this hub", "video_unavailable")
    state = video.agent_state(get_db(), agent_id)
    if state in (None, "revoked"):
        return json_error(404, f"no agent {agent_id!r} in service", "unknown_agent")
    if state == "offline":
        return json_error(503, f"agent {agent_id} is offline: its cameras can be watched once it reconnects",
                          "agent_offline")
    try:
        viewer_id, answer = found.watch(agent_id, camera_id, sdp, user=g.principal.user.username,
                                        known_online=True)
    except VideoError as exc:
        return json_error(exc.status, exc.detail, exc.error)
    return jsonify({"viewer_id": viewer_id, "type": "answer", "sdp": answer})


@API.route(bp, "/api/v1/video/leave", method="POST", summary="Stop watching (one tile's session)",
           roles=READERS, tag="video", errors=(400,),
           response={"type": "object", "properties": {"left": {"type": "boolean"}}},
           description="Body: JSON {viewer_id}. Answers {left: false} for an unknown or already closed viewer.")
def leave() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send JSON {viewer_id}")
    viewer_id = _field(body, "viewer_id", _VIEWER)
    found = relay()
    try:
        left = found.leave(viewer_id) if found is not None else False
    except VideoError:
        left = False  # the relay is stopping: every viewer is being closed anyway
    return jsonify({"left": left})
