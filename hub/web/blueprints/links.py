"""链路: every agent's link for telecom engineers, with a history chart."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from werkzeug.exceptions import BadRequest

from hub.web.access import LINK_READERS, allow
from hub.web.db import get_db
from hub.web.pagination import PageRequest
from hub.web.queries import links
from hub.web.state import web_state

bp = Blueprint("links", __name__)
STALE_AFTER_S = 90


def state_filter() -> str | None:
    """``?state=`` checked against the known link states."""
    value = request.args.get("state") or None
    if value is not None and value not in links.STATES:
        raise BadRequest(f"state must be one of {', '.join(links.STATES)}")
    return value


@bp.get("/links")
@allow(*LINK_READERS)
def page() -> str:
    state = web_state()
    conn = get_db()
    paging = PageRequest.parse(request.args, state.config.per_page_max, state.config.per_page_max)
    result = links.list_links(
        conn, paging, now=state.clock(), stale_after_s=STALE_AFTER_S, state=state_filter(),
        site_id=request.args.get("site") or None,
    )
    return render_template(
        "links.html", page=result, summary=links.summary(conn), state_filter=request.args.get("state", ""),
        states=links.STATES, per_page=paging.per_page,
    )
