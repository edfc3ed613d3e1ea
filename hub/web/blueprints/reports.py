"""报表: the monthly report (DOMAIN.md §7) online, with its PDF, Excel and HTML downloads.

The report's data comes from the engine's provider (``report(conn, month, dept)``); the page shows
the report's own sheet (:func:`hub.web.reportfiles.sheet`, the layout of the files). PDF and Excel
are served from ``/api/v1/reports/<month>/pdf|xlsx`` (one place for people and machines; a browser
session works there too), the standalone HTML page from ``/reports/<month>/html``. A department
user reads its own department's report (the provider scopes it).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, render_template, request
from werkzeug.exceptions import BadRequest, NotFound, ServiceUnavailable
from werkzeug.wrappers import Response

from hub.web import reportfiles
from hub.web.access import CASE_READERS, allow
from hub.web.blueprints.supervision import placeholder
from hub.web.db import get_db
from hub.web.language import current_language, gettext
from hub.web.queries.supervision import NotAvailable
from hub.web.state import web_state

bp = Blueprint("reports", __name__)
MONTH = re.compile(r"^20\d{2}-(0[1-9]|1[0-2])$")
REPORT_READERS = CASE_READERS
"""Admin, monitor, leader: the city's report; a department user: its own department's."""


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


def _month(raw: str) -> str:
    if not MONTH.match(raw):
        raise BadRequest("month must be YYYY-MM")
    return raw


@bp.get("/reports")
@allow(*REPORT_READERS)
def page() -> str:
    month = _month(request.args.get("month") or default_month())
    try:
        report = web_state().supervision.report(get_db(), month, g.principal.dept_scope)
    except NotAvailable:
        return placeholder("reports.title")
    data: dict[str, Any] = dict(report or {})
    return render_template(
        "reports.html", month=month, report=data, previous=previous_month(month), next=next_month(month),
        formats=reportfiles.available_formats(), found=report is not None,
        sheet=_sheet(data) if report is not None else "",
    )


def _sheet(report: dict[str, Any]) -> Any:
    """The sheet as the files have it (Chinese); in English its titles and headings translated."""
    if current_language() == "zh":
        return reportfiles.sheet(report)
    return reportfiles.sheet(report, reportfiles.Words(gettext, web_state().catalogue.has))


@bp.get("/reports/<month>/html")
@allow(*REPORT_READERS)
def download_html(month: str) -> Response:
    """The report as the standalone HTML page (a file to keep or mail; it opens offline)."""
    try:
        found = web_state().supervision.report(get_db(), _month(month), g.principal.dept_scope)
    except NotAvailable as exc:
        raise ServiceUnavailable(str(exc)) from None
    if found is None:
        raise NotFound(f"no report for {month}")
    try:
        data = reportfiles.render_file("html", month, found)
    except reportfiles.ReportFilesUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None
    response = Response(data, mimetype="text/html")
    response.headers["Content-Disposition"] = f'attachment; filename="xiaoneng-report-{month}.html"'
    return response
