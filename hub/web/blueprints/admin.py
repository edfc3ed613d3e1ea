"""用户与审计: users, API tokens and the audit log (admin only; every change audited)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from hub.auth.audit import list_audit
from hub.auth.errors import AuthError
from hub.auth.roles import Role
from hub.auth.tokens import create_token, find_token, list_tokens, revoke_token
from hub.auth.users import create_user, list_users, set_disabled
from hub.web.access import ADMIN, allow
from hub.web.audit import audit_action
from hub.web.db import get_db
from hub.web.language import gettext
from hub.web.pagination import Page, PageRequest
from hub.web.state import web_state

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _error_text(exc: AuthError) -> str:
    key = f"auth_error.{exc.code}"
    catalogue = web_state().catalogue
    return gettext(key) if catalogue.has(key) else str(exc)


def _users_page(status: int = 200, *, new_token: str | None = None, form: dict[str, str] | None = None
                ) -> tuple[str, int]:
    conn = get_db()
    html = render_template(
        "users.html", users=list_users(conn), tokens=list_tokens(conn), roles=list(Role), new_token=new_token,
        form=form or {},
    )
    return html, status


@bp.get("/users")
@allow(*ADMIN)
def users() -> tuple[str, int]:
    return _users_page()


@bp.post("/users")
@allow(*ADMIN)
def create_user_view() -> Response | tuple[str, int]:
    state = web_state()
    form = {k: request.form.get(k, "").strip() for k in ("username", "display_name", "role", "dept_code")}
    try:
        user = create_user(
            get_db(), form["username"].lower(), request.form.get("password", ""), form["role"],
            display_name=form["display_name"] or None, dept_code=form["dept_code"] or None,
            params=state.scrypt, clock=state.clock,
        )
    except AuthError as exc:
        flash(_error_text(exc), "error")
        return _users_page(400, form=form)
    audit_action("user.create", user.username, {"role": user.role.value, "dept_code": user.dept_code})
    flash(gettext("admin.user_created", username=user.username), "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/disable")
@allow(*ADMIN)
def disable_user(username: str) -> Response | tuple[str, int]:
    return _set_disabled(username, True)


@bp.post("/users/<username>/enable")
@allow(*ADMIN)
def enable_user(username: str) -> Response | tuple[str, int]:
    return _set_disabled(username, False)


def _set_disabled(username: str, disabled: bool) -> Response | tuple[str, int]:
    try:
        set_disabled(get_db(), username, disabled)
    except AuthError as exc:
        flash(_error_text(exc), "error")
        return _users_page(404 if exc.code == "unknown_user" else 400)
    audit_action("user.disable" if disabled else "user.enable", username)
    done = (gettext("admin.user_disabled", username=username) if disabled
            else gettext("admin.user_enabled", username=username))
    flash(done, "info")
    return redirect(url_for("admin.users"))


@bp.post("/tokens")
@allow(*ADMIN)
def create_token_view() -> tuple[str, int]:
    """Create a token and show it once (no redirect: the plain token must never sit in a cookie)."""
    username = request.form.get("username", "").strip()
    name = request.form.get("name", "")
    try:
        plain, row = create_token(get_db(), username, name, clock=web_state().clock)
    except AuthError as exc:
        flash(_error_text(exc), "error")
        return _users_page(400)
    audit_action("token.create", row.token_id, {"user": username, "name": row.name})
    return _users_page(201, new_token=plain)


@bp.post("/tokens/<token_id>/revoke")
@allow(*ADMIN)
def revoke_token_view(token_id: str) -> Response:
    conn = get_db()
    token = find_token(conn, token_id)
    if token is None or not revoke_token(conn, token.token_hash, clock=web_state().clock):
        raise NotFound(gettext("auth_error.token_unknown"))
    audit_action("token.revoke", token.token_id, {"user": token.username, "name": token.name})
    flash(gettext("admin.token_revoked", token_id=token.token_id), "info")
    return redirect(url_for("admin.users"))


@bp.get("/audit")
@allow(*ADMIN)
def audit_log() -> str:
    cfg = web_state().config
    paging = PageRequest.parse(request.args, cfg.per_page_default, cfg.per_page_max)
    user = request.args.get("user") or None
    action = request.args.get("action") or None
    entries, total = list_audit(get_db(), username=user, action=action, limit=paging.per_page, offset=paging.offset)
    return render_template(
        "audit.html", page=Page(entries, paging.page, paging.per_page, total), user=user or "", action=action or ""
    )
