"""收件箱 and 通知设置: each user's notifications in the UI, and how they want to be reached.

The inbox lists the user's own messages (cards raised or escalated for their department, 督办
notices, the monthly report for leaders), newest first, with an unread filter; a message is marked
read when opened or with "all read". The settings page keeps the user's e-mail address and mobile
number (``users.email`` / ``users.phone``) and which channels and card levels reach them; every
change is audited (``notify.settings``). The nav shows the unread count (``inbox_unread``).
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from hub.auth.errors import AuthError
from hub.auth.users import get_contact, set_contact
from hub.notify.config import load_config
from hub.notify.inbox import item_link, list_inbox, mark_read, unread_count
from hub.notify.recipients import CHANNELS, LEVELS, Prefs, get_prefs, set_prefs
from hub.notify.schema import ensure_schema, has_schema
from hub.web.access import EVERYONE, allow
from hub.web.audit import audit_action
from hub.web.db import get_db
from hub.web.language import gettext
from hub.web.state import web_state

bp = Blueprint("inbox", __name__)
PER_PAGE = 30


@bp.app_context_processor
def _unread() -> dict[str, object]:
    def inbox_unread() -> int:
        principal = g.get("principal")
        if principal is None:
            return 0
        try:
            return unread_count(get_db(), principal.user.username)
        except Exception:  # the badge must never break a page
            return 0

    return {"inbox_unread": inbox_unread}


def _page_number() -> int:
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        raise BadRequest("page must be a whole number") from None
    return max(1, page)


@bp.get("/inbox")
@allow(*EVERYONE)
def inbox() -> str:
    unread_only = request.args.get("show") == "unread"
    page = _page_number()
    items, total = list_inbox(get_db(), g.principal.user.username, unread_only=unread_only, limit=PER_PAGE,
                              offset=(page - 1) * PER_PAGE)  # fmt: skip
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    unread = unread_count(get_db(), g.principal.user.username)
    return render_template("inbox.html", items=items, total=total, page=page, pages=pages, unread_only=unread_only,
                           unread=unread)  # fmt: skip


@bp.get("/inbox/unread")
@allow(*EVERYONE)
def unread() -> dict[str, int]:
    """The signed-in user's unread count (the top bar refreshes its badge with it)."""
    return {"unread": unread_count(get_db(), g.principal.user.username)}


@bp.post("/inbox/<int:item_id>/read")
@allow(*EVERYONE)
def read(item_id: int) -> Response:
    username = g.principal.user.username
    conn = get_db()
    mark_read(conn, username, web_state().clock(), item_id)
    link = item_link(conn, username, item_id) if request.form.get("open") else None
    # the stored link is a path of this UI (never taken from the form: no open redirect)
    if link and link.startswith("/") and not link.startswith(("//", "/\\")):
        return redirect(link)
    return redirect(url_for("inbox.inbox"))


@bp.post("/inbox/read-all")
@allow(*EVERYONE)
def read_all() -> Response:
    changed = mark_read(get_db(), g.principal.user.username, web_state().clock())
    flash(gettext("inbox.marked", count=changed), "info")
    return redirect(url_for("inbox.inbox"))


def _settings_page(status: int = 200, form: dict[str, str] | None = None) -> tuple[str, int]:
    conn = get_db()
    username = g.principal.user.username
    contact = get_contact(conn, username)
    prefs = get_prefs(conn, username) if has_schema(conn) else Prefs()
    try:
        available = sorted(load_config(web_state().config.database.parent).channels)
    except Exception:  # noqa: BLE001 - a bad notify.yaml is the notifier's error to report, not this page's
        available = ["inbox"]
    values = form or {"email": contact.email or "", "phone": contact.phone or ""}
    html = render_template("notify_settings.html", form=values, prefs=prefs, channels=CHANNELS, levels=LEVELS,
                           available=available)  # fmt: skip
    return html, status


@bp.get("/settings/notifications")
@allow(*EVERYONE)
def settings() -> tuple[str, int]:
    return _settings_page()


@bp.post("/settings/notifications")
@allow(*EVERYONE)
def save_settings() -> Response | tuple[str, int]:
    conn = get_db()
    username = g.principal.user.username
    form = {"email": request.form.get("email", "").strip(), "phone": request.form.get("phone", "").strip()}
    channels = frozenset(c for c in request.form.getlist("channel") if c in CHANNELS)
    levels = frozenset(lv for lv in request.form.getlist("level") if lv in LEVELS)
    try:
        contact = set_contact(conn, username, form["email"], form["phone"])
    except AuthError as exc:
        key = f"auth_error.{exc.code}"
        flash(gettext(key) if web_state().catalogue.has(key) else str(exc), "error")
        return _settings_page(400, form)
    ensure_schema(conn)
    set_prefs(conn, username, Prefs(channels, levels), web_state().clock())
    audit_action("notify.settings", username, {
        "email": bool(contact.email), "phone": bool(contact.phone), "channels": sorted(channels),
        "levels": sorted(levels),
    })
    flash(gettext("notify.saved"), "info")
    return redirect(url_for("inbox.settings"))
