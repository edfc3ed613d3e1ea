"""投诉 and 政府信息公开 in the UI: lists, one complaint or request with its clock, cards and timeline, and
the desk's forms (register, then each step) for the monitoring room and admins.

Everything entered here becomes a signed record of the desk's stream (:mod:`hub.desk`), is audited
(``desk.complaint.<step>`` / ``desk.disclosure.<step>``, with the record's stream, number and hash)
and reaches the supervision like any captured record. Department users read their own
department's complaints and requests; leaders read all; telecom none. The running hub attaches its
desk (:func:`attach`); without one (a web app alone) the pages read and the forms say the desk is
not running.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from hub.auth.roles import Role
from hub.desk import queries
from hub.desk.forms import answer_type, moment, new_complaint, new_request, whole_number, yes_no
from hub.desk.service import Desk, Entered
from hub.desk.steps import ANSWER_TYPES, CHANNELS, COMPLAINT_STEPS, DISCLOSURE_STEPS, MAX_TEXT, Refused
from hub.engine.calendar import WorkCalendar
from hub.engine.config import EngineConfig
from hub.engine.localtime import LOCAL_TZ, local_date
from hub.web.access import CASE_READERS, READERS, allow
from hub.web.audit import audit_action
from hub.web.blueprints.supervision import paging
from hub.web.db import get_db
from hub.web.filters import Filter, parse
from hub.web.language import gettext
from hub.web.state import web_state

complaints_bp = Blueprint("complaints", __name__)
disclosures_bp = Blueprint("disclosures", __name__)
EXTENSION = "xiaoneng.desk"
WRITERS = frozenset({Role.ADMIN, Role.MONITOR})
"""Who registers complaints and requests and enters their steps."""
PER_PAGE = 30
COMPLAINT_FILTERS = (
    Filter("dept", "target department code"),
    Filter("state", "accept (awaiting acceptance) / answer (awaiting the answer) / answered / closed",
           queries.COMPLAINT_STATES),
    Filter("overdue", "1: open and past the due date of its stage", ("0", "1")),
)
DISCLOSURE_FILTERS = (
    Filter("dept", "department code"),
    Filter("state", "open / paused (补正 or consultation) / answered", queries.DISCLOSURE_STATES),
    Filter("overdue", "1: open and past its due date", ("0", "1")),
)
_FALLBACK_CALENDAR: list[WorkCalendar] = []


def attach(app: Flask, desk: Desk) -> None:
    """Let the app's forms and API enter records through the running hub's desk."""
    app.extensions[EXTENSION] = desk


def current_desk() -> Desk | None:
    from flask import current_app

    desk = current_app.extensions.get(EXTENSION)
    return desk if isinstance(desk, Desk) else None


class DeskNotRunning(Exception):
    """No desk in this process (the web app runs without the hub's ingest)."""


def desk_or_refuse() -> Desk:
    desk = current_desk()
    if desk is None:
        raise DeskNotRunning
    return desk


def calendar() -> WorkCalendar:
    """The supervision's calendar (the one its clocks use), or the built-in one."""
    found = getattr(web_state().supervision, "calendar", None)
    if isinstance(found, WorkCalendar):
        return found
    if not _FALLBACK_CALENDAR:
        _FALLBACK_CALENDAR.append(WorkCalendar())
    return _FALLBACK_CALENDAR[0]


def answer_unit() -> str:
    config = getattr(web_state().supervision, "config", None)
    return (config if isinstance(config, EngineConfig) else EngineConfig()).complaints.answer_unit


def staff_flag_from() -> int:
    config = getattr(web_state().supervision, "config", None)
    return (config if isinstance(config, EngineConfig) else EngineConfig()).complaints.staff_flag_from


def today() -> date:
    return local_date(web_state().clock())


def now_local() -> str:
    """Now in the hub's time zone as a form's ``datetime-local`` value."""
    return web_state().clock().astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def message(exc: Refused) -> str:
    """A refusal in the page's language (field and step names translated)."""
    params: dict[str, Any] = dict(exc.params)
    if "field" in params:
        params["field"] = gettext(f"desk.field.{params['field']}")
    if params.get("step"):
        params["step"] = gettext(f"desk.step.{params['step']}")
    return gettext(exc.key, **params)


def is_writer() -> bool:
    principal = g.get("principal")
    return principal is not None and principal.role in WRITERS


def audit_entry(kind: str, step: str, entered: Entered, extra: Mapping[str, Any]) -> None:
    audit_action(f"desk.{kind}.{step}", entered.ident, {
        "stream": entered.record.stream, "seq": entered.record.seq, "hash": entered.record.hash, **extra})


def _departments() -> dict[str, str]:
    return queries.dept_names(get_db())


# -- complaints -------------------------------------------------------------------------------------


@complaints_bp.get("/complaints")
@allow(*CASE_READERS)
def page() -> str:
    chosen = parse(COMPLAINT_FILTERS, request.args)
    scope = g.principal.dept_scope
    page = queries.complaint_page(get_db(), chosen, scope, paging(PER_PAGE), calendar(), today(), answer_unit())
    return render_template("complaints.html", page=page, chosen=chosen, states=queries.COMPLAINT_STATES,
                           departments=_departments(), department_user=scope is not None,
                           writer=is_writer())  # fmt: skip


def _complaint_form(form: Mapping[str, Any], error: str | None = None, status: int = 200) -> tuple[str, int]:
    html = render_template("complaint_new.html", form=form, error=error, departments=_departments(),
                           channels=CHANNELS, now=now_local(), desk_running=current_desk() is not None,
                           text_max=MAX_TEXT)  # fmt: skip
    return html, status


@complaints_bp.get("/complaints/new")
@allow(*WRITERS)
def new() -> tuple[str, int]:
    return _complaint_form({"filed_at": now_local(), "channel": "letter", "target_dept": request.args.get("dept", "")})


@complaints_bp.post("/complaints/new")
@allow(*WRITERS)
def create() -> Response | tuple[str, int]:
    form = request.form.to_dict()
    try:
        desk = desk_or_refuse()
        new = new_complaint(form, web_state().clock())
        entered = desk.register_complaint(get_db(), new, g.principal.user.username)
    except DeskNotRunning:
        return _complaint_form(form, gettext("desk.not_running"), 409)
    except Refused as exc:
        return _complaint_form(form, message(exc), 400)
    audit_entry("complaint", "filed", entered, {"target_dept": new.target_dept, "channel": new.channel})
    flash(gettext("desk.complaint_registered", ident=entered.ident), "info")
    return redirect(url_for("complaints.detail", complaint_id=entered.ident))


def _complaint_page(complaint_id: str, error: str | None = None, status: int = 200,
                    form: Mapping[str, Any] | None = None) -> tuple[str, int]:  # fmt: skip
    found = queries.complaint_detail(get_db(), complaint_id, g.principal.dept_scope, calendar(), today(),
                                     answer_unit())  # fmt: skip
    if found is None:
        abort(404)
    flag = None
    if found["substantiated"] and found["target_staff"]:
        year = (found["row"] or {}).get("closed_day") or today().isoformat()
        ids = queries.staff_substantiated(get_db(), found["target_staff"], int(year[:4]))
        if len(ids) >= staff_flag_from():
            flag = {"year": int(year[:4]), "count": len(ids), "ids": ids, "first": staff_flag_from()}
    html = render_template("complaint.html", staff_flag=flag, c=found, error=error, form=form or {}, now=now_local(),
                           writer=is_writer(), desk_running=current_desk() is not None,
                           department_user=g.principal.dept_scope is not None,
                           text_max=MAX_TEXT)  # fmt: skip
    return html, status


@complaints_bp.get("/complaints/<complaint_id>")
@allow(*CASE_READERS)
def detail(complaint_id: str) -> tuple[str, int]:
    return _complaint_page(complaint_id)


@complaints_bp.post("/complaints/<complaint_id>/steps")
@allow(*WRITERS)
def step(complaint_id: str) -> Response | tuple[str, int]:
    form = request.form.to_dict()
    kind = form.get("step", "")
    try:
        desk = desk_or_refuse()
        if kind not in COMPLAINT_STEPS:
            raise Refused("desk.error.unknown_step", f"unknown step {kind[:40]!r}", step="")
        entered = desk.complaint_step(get_db(), complaint_id, kind, moment(form, "at", web_state().clock()),
                                      g.principal.user.username, substantiated=yes_no(form, "substantiated"),
                                      text=form.get("text", ""))  # fmt: skip
    except DeskNotRunning:
        return _complaint_page(complaint_id, gettext("desk.not_running"), 409, form)
    except Refused as exc:
        if exc.key == "desk.error.not_found":
            abort(404)
        return _complaint_page(complaint_id, message(exc), 400, form)
    closing = {"substantiated": yes_no(form, "substantiated")} if kind == "closed" else {}
    audit_entry("complaint", kind, entered, closing)
    flash(gettext("desk.step_done", step=gettext(f"desk.step.{kind}")), "info")
    return redirect(url_for("complaints.detail", complaint_id=complaint_id))


# -- disclosure requests ----------------------------------------------------------------------------


@disclosures_bp.get("/disclosures", endpoint="page")
@allow(*CASE_READERS)
def request_page() -> str:
    chosen = parse(DISCLOSURE_FILTERS, request.args)
    scope = g.principal.dept_scope
    page = queries.disclosure_page(get_db(), chosen, scope, paging(PER_PAGE), calendar(), today())
    return render_template("disclosures.html", page=page, chosen=chosen, states=queries.DISCLOSURE_STATES,
                           departments=_departments(), department_user=scope is not None,
                           writer=is_writer())  # fmt: skip


def _request_form(form: Mapping[str, Any], error: str | None = None, status: int = 200) -> tuple[str, int]:
    html = render_template("disclosure_new.html", form=form, error=error, departments=_departments(),
                           channels=CHANNELS, now=now_local(), desk_running=current_desk() is not None,
                           text_max=MAX_TEXT)  # fmt: skip
    return html, status


@disclosures_bp.get("/disclosures/new", endpoint="new")
@allow(*WRITERS)
def request_new() -> tuple[str, int]:
    return _request_form({"received_at": now_local(), "channel": "web", "dept_code": request.args.get("dept", "")})


@disclosures_bp.post("/disclosures/new", endpoint="create")
@allow(*WRITERS)
def request_create() -> Response | tuple[str, int]:
    form = request.form.to_dict()
    try:
        desk = desk_or_refuse()
        new = new_request(form, web_state().clock())
        entered = desk.register_request(get_db(), new, g.principal.user.username)
    except DeskNotRunning:
        return _request_form(form, gettext("desk.not_running"), 409)
    except Refused as exc:
        return _request_form(form, message(exc), 400)
    audit_entry("disclosure", "received", entered, {"dept_code": new.dept_code, "channel": new.channel})
    flash(gettext("desk.request_registered", ident=entered.ident), "info")
    return redirect(url_for("disclosures.detail", request_id=entered.ident))


def _request_page(request_id: str, error: str | None = None, status: int = 200,
                  form: Mapping[str, Any] | None = None) -> tuple[str, int]:  # fmt: skip
    found = queries.disclosure_detail(get_db(), request_id, g.principal.dept_scope, calendar(), today())
    if found is None:
        abort(404)
    html = render_template("disclosure.html", r=found, error=error, form=form or {}, now=now_local(),
                           writer=is_writer(), desk_running=current_desk() is not None,
                           answer_types=ANSWER_TYPES)  # fmt: skip
    return html, status


@disclosures_bp.get("/disclosures/<request_id>", endpoint="detail")
@allow(*CASE_READERS)
def request_detail(request_id: str) -> tuple[str, int]:
    return _request_page(request_id)


@disclosures_bp.post("/disclosures/<request_id>/steps", endpoint="step")
@allow(*WRITERS)
def request_step(request_id: str) -> Response | tuple[str, int]:
    form = request.form.to_dict()
    step = form.get("step", "")
    try:
        desk = desk_or_refuse()
        if step not in DISCLOSURE_STEPS:
            raise Refused("desk.error.unknown_step", f"unknown step {step[:40]!r}", step="")
        entered = desk.request_step(get_db(), request_id, step, moment(form, "at", web_state().clock()),
                                    g.principal.user.username, extension_days=whole_number(form, "extension_days"),
                                    answer_type=answer_type(form))  # fmt: skip
    except DeskNotRunning:
        return _request_page(request_id, gettext("desk.not_running"), 409, form)
    except Refused as exc:
        if exc.key == "desk.error.not_found":
            abort(404)
        return _request_page(request_id, message(exc), 400, form)
    audit_entry("disclosure", step, entered, {k: form[k] for k in ("extension_days", "answer_type") if form.get(k)})
    flash(gettext("desk.step_done", step=gettext(f"desk.step.{step}")), "info")
    return redirect(url_for("disclosures.detail", request_id=request_id))


# -- evidence ---------------------------------------------------------------------------------------


def _evidence(kind: str, ident: str, found: Mapping[str, Any] | None, title: str) -> Response:
    """The evidence package of one complaint or request (hub.evidence; xiaoneng-verify-evidence)."""
    from hub.evidence import EvidenceError, build_subject_package

    if found is None:
        abort(404)
    ids = [int(e["record_id"]) for e in found["timeline"]]
    try:
        data = build_subject_package(get_db(), Path(web_state().config.database).parent, f"{kind}:{ident}", title, ids)
    except EvidenceError as exc:
        return Response(f"{exc}\n", status=409, mimetype="text/plain")
    audit_action(f"{kind}.evidence", target=ident, detail={"bytes": len(data)})
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", ident)[:80]
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="evidence-{kind}-{name}.zip"'})


@complaints_bp.get("/complaints/<complaint_id>/evidence.zip")
@allow(*READERS)  # the signed records name the complainant: not for the department complained about
def evidence(complaint_id: str) -> Response:
    found = queries.complaint_detail(get_db(), complaint_id, g.principal.dept_scope, calendar(), today(),
                                     answer_unit())  # fmt: skip
    return _evidence("complaint", complaint_id, found, f"投诉 {complaint_id}")


@disclosures_bp.get("/disclosures/<request_id>/evidence.zip", endpoint="evidence")
@allow(*CASE_READERS)
def request_evidence(request_id: str) -> Response:
    found = queries.disclosure_detail(get_db(), request_id, g.principal.dept_scope, calendar(), today())
    return _evidence("disclosure", request_id, found, f"信息公开申请 {request_id}")
