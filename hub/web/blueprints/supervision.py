"""办件监控: the cases board and the case page, over the supervision engine's query provider.

Until the engine plugs in (``create_app(supervision=...)``) they show that it is not running yet.
Department users get their own department's rows only: the provider receives their scope.
The 预警纠错, 绩效排名 and 报表 screens live in :mod:`cards`, :mod:`rankings` and :mod:`reports`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, g, render_template, request

from hub.web import filters
from hub.web.access import CASE_READERS, allow
from hub.web.audit import audit_action
from hub.web.db import get_db
from hub.web.pagination import PageRequest
from hub.web.queries.supervision import NotAvailable
from hub.web.state import web_state

bp = Blueprint("supervision", __name__)
CASE_FILTERS = tuple(f.name for f in filters.CASE_FILTERS)
CARD_FILTERS = tuple(f.name for f in filters.CARD_FILTERS)
CASES_PER_PAGE = 30


def placeholder(title_key: str) -> str:
    """The page of a screen whose engine is not running yet."""
    return render_template("placeholder.html", title_key=title_key, message_key="common.unavailable")


def paging(default: int | None = None) -> PageRequest:
    """``?page=&per_page=`` of this request."""
    cfg = web_state().config
    return PageRequest.parse(request.args, default or cfg.per_page_default, cfg.per_page_max)


@bp.get("/cases")
@allow(*CASE_READERS)
def cases() -> str:
    state = web_state()
    chosen = filters.parse(filters.CASE_FILTERS, request.args)
    try:
        result = state.supervision.cases(get_db(), chosen, g.principal.dept_scope, paging(CASES_PER_PAGE))
    except NotAvailable:
        return placeholder("cases.title")
    return render_template(
        "cases.html", page=result, chosen=chosen, statuses=filters.CASE_STATUSES,
        department_user=g.principal.dept_scope is not None,
    )


@bp.get("/cases/<case_id>")
@allow(*CASE_READERS)
def case(case_id: str) -> str:
    state = web_state()
    try:
        found = state.supervision.case(get_db(), case_id, g.principal.dept_scope)
    except NotAvailable:
        return placeholder("cases.title")
    if found is None:
        abort(404)
    record: dict[str, Any] = dict(found)
    clock: dict[str, Any] = dict(record.get("clock") or {})
    for key in ("status", "completed_at", "outcome", "provisional", "remaining_days", "remaining_s", "unit"):
        if key in record and key not in clock:
            clock[key] = record[key]
    return render_template(
        "case.html", case=record, clock=clock,
        timeline=list(record.get("timeline") or []), cards=list(record.get("cards") or []),
    )


@bp.get("/cases/<case_id>/evidence.zip")
@allow(*CASE_READERS)
def case_evidence(case_id: str) -> Response:
    """The case's evidence package (hub.evidence; check it with xiaoneng-verify-evidence)."""
    from hub.evidence import EvidenceError, build_package

    state = web_state()
    try:
        found = state.supervision.case(get_db(), case_id, g.principal.dept_scope)
    except NotAvailable:
        found = None
    if found is None:
        abort(404)
    try:
        data = build_package(get_db(), Path(state.config.database).parent, case_id)
    except EvidenceError as exc:
        return Response(f"{exc}\n", status=409, mimetype="text/plain")
    audit_action("case.evidence", target=case_id, detail={"bytes": len(data)})
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", case_id)[:80]
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="evidence-{name}.zip"'})
