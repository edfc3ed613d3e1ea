"""The request guard: who is calling (session or bearer token), may they, and is the form genuine."""

from __future__ import annotations

import logging
import unicodedata
from urllib.parse import urlencode, urlsplit

from flask import Response, current_app, g, redirect, request, session
from werkzeug.urls import iri_to_uri

from hub.auth.sessions import resolve_session
from hub.auth.tokens import user_for_token
from hub.web.access import Principal, UndeclaredAccess, roles_for
from hub.web.db import get_db
from hub.web.errors import error_response, json_error
from hub.web.security import UNSAFE_METHODS, csrf_ok
from hub.web.state import web_state

_log = logging.getLogger("hub.web")


def _token_allowed() -> bool:
    return request.path.startswith("/api/") or request.path == "/metrics"


def load_principal() -> Principal | Response | None:
    """The caller, None if anonymous, or a 401 response for a bad bearer token."""
    header = request.headers.get("Authorization", "")
    if header and _token_allowed():
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return json_error(401, "use 'Authorization: Bearer <token>'")
        user = user_for_token(get_db(), token.strip())
        if user is None:
            return json_error(401, "the bearer token is unknown, revoked, or its user is disabled")
        return Principal(user, "token")
    sid = session.get("sid")
    if isinstance(sid, str):
        state = web_state()
        user = resolve_session(get_db(), sid, state.sessions, clock=state.clock)
        if user is not None:
            return Principal(user, "session")
        session.pop("sid", None)
    return None


NEXT_MAX = 2048


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (the caller falls back to the home page).

    A path here: starts with one ``/``; has no ``//`` and no backslash anywhere (browsers read
    ``/\\host``, and ``/<tab>/host`` as ``//host``: another host); no control, format or whitespace character
    (browsers drop tabs and newlines from URLs); no scheme or host; at most :data:`NEXT_MAX` long.
    """
    if not target or len(target) > NEXT_MAX or not target.startswith("/"):
        return None
    if "//" in target or "\\" in target:
        return None
    if any(unicodedata.category(ch)[0] in "CZ" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def guard() -> Response | None:
    """before_request: authenticate, authorise, check CSRF. Returns a response to refuse."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # no route: the 404/405 handler answers
    try:
        roles = roles_for(current_app, endpoint)
    except UndeclaredAccess:
        _log.error("endpoint %s declares no roles; refusing it for everyone", endpoint)
        return error_response(403, f"endpoint {endpoint} has no access rule", error="forbidden")
    loaded = load_principal()
    if isinstance(loaded, Response):
        return loaded
    g.principal = loaded
    unsafe = request.method in UNSAFE_METHODS
    if roles is None:
        if unsafe and not csrf_ok():
            return error_response(403, "missing or wrong CSRF token", error="csrf_failed", message_key="error.csrf")
        return None
    if loaded is None:
        if request.path.startswith("/api/") or request.path == "/metrics":
            return json_error(401, "sign in or send 'Authorization: Bearer <token>'")
        target = iri_to_uri(request.full_path if request.query_string else request.path)  # %-encoded: passes safe_next
        response = redirect("/login?" + urlencode({"next": target}))
        return response  # type: ignore[return-value]
    if loaded.role not in roles:
        return error_response(403, f"role {loaded.role.value!r} may not use {request.path}")
    if unsafe and loaded.via == "session" and not csrf_ok():
        return error_response(403, "missing or wrong CSRF token", error="csrf_failed", message_key="error.csrf")
    return None
