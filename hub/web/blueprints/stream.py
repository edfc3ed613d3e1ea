"""/api/v1/stream: Server-Sent Events from the event bus, filtered by the caller's role.

One generator per client: it waits on its subscription with a timeout and writes a comment line
as heartbeat, so a dead client is noticed within ``sse_heartbeat_s``. It subscribes only once the
server starts sending (a generator that never starts cannot leak a subscription) and ends when
the bus closes (hub shutdown) or after ``sse_max_duration_s`` (the browser reconnects with
``Last-Event-ID`` and misses nothing still in the bus's replay buffer).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Blueprint, g, request
from werkzeug.exceptions import ServiceUnavailable
from werkzeug.wrappers import Response

from hub.auth.roles import Role
from hub.web.access import EVERYONE, LINK_READERS, READERS, Principal
from hub.web.events import BusClosed
from hub.web.openapi import API, Param
from hub.web.state import WebState, web_state

bp = Blueprint("stream", __name__, url_prefix="/api/v1")
RETRY_MS = 3000


def visible(kind: str, data: Mapping[str, Any], principal: Principal) -> bool:
    """Whether ``principal`` may receive an event of ``kind``."""
    role = principal.role
    if kind.startswith("stream."):
        return True
    if kind.startswith(("link.", "quarantine.", "record.")):
        return role in LINK_READERS
    if kind.startswith(("card.", "case.")):
        if role is Role.DEPARTMENT:
            return principal.user.dept_code is not None and data.get("dept_code") == principal.user.dept_code
        return role in READERS
    if kind.startswith("overview."):
        return role in READERS
    return role in (Role.ADMIN, Role.MONITOR)


def _last_event_id() -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def events(state: WebState, principal: Principal, last_id: int | None) -> Iterator[str]:
    """The SSE text of one client's stream."""
    cfg = state.config
    deadline = time.monotonic() + cfg.sse_max_duration_s
    gauge = state.metrics.sse_clients
    yield f"retry: {RETRY_MS}\n: connected\n\n"
    gauge.inc()
    try:
        with state.bus.subscribe(last_id) as sub:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                try:
                    event = sub.get(timeout=min(cfg.sse_heartbeat_s, left))
                except BusClosed:
                    yield "event: stream.closed\ndata: {}\n\n"
                    return
                if event is None:
                    yield ": heartbeat\n\n"
                elif visible(event.kind, event.data, principal):
                    yield event.sse()
    finally:
        gauge.dec()


@API.route(
    bp, "/stream", summary="Live events (Server-Sent Events)", roles=EVERYONE, tag="stream",
    media_type="text/event-stream", response={"type": "string"},
    description="Each event has an id, a kind (link.status, card.raised, ...) and JSON data; a comment line "
    "every heartbeat. Send Last-Event-ID to resume; a stream.resync event means: reload your state.",
    params=(Param("last_event_id", {"type": "integer"}, "resume after this event id (or the Last-Event-ID header)"),),
    errors=(503,),
)
def stream() -> Response:
    state = web_state()
    if state.bus.closed:
        raise ServiceUnavailable("the hub is shutting down")
    limit = state.config.sse_max_clients
    if state.bus.subscriber_count >= limit or not state.streams.acquire(limit):
        raise ServiceUnavailable("too many live connections; close other tabs of the hub")
    try:
        response = Response(events(state, g.principal, _last_event_id()), mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Accel-Buffering"] = "no"
        response.call_on_close(state.streams.release)  # the server closes the response when the stream ends
    except BaseException:
        state.streams.release()
        raise
    return response
