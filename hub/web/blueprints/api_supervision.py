"""/api/v1 routes of the supervision engine (stable paths, DESIGN.md §4.6).

They answer 503 ``unavailable`` until the engine's query provider is plugged in.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Response

from hub.web.access import CASE_READERS, READERS
from hub.web.blueprints.supervision import CARD_FILTERS, CASE_FILTERS
from hub.web.db import get_db
from hub.web.openapi import API, PAGINATION, Param, page_of
from hub.web.pagination import PageRequest
from hub.web.state import web_state

bp = Blueprint("api_supervision", __name__, url_prefix="/api/v1")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
PERIOD = re.compile(r"^\d{4}-((0[1-9]|1[0-2])|Q[1-4])$")
KINDS = ("department", "window", "staff", "item")
OBJECT: dict[str, Any] = {"type": "object"}


def _filters(names: tuple[str, ...]) -> dict[str, str]:
    return {n: v for n in names if (v := request.args.get(n, "").strip())}


def _paging() -> PageRequest:
    cfg = web_state().config
    return PageRequest.parse(request.args, cfg.per_page_default, cfg.per_page_max)


def _string_params(names: tuple[str, ...]) -> tuple[Param, ...]:
    return tuple(Param(n, {"type": "string"}, f"filter: {n}") for n in names)


@API.route(bp, "/cases", summary="Cases (department users: their own)", roles=CASE_READERS, tag="supervision",
           response=page_of(OBJECT), params=(*PAGINATION, *_string_params(CASE_FILTERS)), errors=(503,))
def cases() -> Response:
    result = web_state().supervision.cases(get_db(), _filters(CASE_FILTERS), g.principal.dept_scope, _paging())
    return jsonify(result.envelope())


@API.route(bp, "/cases/<case_id>", summary="One case with timeline, clock and cards", roles=CASE_READERS,
           tag="supervision", response=OBJECT, errors=(404, 503))
def case(case_id: str) -> Response:
    found = web_state().supervision.case(get_db(), case_id, g.principal.dept_scope)
    if found is None:
        raise NotFound(f"no case {case_id!r} (or not in your department)")
    return jsonify(dict(found))


@API.route(bp, "/alerts", summary="Cards (reminder / yellow / red) and their state", roles=CASE_READERS,
           tag="supervision", response=page_of(OBJECT), params=(*PAGINATION, *_string_params(CARD_FILTERS)),
           errors=(503,))
def alerts() -> Response:
    result = web_state().supervision.alerts(get_db(), _filters(CARD_FILTERS), g.principal.dept_scope, _paging())
    return jsonify(result.envelope())


@API.route(
    bp, "/rankings", summary="Rankings for a month or quarter", roles=READERS, tag="supervision",
    response={"type": "object", "properties": {"period": {"type": "string"}, "kind": {"type": "string"},
                                               "items": {"type": "array", "items": OBJECT}}},
    params=(Param("period", {"type": "string", "pattern": PERIOD.pattern}, "YYYY-MM or YYYY-Qn (default: this month)"),
            Param("kind", {"type": "string", "enum": list(KINDS)}, "what is ranked (default: department)")),
    errors=(503,),
)
def rankings() -> Response:
    state = web_state()
    period = request.args.get("period") or state.clock().strftime("%Y-%m")
    kind = request.args.get("kind") or "department"
    if not PERIOD.match(period):
        raise BadRequest("period must be YYYY-MM or YYYY-Qn")
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}")
    rows = state.supervision.rankings(get_db(), period, kind, g.principal.dept_scope)
    return jsonify({"period": period, "kind": kind, "items": [dict(r) for r in rows]})


@API.route(bp, "/reports/<month>", summary="The monthly report YYYY-MM as data", roles=READERS,
           tag="supervision", response=OBJECT, errors=(400, 404, 503),
           path_descriptions={"month": "YYYY-MM"})
def report(month: str) -> Response:
    if not MONTH.match(month):
        raise BadRequest("month must be YYYY-MM")
    found = web_state().supervision.report(get_db(), month, g.principal.dept_scope)
    if found is None:
        raise NotFound(f"no report for {month}")
    return jsonify(dict(found))
