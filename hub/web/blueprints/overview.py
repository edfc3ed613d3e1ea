"""总览: the overview wall (live through SSE, figures from /api/v1/overview)."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Blueprint, g, render_template

from hub.web.access import READERS, allow
from hub.web.db import get_db
from hub.web.pagination import PageRequest
from hub.web.queries import links, quarantine
from hub.web.queries.supervision import NotAvailable
from hub.web.state import web_state

bp = Blueprint("overview", __name__)

SUPERVISION_FIGURES = ("accepted_today", "completed_today", "open", "overdue", "on_time_rate", "cards_today")
FEED_SIZE = 20
FEED_FIELDS = ("card_id", "level", "rule", "state", "case_id", "dept_code", "dept_name", "title", "message",
               "raised_at", "subject")


def snapshot(conn: sqlite3.Connection) -> dict[str, Any]:
    """The figures of the wall, as /api/v1/overview returns them."""
    state = web_state()
    now = state.clock()
    principal = g.get("principal")
    dept = principal.dept_scope if principal is not None else None
    supervision: dict[str, Any] | None
    try:
        supervision = dict(state.supervision.overview(conn, dept))
    except NotAvailable:
        supervision = None
    ranking: list[dict[str, Any]] | None
    month = now.astimezone(state.tz).strftime("%Y-%m")
    try:
        ranking = [
            {k: r.get(k) for k in ("rank", "name", "entity", "score", "grade")}
            for r in state.supervision.rankings(conn, month, "department", dept)
        ][:10]
    except NotAvailable:
        ranking = None
    recent: list[dict[str, Any]] | None
    try:
        page = state.supervision.alerts(conn, {"historical": "0"}, dept, PageRequest(1, FEED_SIZE))  # live only
        recent = [{k: dict(c).get(k) for k in FEED_FIELDS} for c in page.items]
    except NotAvailable:
        recent = None
    return {
        "at": now.isoformat(timespec="seconds"),
        "links": links.summary(conn),
        "quarantine_24h": quarantine.recent_count(conn, now),
        "sites": links.sites_summary(conn),
        "supervision": supervision,
        "ranking": ranking,
        "recent_cards": recent,
    }


@bp.get("/overview")
@allow(*READERS)
def page() -> str:
    data = snapshot(get_db())
    return render_template("overview.html", data=data, figures=SUPERVISION_FIGURES)
