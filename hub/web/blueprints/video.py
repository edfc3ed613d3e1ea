"""视频: the video wall page and its API (cameras; browser ↔ hub WebRTC signalling over HTTP).

The browser makes a receive-only VP8 offer per tile, gathers its ICE candidates (no trickle), and
POSTs it to ``/api/v1/video/watch``; the hub's relay answers once the agent streams that camera
(or says why not). ``/api/v1/video/leave`` ends a tile's session. The relay is the hub's
:class:`hub.video.relay.VideoRelay`, attached to the app by the hub (``app.extensions``); without
it (tests, a hub without the video extra) the page says so and ``watch`` answers 503.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any, Protocol

from flask import Blueprint, current_app, g, jsonify, render_template, request
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from hub.video.errors import AgentTimeout, SnapshotMismatch, SnapshotMissing, VideoError
from hub.web.access import READERS, allow
from hub.web.audit import audit_action
from hub.web.blueprints.links import STALE_AFTER_S
from hub.web.db import get_db, has_table
from hub.web.errors import error_response, json_error
from hub.web.openapi import API
from hub.web.queries import video
from hub.web.state import web_state
from shared.canonical import parse
from shared.errors import RecordError
from shared.record import record_hash

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

    @property
    def snapshots(self) -> Snapshots: ...


class Snapshots(Protocol):
    """What the web layer uses of the relay's :class:`hub.video.snapshots.SnapshotFetcher`."""

    def fetch(self, agent_id: str, ref: str, timeout: float = 10.0) -> bytes: ...


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
        "window_names": {"type": "array", "items": _STR,
                         "description": "the windows' names the hub knows (from its cases), else their ids"},
        "departments": {"type": "array", "items": _STR, "description": "the departments of those windows"},
        "label": {"type": "string", "description": "the tile's label: departments · windows"},
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


Names = dict[str, tuple[str | None, str | None]]


def _names(conn: sqlite3.Connection, windows: set[str]) -> tuple[Names, dict[str, str]]:
    """What the hub knows of ``windows`` (their names and departments, from the cases it has
    received: ``sup_names``): ``{window: (name, dept_code)}`` and ``{dept_code: dept name}``."""
    if not windows or not has_table(conn, "sup_names"):
        return {}, {}
    ids = sorted(windows)
    marks = ",".join("?" * len(ids))
    found = {r[0]: (r[1], r[2]) for r in conn.execute(
        f"SELECT code, name, dept_code FROM sup_names WHERE kind = 'window' AND code IN ({marks})",  # noqa: S608
        ids)}
    depts = sorted({d for _n, d in found.values() if d})
    if not depts:
        return found, {}
    marks = ",".join("?" * len(depts))
    names = {r[0]: r[1] or r[0] for r in conn.execute(
        f"SELECT code, name FROM sup_names WHERE kind = 'dept' AND code IN ({marks})", depts)}  # noqa: S608
    return found, names


def label(cam: dict[str, Any], windows: Names, depts: dict[str, str]) -> dict[str, Any]:
    """A tile's label: the departments and windows the camera watches (names the hub knows, else
    the ids), e.g. ``市市场监督管理局 · 1号窗口、2号窗口、3号窗口``; ``hall · camera`` for a camera
    over no window. Adds ``window_names``, ``departments`` and ``label`` to ``cam``."""
    names: list[str] = []
    seen_depts: list[str] = []
    for window_id in cam["windows"]:
        name, dept = windows.get(window_id, (None, None))
        names.append(name or window_id)
        dept_name = depts.get(dept, dept) if dept else None
        if dept_name and dept_name not in seen_depts:
            seen_depts.append(dept_name)
    cam["window_names"] = names
    cam["departments"] = seen_depts
    if names:
        cam["label"] = " · ".join(([("、".join(seen_depts))] if seen_depts else []) + ["、".join(names)])
    else:
        cam["label"] = f"{cam['hall_id']} · {cam['camera_id']}" if cam["hall_id"] else cam["camera_id"]
    return cam


def _cameras() -> dict[str, Any]:
    state = web_state()
    conn = get_db()
    halls = video.wall(conn, now=state.clock(), stale_after_s=STALE_AFTER_S)
    windows, depts = _names(conn, {w for hall in halls for cam in hall["cameras"] for w in cam["windows"]})
    found = relay()
    streams: dict[tuple[str, str], dict[str, Any]] = {}
    if found is not None:
        streams = {(s["agent_id"], s["camera_id"]): s for s in found.stats().get("streams", [])}
    for hall in halls:
        for cam in hall["cameras"]:
            s = streams.get((cam["agent_id"], cam["camera_id"]))
            cam["viewers"] = int(s["viewers"]) if s else 0
            cam["streaming"] = bool(s and s["state"] == "live")
            label(cam, windows, depts)
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
    # who watches what, from when (the relay audits the end: video.watched, with the duration)
    audit_action("video.watch", f"{agent_id}/{camera_id}", {"viewer": viewer_id})
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


SNAPSHOT_TIMEOUT_S = 10.0
_SNAPSHOT_MESSAGES = {
    SnapshotMissing: "video.snapshot_missing", SnapshotMismatch: "video.snapshot_mismatch",
    AgentTimeout: "video.snapshot_timeout",
}


@bp.get("/video/snapshot/<int:record_id>")
@allow(*READERS)
def snapshot(record_id: int) -> Response:
    """The evidence JPEG behind a presence / queue record, fetched from its agent now and shown only
    if its SHA-256 is the ``snapshot_ref`` of the signed record (else a page that says why)."""
    conn = get_db()
    row = conn.execute("SELECT agent_id, hash, raw FROM records WHERE id = ?", (record_id,)).fetchone() \
        if has_table(conn, "records") else None
    if row is None:
        return error_response(404, f"no record {record_id}", error="not_found")
    raw = row["raw"].encode() if isinstance(row["raw"], str) else bytes(row["raw"])
    if record_hash(raw) != bytes(row["hash"]):
        return error_response(409, f"record {record_id} does not match its ledger hash: altered in the store",
                              error="record_altered", message_key="video.snapshot_record_altered")
    try:
        body = parse(raw).get("body")
    except (RecordError, AttributeError):
        body = None
    ref = body.get("snapshot_ref") if isinstance(body, dict) else None
    if not isinstance(ref, str) or len(ref) != 64:
        return error_response(404, f"record {record_id} carries no snapshot", error="no_snapshot",
                              message_key="video.snapshot_none")
    agent_id = str(row["agent_id"])
    found = relay()
    if found is None:
        return error_response(503, "the video relay is not running in this hub", error="video_unavailable",
                              message_key="video.unavailable")
    if video.agent_state(conn, agent_id) != "online":
        audit_action("video.snapshot", f"record/{record_id}", {"ref": ref, "agent": agent_id, "outcome": "offline"})
        return error_response(503, f"agent {agent_id} is offline: the snapshot can be fetched once it reconnects",
                              error="agent_offline", message_key="video.snapshot_offline")
    try:
        jpeg = found.snapshots.fetch(agent_id, ref, SNAPSHOT_TIMEOUT_S)
    except VideoError as exc:
        audit_action("video.snapshot", f"record/{record_id}", {"ref": ref, "agent": agent_id, "outcome": exc.error})
        key = next((k for cls, k in _SNAPSHOT_MESSAGES.items() if isinstance(exc, cls)), "video.snapshot_failed")
        return error_response(exc.status, exc.detail, error=exc.error, message_key=key)
    audit_action("video.snapshot", f"record/{record_id}", {"ref": ref, "agent": agent_id, "outcome": "shown",
                                                            "bytes": len(jpeg)})
    response = Response(jpeg, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=3600"  # content-addressed: it cannot change
    response.headers["X-Snapshot-SHA256"] = ref
    return response
