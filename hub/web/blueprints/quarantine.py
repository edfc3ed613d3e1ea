"""隔离记录: messages that failed verification, with their reason."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from hub.web.access import LINK_READERS, allow
from hub.web.db import get_db
from hub.web.pagination import PageRequest
from hub.web.queries import quarantine
from hub.web.state import web_state

bp = Blueprint("quarantine", __name__)


@bp.get("/quarantine")
@allow(*LINK_READERS)
def page() -> str:
    cfg = web_state().config
    conn = get_db()
    paging = PageRequest.parse(request.args, cfg.per_page_default, cfg.per_page_max)
    reason = request.args.get("reason") or None
    agent = request.args.get("agent") or None
    result = quarantine.list_quarantine(conn, paging, reason=reason, agent_id=agent)
    return render_template(
        "quarantine.html", page=result, counts=quarantine.counts_by_reason(conn), reason=reason or "",
        agent=agent or "",
    )
