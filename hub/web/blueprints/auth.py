"""Sign in, sign out, and the start page of each role."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from hub.auth.sessions import end_session, purge_sessions, start_session
from hub.auth.throttle import LoginThrottle
from hub.auth.users import authenticate
from hub.web.access import EVERYONE, Principal, allow, may, public
from hub.web.audit import audit_action, client_address
from hub.web.db import get_db
from hub.web.guard import safe_next
from hub.web.language import gettext
from hub.web.security import rotate_csrf
from hub.web.state import web_state
from hub.web.templating import NAV

bp = Blueprint("auth", __name__)


def home_url() -> str:
    """The first screen the signed-in role may open."""
    principal = g.get("principal")
    if principal is not None:
        for endpoint, _key in NAV:
            if may(current_app, endpoint, principal.role):
                return url_for(endpoint)
    return url_for("auth.login")


@bp.get("/")
@allow(*EVERYONE)
def index() -> Response:
    return redirect(home_url())


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | str | tuple[str, int, dict[str, str]]:
    """The sign-in form; throttled per (username, address) and per address (hub.auth.throttle).

    Only a POST is an attempt: GET and HEAD (uptime probes) show the form and touch nothing.
    """
    if request.method != "POST":
        if g.get("principal") is not None:
            return redirect(home_url())
        return render_template("login.html", next=safe_next(request.args.get("next")), username="")
    state = web_state()
    conn = get_db()
    username = request.form.get("username", "").strip().lower()[:64]
    password = request.form.get("password", "")
    target = safe_next(request.form.get("next"))
    address = client_address()
    throttle = LoginThrottle(conn, state.pair_throttle, state.address_throttle, clock=state.clock)
    wait = throttle.check(username, address)
    if wait:
        state.metrics.logins.labels(outcome="locked").inc()
        audit_action("auth.login_locked", target=username, username=username or "anonymous")
        html = render_template("login.html", next=target, username=username,
                               error=gettext("login.locked", seconds=wait))
        return html, 429, {"Retry-After": str(wait)}
    user = authenticate(conn, username, password, state.scrypt) if username and password else None
    if user is None:
        wait = throttle.failure(username, address)
        state.metrics.logins.labels(outcome="failed").inc()
        audit_action("auth.login_failed", target=username, username=username or "anonymous")
        message = gettext("login.locked", seconds=wait) if wait else gettext("login.failed")
        html = render_template("login.html", next=target, username=username, error=message)
        return html, 429 if wait else 401, {"Retry-After": str(wait)} if wait else {}
    throttle.success(username, address)
    purge_sessions(conn, state.sessions, clock=state.clock)
    old = session.get("sid")
    if isinstance(old, str):
        end_session(conn, old)
    session.clear()  # a fresh session: no fixation across the login
    session.permanent = True
    session["sid"] = start_session(conn, user.username, state.sessions, ip=address, clock=state.clock)
    rotate_csrf()
    state.metrics.logins.labels(outcome="success").inc()
    audit_action("auth.login", target=user.username, username=user.username)
    g.principal = Principal(user, "session")
    return redirect(target or home_url())


@bp.post("/logout")
@allow(*EVERYONE)
def logout() -> Response:
    """End the session everywhere (the server forgets it)."""
    sid = session.get("sid")
    audit_action("auth.logout")
    if isinstance(sid, str):
        end_session(get_db(), sid)
    session.clear()
    rotate_csrf()
    flash(gettext("login.signed_out"), "info")
    return redirect(url_for("auth.login"))
