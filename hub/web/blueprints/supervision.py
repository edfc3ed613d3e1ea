"""办件监控 / 预警纠错 / 绩效排名 / 报表: pages over the supervision engine's query provider.

Until the engine plugs in (``create_app(supervision=...)``) they show that it is not running yet.
Department users get their own department's rows only: the provider receives their scope.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, render_template, request

from hub.web.access import CASE_READERS, READERS, allow
from hub.web.db import get_db
from hub.web.pagination import PageRequest
from hub.web.queries.supervision import NotAvailable
from hub.web.state import web_state

bp = Blueprint("supervision", __name__)
CASE_FILTERS = ("q", "dept", "item", "window", "status", "from", "to")
CARD_FILTERS = ("level", "state", "dept")


def _filters(names: tuple[str, ...]) -> dict[str, str]:
    return {n: v for n in names if (v := request.args.get(n, "").strip())}


def _placeholder(title_key: str) -> str:
    return render_template("placeholder.html", title_key=title_key, message_key="common.unavailable")


def _paging() -> PageRequest:
    cfg = web_state().config
    return PageRequest.parse(request.args, cfg.per_page_default, cfg.per_page_max)


@bp.get("/cases")
@allow(*CASE_READERS)
def cases() -> str:
    state = web_state()
    try:
        result = state.supervision.cases(get_db(), _filters(CASE_FILTERS), g.principal.dept_scope, _paging())
    except NotAvailable:
        return _placeholder("cases.title")
    return render_template("table.html", title_key="cases.title", page=result)


@bp.get("/cases/<case_id>")
@allow(*CASE_READERS)
def case(case_id: str) -> str:
    state = web_state()
    try:
        found = state.supervision.case(get_db(), case_id, g.principal.dept_scope)
    except NotAvailable:
        return _placeholder("cases.title")
    if found is None:
        abort(404)
    return render_template("record.html", title_key="cases.title", record=dict(found))


@bp.get("/cards")
@allow(*CASE_READERS)
def cards() -> str:
    state = web_state()
    try:
        result = state.supervision.alerts(get_db(), _filters(CARD_FILTERS), g.principal.dept_scope, _paging())
    except NotAvailable:
        return _placeholder("cards.title")
    return render_template("table.html", title_key="cards.title", page=result)


@bp.get("/rankings")
@allow(*READERS)
def rankings() -> str:
    state = web_state()
    period = request.args.get("period") or state.clock().strftime("%Y-%m")
    kind = request.args.get("kind") or "department"
    try:
        rows: list[Any] = list(state.supervision.rankings(get_db(), period, kind, g.principal.dept_scope))
    except NotAvailable:
        return _placeholder("rankings.title")
    return render_template("table.html", title_key="rankings.title", rows=rows)


@bp.get("/reports")
@allow(*READERS)
def reports() -> str:
    state = web_state()
    month = request.args.get("month") or state.clock().strftime("%Y-%m")
    try:
        report = state.supervision.report(get_db(), month, g.principal.dept_scope)
    except NotAvailable:
        return _placeholder("reports.title")
    return render_template("record.html", title_key="reports.title", record=dict(report or {}))
