"""/api/v1 routes of the supervision engine (stable paths, DESIGN.md §4.6).

They answer 503 ``unavailable`` until the engine's query provider is plugged in.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound, ServiceUnavailable
from werkzeug.wrappers import Response

from hub.web import cardactions, filters, reportfiles
from hub.web.access import CASE_READERS, READERS
from hub.web.blueprints.cards import apply_action, find_card
from hub.web.blueprints.rankings import KINDS, parse_period, with_links
from hub.web.db import get_db
from hub.web.openapi import API, PAGINATION, Param, page_of
from hub.web.pagination import PageRequest
from hub.web.state import web_state

bp = Blueprint("api_supervision", __name__, url_prefix="/api/v1")
MONTH = re.compile(r"^20\d{2}-(0[1-9]|1[0-2])$")
PERIOD = re.compile(r"^20\d{2}-((0[1-9]|1[0-2])|Q[1-4])$")
MONTH_PARAM = {"month": {"type": "string", "pattern": MONTH.pattern}}
OBJECT: dict[str, Any] = {"type": "object"}
CASE_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["case_id", "status"],
    "properties": {
        "case_id": {"type": "string"}, "dept_code": {"type": ["string", "null"]},
        "item_name": {"type": ["string", "null"]}, "status": {"type": "string"},
        "accepted_at": {"type": ["string", "null"]}, "due_at": {"type": ["string", "null"]},
    },
}
CARD_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["card_id", "level", "state"],
    "properties": {
        "card_id": {"type": "string"}, "level": {"type": "string", "enum": list(filters.CARD_LEVELS)},
        "state": {"type": "string", "enum": list(filters.CARD_STATES)}, "rule": {"type": "string"},
        "case_id": {"type": ["string", "null"]}, "dept_code": {"type": ["string", "null"]},
    },
}
ACTION_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["action"],
    "properties": {
        "action": {"type": "string", "enum": list(cardactions.ACTIONS)},
        "note": {"type": "string", "maxLength": cardactions.NOTE_MAX,
                 "description": "required for respond, appeal, uphold and withdraw"},
    },
}


def _paging() -> PageRequest:
    cfg = web_state().config
    return PageRequest.parse(request.args, cfg.per_page_default, cfg.per_page_max)


def _params(defs: tuple[filters.Filter, ...]) -> tuple[Param, ...]:
    return tuple(Param(f.name, f.schema(), f.description) for f in defs)


@API.route(bp, "/cases", summary="Cases (department users: their own)", roles=CASE_READERS, tag="supervision",
           response=page_of(CASE_ITEM), params=(*PAGINATION, *_params(filters.CASE_FILTERS)), errors=(503,))
def cases() -> Response:
    chosen = filters.parse(filters.CASE_FILTERS, request.args)
    result = web_state().supervision.cases(get_db(), chosen, g.principal.dept_scope, _paging())
    return jsonify(result.envelope())


@API.route(bp, "/cases/<case_id>", summary="One case with timeline, clock and cards", roles=CASE_READERS,
           tag="supervision", response=CASE_ITEM, errors=(404, 503))
def case(case_id: str) -> Response:
    found = web_state().supervision.case(get_db(), case_id, g.principal.dept_scope)
    if found is None:
        raise NotFound(f"no case {case_id!r} (or not in your department)")
    return jsonify(dict(found))


@API.route(bp, "/alerts", summary="Cards (reminder / yellow / red) and their state", roles=CASE_READERS,
           tag="supervision", response=page_of(CARD_ITEM), params=(*PAGINATION, *_params(filters.CARD_FILTERS)),
           errors=(503,))
def alerts() -> Response:
    chosen = filters.parse(filters.CARD_FILTERS, request.args)
    result = web_state().supervision.alerts(get_db(), chosen, g.principal.dept_scope, _paging())
    return jsonify(result.envelope())


@API.route(bp, "/alerts/<card_id>", summary="One card with its history and evidence", roles=CASE_READERS,
           tag="supervision", response=CARD_ITEM, errors=(404, 503))
def alert(card_id: str) -> Response:
    found = find_card(card_id)
    if found is None:
        raise NotFound(f"no card {card_id!r} (or not in your department)")
    return jsonify({**dict(found), "offered": cardactions.offered(found, g.principal.role)})


@API.route(bp, "/alerts/<card_id>/actions", method="POST", summary="Act on a card (督办, answer, appeal, ...)",
           roles=cardactions.ACTORS, tag="supervision", response=CARD_ITEM, body=ACTION_BODY,
           errors=(404, 409, 503),
           description="Bearer tokens need no CSRF token; a browser session sends X-CSRF-Token. "
           "The action is audited and announced on the stream as card.updated.")
def alert_action(card_id: str) -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("action"), str):
        raise BadRequest("send a JSON object {\"action\": ..., \"note\": ...}")
    note = body.get("note", "")
    if not isinstance(note, str):
        raise BadRequest("note must be a string")
    found = find_card(card_id)
    if found is None:
        raise NotFound(f"no card {card_id!r} (or not in your department)")
    try:
        after = apply_action(found, body["action"], note)
    except cardactions.ActionRefused as exc:
        raise BadRequest(str(exc)) from None
    return jsonify(dict(after))


@API.route(
    bp, "/rankings", summary="Rankings for a month or quarter", roles=READERS, tag="supervision",
    description="Per entity: score, grade, blocks, the counts the score was computed from (cases_completed, "
                "on_time, early, divisor n, standing cards per rule and level, complaints, ratings per level) and "
                "its deductions grouped per rule (points, count, weight, basis = the formula, cards_url = the "
                "filtered cards list), so that anyone can recompute the score (DOMAIN.md §5).",
    response={"type": "object", "properties": {"period": {"type": "string"}, "kind": {"type": "string"},
                                               "items": {"type": "array", "items": OBJECT}}},
    params=(Param("period", {"type": "string", "pattern": PERIOD.pattern}, "YYYY-MM or YYYY-Qn (default: this month)"),
            Param("kind", {"type": "string", "enum": list(KINDS)}, "what is ranked (default: department)")),
    errors=(503,),
)
def rankings() -> Response:
    state = web_state()
    raw = request.args.get("period")
    if raw and not PERIOD.match(raw):
        raise BadRequest("period must be YYYY-MM or YYYY-Qn (years 2000-2099)")
    period = parse_period(raw)
    kind = request.args.get("kind") or "department"
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}")
    rows = state.supervision.rankings(get_db(), period.label, kind, g.principal.dept_scope)
    return jsonify({"period": period.label, "kind": kind, "items": with_links(rows, kind, period)})


def _month(month: str) -> str:
    if not MONTH.match(month):
        raise BadRequest("month must be YYYY-MM (years 2000-2099)")
    return month


@API.route(bp, "/reports/<month>", summary="The monthly report YYYY-MM as data", roles=CASE_READERS,
           tag="supervision", response=OBJECT, errors=(400, 404, 503),
           path_descriptions={"month": "YYYY-MM"}, path_schemas=MONTH_PARAM)
def report(month: str) -> Response:
    found = web_state().supervision.report(get_db(), _month(month), g.principal.dept_scope)
    if found is None:
        raise NotFound(f"no report for {month}")
    return jsonify(dict(found))


def _download(month: str, fmt: str) -> Response:
    found = web_state().supervision.report(get_db(), _month(month), g.principal.dept_scope)
    if found is None:
        raise NotFound(f"no report for {month}")
    try:
        data = reportfiles.render_file(fmt, month, found)
    except reportfiles.ReportFilesUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None
    response = Response(data, mimetype=reportfiles.FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="xiaoneng-report-{month}.{fmt}"'
    return response


@API.route(bp, "/reports/<month>/pdf", summary="The monthly report as PDF", roles=CASE_READERS, tag="supervision",
           response={"type": "string", "format": "binary"}, media_type=reportfiles.FORMATS["pdf"],
           errors=(400, 404, 503), path_descriptions={"month": "YYYY-MM"}, path_schemas=MONTH_PARAM)
def report_pdf(month: str) -> Response:
    return _download(month, "pdf")


@API.route(bp, "/reports/<month>/xlsx", summary="The monthly report as an Excel workbook", roles=CASE_READERS,
           tag="supervision", response={"type": "string", "format": "binary"},
           media_type=reportfiles.FORMATS["xlsx"], errors=(400, 404, 503), path_descriptions={"month": "YYYY-MM"},
           path_schemas=MONTH_PARAM)
def report_xlsx(month: str) -> Response:
    return _download(month, "xlsx")
