"""/api/v1 routes of the desk: complaints (投诉) and disclosure requests (政府信息公开), read and entered.

The same rules as the forms (:mod:`hub.web.blueprints.desk`): admins and the monitoring room enter,
department users read their own, leaders read all. A malformed request is a 400 ``invalid``; a
well-formed one that what the hub holds refuses (a step out of order, a time in the future, an unknown
department, a number taken) a 409 ``refused``, ``detail`` saying why; 409 ``desk_unavailable`` when
this process has no desk (a web app without the hub's ingest).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Response

from hub.desk import queries
from hub.desk.forms import answer_type, moment, new_complaint, new_request, whole_number, yes_no
from hub.desk.service import Entered
from hub.desk.steps import (
    ANSWER_TYPES,
    CHANNELS,
    COMPLAINT_STEPS,
    DISCLOSURE_STEPS,
    MAX_EXTENSION_DAYS,
    MAX_TEXT,
    Refused,
)
from hub.web.access import CASE_READERS
from hub.web.blueprints import desk as pages
from hub.web.blueprints.desk import COMPLAINT_FILTERS, DISCLOSURE_FILTERS, WRITERS, DeskNotRunning
from hub.web.blueprints.supervision import paging
from hub.web.db import get_db
from hub.web.errors import json_error
from hub.web.filters import parse
from hub.web.openapi import API, PAGINATION, Param, page_of
from hub.web.state import web_state

bp = Blueprint("api_desk", __name__, url_prefix="/api/v1")

_TEXT = {"type": "string", "maxLength": MAX_TEXT, "pattern": r"\S"}
_NOTE = {"type": "string", "maxLength": MAX_TEXT}
_ID = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"}
_TIME = {"type": "string", "format": "date-time",
         "description": "RFC 3339 / ISO-8601 (without an offset: Asia/Shanghai); absent: now"}
CLOCK: dict[str, Any] = {"type": ["object", "null"], "properties": {
    "due_date": {"type": ["string", "null"]}, "remaining_days": {"type": ["integer", "null"]},
    "unit": {"type": "string"}, "overdue": {"type": "boolean"}}}
COMPLAINT_ITEM: dict[str, Any] = {
    "type": "object", "required": ["complaint_id"],
    "properties": {"complaint_id": {"type": "string"}, "target_dept": {"type": ["string", "null"]},
                   "clock": CLOCK},
}
REQUEST_ITEM: dict[str, Any] = {
    "type": "object", "required": ["request_id"],
    "properties": {"request_id": {"type": "string"}, "dept_code": {"type": ["string", "null"]}, "clock": CLOCK},
}
ENTERED: dict[str, Any] = {
    "type": "object", "required": ["id", "record"],
    "properties": {"id": {"type": "string"}, "record": {"type": "object", "required": ["stream", "seq", "hash"],
                   "properties": {"stream": {"type": "string"}, "seq": {"type": "integer"},
                                  "hash": {"type": "string"}, "type": {"type": "string"}}}},
}
NEW_COMPLAINT: dict[str, Any] = {
    "type": "object", "required": ["target_dept", "text", "channel"],
    "properties": {"target_dept": _ID, "text": _TEXT, "channel": {"enum": list(CHANNELS)},
                   "filed_at": _TIME, "complaint_id": _ID, "target_staff": _ID, "case_id": _ID,
                   "complainant": {"type": "string", "maxLength": 100}},
}
COMPLAINT_STEP: dict[str, Any] = {
    "type": "object", "required": ["step"],
    "properties": {"step": {"enum": list(COMPLAINT_STEPS)}, "at": _TIME,
                   "substantiated": {"type": "boolean", "description": "required to close an accepted complaint"},
                   "text": {**_NOTE, "description": "a note; the reason when closing before acceptance"}},
}
NEW_REQUEST: dict[str, Any] = {
    "type": "object", "required": ["dept_code", "text", "channel"],
    "properties": {"dept_code": _ID, "text": _TEXT, "channel": {"enum": list(CHANNELS)},
                   "received_at": _TIME, "request_id": _ID, "applicant": {"type": "string", "maxLength": 100}},
}
REQUEST_STEP: dict[str, Any] = {
    "type": "object", "required": ["step"],
    "properties": {"step": {"enum": list(DISCLOSURE_STEPS)}, "at": _TIME,
                   "extension_days": {"type": "integer", "minimum": 1, "maximum": MAX_EXTENSION_DAYS,
                                      "description": "working days (extended)"},
                   "answer_type": {"enum": list(ANSWER_TYPES), "description": "required to answer"}},
}
OBJECT: dict[str, Any] = {"type": "object"}


def _params(defs: tuple[Any, ...]) -> tuple[Param, ...]:
    return tuple(Param(f.name, f.schema(), f.description) for f in defs)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("send a JSON object")
    return data


def _entered(entered: Entered) -> Response:
    r = entered.record
    return jsonify({"id": entered.ident, "record": {"stream": r.stream, "seq": r.seq, "hash": r.hash, "type": r.type}})


#: Refusals of a well-formed request by what the hub holds now (its departments, the steps already
#: recorded, its clock): 409 ``refused``. A malformed request is a 400 ``invalid``.
STATE_REFUSALS = frozenset({
    "desk.error.unknown_dept", "desk.error.exists", "desk.error.order", "desk.error.future",
    "desk.error.too_old", "desk.error.before_previous", "desk.error.substantiated", "desk.error.reason_required",
})


def _refused(exc: Refused) -> Response:
    if exc.key == "desk.error.not_found":
        return json_error(404, exc.detail)
    if exc.key in STATE_REFUSALS:
        return json_error(409, exc.detail, "refused")
    return json_error(400, exc.detail, "invalid")


def _unavailable() -> Response:
    return json_error(409, "the desk is not running in this process: enter complaints and requests on the running "
                           "hub (xiaoneng-hub run)", "desk_unavailable")


@API.route(bp, "/complaints", summary="Complaints (投诉) with their clocks (department users: their own)",
           roles=CASE_READERS, tag="desk", response=page_of(COMPLAINT_ITEM),
           params=(*PAGINATION, *_params(COMPLAINT_FILTERS)))
def complaints() -> Response:
    chosen = parse(COMPLAINT_FILTERS, request.args)
    page = queries.complaint_page(get_db(), chosen, g.principal.dept_scope, paging(pages.PER_PAGE),
                                  pages.calendar(), pages.today(), pages.answer_unit())  # fmt: skip
    return jsonify(page.envelope())


@API.route(bp, "/complaints", method="POST", summary="Register a complaint at the desk (a signed record)",
           roles=WRITERS, tag="desk", response=ENTERED, body=NEW_COMPLAINT, errors=(409,))
def complaint_create() -> Response:
    data = _body()
    try:
        desk = pages.desk_or_refuse()
        new = new_complaint(data, web_state().clock())
        entered = desk.register_complaint(get_db(), new, g.principal.user.username)
    except DeskNotRunning:
        return _unavailable()
    except Refused as exc:
        return _refused(exc)
    pages.audit_entry("complaint", "filed", entered, {"target_dept": new.target_dept, "channel": new.channel,
                                                      "via": "api"})  # fmt: skip
    return _entered(entered)


@API.route(bp, "/complaints/<complaint_id>", summary="One complaint: records, clock, cards, next steps",
           roles=CASE_READERS, tag="desk", response=OBJECT, errors=(404,))
def complaint(complaint_id: str) -> Response:
    found = queries.complaint_detail(get_db(), complaint_id, g.principal.dept_scope, pages.calendar(), pages.today(),
                                     pages.answer_unit())  # fmt: skip
    if found is None:
        raise NotFound(f"no complaint {complaint_id!r} (or not in your department)")
    return jsonify(found)


@API.route(bp, "/complaints/<complaint_id>/steps", method="POST",
           summary="Enter a complaint's next step: accepted, answered, closed (with substantiated)",
           roles=WRITERS, tag="desk", response=ENTERED, body=COMPLAINT_STEP, errors=(404, 409))
def complaint_step(complaint_id: str) -> Response:
    if not queries.complaint_facts(get_db(), complaint_id)[0].filed:
        raise NotFound(f"no complaint {complaint_id!r}")
    data = _body()
    step = data.get("step")
    try:
        desk = pages.desk_or_refuse()
        if step not in COMPLAINT_STEPS:
            raise Refused("desk.error.unknown_step", f"step must be one of {', '.join(COMPLAINT_STEPS)}")
        text = data.get("text", "")
        entered = desk.complaint_step(get_db(), complaint_id, str(step), moment(data, "at", web_state().clock()),
                                      g.principal.user.username, substantiated=yes_no(data, "substantiated"),
                                      text=text if isinstance(text, str) else "")  # fmt: skip
    except DeskNotRunning:
        return _unavailable()
    except Refused as exc:
        return _refused(exc)
    pages.audit_entry("complaint", str(step), entered, {"via": "api"})
    return _entered(entered)


@API.route(bp, "/disclosures", summary="Information-disclosure requests (政府信息公开) with their clocks",
           roles=CASE_READERS, tag="desk", response=page_of(REQUEST_ITEM),
           params=(*PAGINATION, *_params(DISCLOSURE_FILTERS)))
def disclosures() -> Response:
    chosen = parse(DISCLOSURE_FILTERS, request.args)
    page = queries.disclosure_page(get_db(), chosen, g.principal.dept_scope, paging(pages.PER_PAGE),
                                   pages.calendar(), pages.today())  # fmt: skip
    return jsonify(page.envelope())


@API.route(bp, "/disclosures", method="POST", summary="Register a disclosure request at the desk",
           roles=WRITERS, tag="desk", response=ENTERED, body=NEW_REQUEST, errors=(409,))
def disclosure_create() -> Response:
    data = _body()
    try:
        desk = pages.desk_or_refuse()
        new = new_request(data, web_state().clock())
        entered = desk.register_request(get_db(), new, g.principal.user.username)
    except DeskNotRunning:
        return _unavailable()
    except Refused as exc:
        return _refused(exc)
    pages.audit_entry("disclosure", "received", entered, {"dept_code": new.dept_code, "channel": new.channel,
                                                          "via": "api"})  # fmt: skip
    return _entered(entered)


@API.route(bp, "/disclosures/<request_id>", summary="One disclosure request: records, clock, cards, next steps",
           roles=CASE_READERS, tag="desk", response=OBJECT, errors=(404,))
def disclosure(request_id: str) -> Response:
    found = queries.disclosure_detail(get_db(), request_id, g.principal.dept_scope, pages.calendar(), pages.today())
    if found is None:
        raise NotFound(f"no disclosure request {request_id!r} (or not in your department)")
    return jsonify(found)


@API.route(bp, "/disclosures/<request_id>/steps", method="POST",
           summary="Enter a request's next step: 补正, extension, consultation, answer",
           roles=WRITERS, tag="desk", response=ENTERED, body=REQUEST_STEP, errors=(404, 409))
def disclosure_step(request_id: str) -> Response:
    if queries.disclosure_facts(get_db(), request_id)[0].received is None:
        raise NotFound(f"no disclosure request {request_id!r}")
    data = _body()
    step = data.get("step")
    try:
        desk = pages.desk_or_refuse()
        if step not in DISCLOSURE_STEPS:
            raise Refused("desk.error.unknown_step", f"step must be one of {', '.join(DISCLOSURE_STEPS)}")
        entered = desk.request_step(get_db(), request_id, str(step), moment(data, "at", web_state().clock()),
                                    g.principal.user.username, extension_days=whole_number(data, "extension_days"),
                                    answer_type=answer_type(data))  # fmt: skip
    except DeskNotRunning:
        return _unavailable()
    except Refused as exc:
        return _refused(exc)
    pages.audit_entry("disclosure", str(step), entered, {"via": "api"})
    return _entered(entered)
