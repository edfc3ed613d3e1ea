"""事项目录 in the UI: the item catalogue (list, item with its versions, older versions), edits and
imports by admins (audited: who changed what), export, and the findings of cases against it.

The catalogue tables are created when the app starts. Everyone who reads cases reads the catalogue;
department users see the findings of their own department only. The case page shows its own
findings through ``case_catalogue_findings()``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from hub.auth.clock import iso
from hub.auth.schema import connect
from hub.catalogue import store
from hub.catalogue.cases import FindingsCache, current_map, findings_of_timeline, month_findings
from hub.catalogue.files import FORMATS, read_file, write_file
from hub.catalogue.model import (
    COLUMNS,
    FINDING_CODES,
    CatalogueError,
    CatalogueItem,
    Finding,
    Limit,
    RowError,
    parse_row,
)
from hub.web.access import ADMIN, CASE_READERS, allow
from hub.web.audit import audit_action
from hub.web.db import get_db, has_table
from hub.web.language import current_language, gettext
from hub.web.state import web_state

bp = Blueprint("catalogue", __name__)
_MONTH = re.compile(r"^20\d{2}-(0[1-9]|1[0-2])$")
FINDINGS_SHOWN = 1000
FINDINGS_CACHE = FindingsCache()


@bp.record_once
def _create_tables(state: BlueprintSetupState) -> None:
    """The catalogue tables are created when the app starts (as the auth tables are)."""
    conn = connect(state.app.config["XN_DATABASE"])
    try:
        store.ensure_schema(conn)
    finally:
        conn.close()


def _conn() -> sqlite3.Connection:
    return get_db()


def _is_admin() -> bool:
    principal = g.get("principal")
    return principal is not None and principal.role in ADMIN


def _errors_text(exc: CatalogueError) -> list[str]:
    if not exc.errors:
        return [str(exc)]
    shown = [_row_error(e) for e in exc.errors[:50]]
    if len(exc.errors) > 50:
        shown.append(gettext("catalogue.more_errors", n=len(exc.errors) - 50))
    return shown


def _row_error(error: RowError) -> str:
    column = gettext(f"catalogue.col.{error.column}") if error.column else ""
    message = error.message_zh if current_language() == "zh" else error.message_en
    return gettext("catalogue.row_error", row=error.row, column=column, message=message) if column else \
        gettext("catalogue.row_error_no_column", row=error.row, message=message)


def _dept_names(conn: sqlite3.Connection) -> dict[str, str]:
    """``{dept_code: name}`` as the departments' own records named them (empty before any arrived)."""
    if not has_table(conn, "sup_names"):
        return {}
    return {str(c): str(n) for c, n in conn.execute("SELECT code, name FROM sup_names WHERE kind = 'dept'") if n}


@bp.get("/catalogue")
@allow(*CASE_READERS)
def page() -> str:
    conn = _conn()
    number = request.args.get("version", "")
    current = store.current_version(conn)
    version = current
    if number:
        if not number.isdigit():
            raise BadRequest("version must be a number")
        version = store.get_version(conn, int(number))
        if version is None:
            abort(404)
    q = request.args.get("q", "").strip()[:100]
    dept = request.args.get("dept", "").strip()[:40]
    found = store.items(conn, version.version, q=q, dept=dept) if version else []
    return render_template(
        "catalogue.html", items=found, version=version, current=current, versions=store.versions(conn, 20),
        departments=store.departments(conn), q=q, dept=dept, is_admin=_is_admin(), columns=COLUMNS,
        formats=FORMATS, errors=[], dept_names=_dept_names(conn),
    )


@bp.get("/catalogue/items/<item_code>")
@allow(*CASE_READERS)
def item(item_code: str) -> str:
    conn = _conn()
    history = store.history(conn, item_code)
    if not history:
        abort(404)
    current = store.item(conn, item_code)
    return render_template("catalogue_item.html", item_code=item_code, item=current or history[0][1],
                           removed=current is None, history=history, is_admin=_is_admin(),
                           form=current.row() if current else {}, errors=[],
                           dept_names=_dept_names(conn))  # fmt: skip


@bp.post("/catalogue/items/<item_code>")
@allow(*ADMIN)
def edit(item_code: str) -> Response | tuple[str, int]:
    conn = _conn()
    form = {key: request.form.get(key, "") for key, _zh, _en in COLUMNS}
    form["item_code"] = item_code
    errors: list[RowError] = []
    changed = parse_row(1, form, errors)
    note = request.form.get("note", "").strip()[:200]
    history = store.history(conn, item_code)
    if not history:  # new items come by import, so that every item has a file behind it
        abort(404)
    if changed is not None:
        if changed == store.item(conn, item_code):
            flash(gettext("catalogue.unchanged"), "info")
            return redirect(url_for("catalogue.item", item_code=item_code))
        version, before = store.edit_item(conn, changed, username=g.principal.user.username,
                                          at=iso(web_state().clock()), note=note)  # fmt: skip
        diff = _diff(before, changed)
        audit_action("catalogue.edit", item_code, {"version": version.version, "changes": diff, "note": note})
        flash(gettext("catalogue.saved", version=version.version), "info")
        return redirect(url_for("catalogue.item", item_code=item_code))
    current = store.item(conn, item_code)
    html = render_template("catalogue_item.html", item_code=item_code, item=current or history[0][1],
                           removed=current is None, history=history, is_admin=True, form=form,
                           errors=[_field_error(e) for e in errors], dept_names=_dept_names(conn))  # fmt: skip
    return html, 400


def _field_error(error: RowError) -> str:
    column = gettext(f"catalogue.col.{error.column}") if error.column else ""
    message = error.message_zh if current_language() == "zh" else error.message_en
    return f"{column}: {message}" if column else message


def _value(value: Limit | int | str | None) -> str:
    """A finding's value in the request's language: a limit, an amount of money (fen), or text."""
    if isinstance(value, Limit):
        return gettext(f"catalogue.days_{value.unit}", n=value.value)
    if isinstance(value, int):
        return gettext("catalogue.yuan", amount=f"{value / 100:.2f}")
    return value or ""


def _diff(before: CatalogueItem | None, after: CatalogueItem) -> dict[str, list[str]]:
    """``{column: [before, after]}`` of what an edit changed (before ``""`` for a new item)."""
    old = before.row() if before else {}
    new = after.row()
    return {k: [old.get(k, ""), v] for k, v in new.items() if old.get(k, "") != v}


@bp.post("/catalogue/import")
@allow(*ADMIN)
def upload() -> Response | tuple[str, int]:
    conn = _conn()
    file = request.files.get("file")
    note = request.form.get("note", "").strip()[:200]
    errors: list[str]
    if file is None or not file.filename:
        errors = [gettext("catalogue.no_file")]
    else:
        name = file.filename
        try:
            new_items = read_file(name, file.read())
        except CatalogueError as exc:
            errors = _errors_text(exc)
        else:
            version = store.save_version(conn, new_items, username=g.principal.user.username, source="import",
                                         note=note or name, at=iso(web_state().clock()))  # fmt: skip
            audit_action("catalogue.import", f"v{version.version}",
                         {"file": name[:200], "items": len(new_items), "note": note})  # fmt: skip
            flash(gettext("catalogue.imported", n=len(new_items), version=version.version), "info")
            return redirect(url_for("catalogue.page"))
    current = store.current_version(conn)
    html = render_template(
        "catalogue.html", items=store.items(conn) if current else [], version=current, current=current,
        versions=store.versions(conn, 20), departments=store.departments(conn), q="", dept="", is_admin=True,
        columns=COLUMNS, formats=FORMATS, errors=errors, dept_names=_dept_names(conn),
    )
    return html, 400


@bp.get("/catalogue/export")
@allow(*CASE_READERS)
def export() -> Response:
    """``?format=csv|xlsx`` (default csv), ``&version=N`` (default current)."""
    fmt = request.args.get("format", "csv")
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
    conn = _conn()
    number = request.args.get("version", "")
    version = store.get_version(conn, int(number)) if number.isdigit() else store.current_version(conn)
    if version is None:
        abort(404)
    body = write_file(store.items(conn, version.version), fmt)
    mimetype = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="catalogue-v{version.version}.{fmt}"'
    return response


@bp.get("/catalogue/findings")
@allow(*CASE_READERS)
def findings() -> str:
    """The findings of the cases accepted in ``?month=YYYY-MM`` (default: this month)."""
    state = web_state()
    month = request.args.get("month") or state.clock().astimezone(state.tz).strftime("%Y-%m")
    if not _MONTH.match(month):
        raise BadRequest("month must be YYYY-MM")
    scope = g.principal.dept_scope
    dept = scope or request.args.get("dept", "").strip()[:40] or None
    conn = _conn()
    rows, checked, capped = month_findings(conn, month, dept, cache=FINDINGS_CACHE)
    counts = {code: sum(1 for r in rows if r.finding.code == code) for code in FINDING_CODES}
    return render_template(
        "catalogue_findings.html", rows=rows[:FINDINGS_SHOWN], total=len(rows), checked=checked, capped=capped,
        month=month, dept=dept or "", scoped=scope is not None, counts=counts,
        current=store.current_version(conn), shown=FINDINGS_SHOWN, dept_names=_dept_names(conn),
    )


@bp.app_context_processor
def _templates() -> dict[str, Any]:
    """``case_catalogue_findings(case, timeline)`` for the case page (None: no catalogue yet)."""

    def case_catalogue_findings(case: Mapping[str, Any], timeline: list[Mapping[str, Any]]) -> list[Finding] | None:
        conn = get_db()
        catalogue = current_map(conn)
        if catalogue is None:
            return None
        return findings_of_timeline(catalogue, str(case.get("item_code") or ""), timeline)

    def finding_text(finding: Finding) -> str:
        return gettext(f"catalogue.finding.{finding.code}", case=_value(finding.case_value),
                       catalogue=_value(finding.catalogue_value))  # fmt: skip

    return {"case_catalogue_findings": case_catalogue_findings, "finding_text": finding_text}
