"""报表: the monthly report (DOMAIN.md §7) online, with its PDF and Excel downloads.

The report's data comes from the engine's provider (``report(conn, month, dept)``); the files are
made by :mod:`hub.web.reportfiles` and served from ``/api/v1/reports/<month>/pdf|xlsx`` (one
place for people and machines; a browser session works there too).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, render_template, request
from werkzeug.exceptions import BadRequest

from hub.web import reportfiles
from hub.web.access import READERS, allow
from hub.web.blueprints.rankings import GRADES
from hub.web.blueprints.supervision import placeholder
from hub.web.db import get_db
from hub.web.queries.supervision import NotAvailable
from hub.web.state import web_state

bp = Blueprint("reports", __name__)
MONTH = re.compile(r"^20\d{2}-(0[1-9]|1[0-2])$")


def previous_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:])
    return f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"


def next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:])
    return f"{year + 1}-01" if mon == 12 else f"{year}-{mon + 1:02d}"


def default_month() -> str:
    """Last month: the newest complete one (the report of the running month is partial)."""
    state = web_state()
    today = state.clock().astimezone(state.tz).date()
    return previous_month(today.strftime("%Y-%m"))


@bp.get("/reports")
@allow(*READERS)
def page() -> str:
    month = request.args.get("month") or default_month()
    if not MONTH.match(month):
        raise BadRequest("month must be YYYY-MM")
    try:
        report = web_state().supervision.report(get_db(), month, g.principal.dept_scope)
    except NotAvailable:
        return placeholder("reports.title")
    data: dict[str, Any] = dict(report or {})
    return render_template(
        "reports.html", month=month, report=data, sections=reportfiles.sections(data),
        previous=previous_month(month), next=next_month(month), formats=reportfiles.available_formats(),
        found=report is not None, grades=GRADES, charts=reportfiles.chart_data(data), is_rate=reportfiles.is_rate,
    )
