"""外网公布 from the UI: the month's public department ranking as a zip, for admins and monitors.

``/rankings/<YYYY-MM>/publish.zip`` is what ``xiaoneng-hub publish`` writes (:mod:`hub.publish`:
``index.html`` and ``ranking.json`` in a folder ``xiaoneng-ranking-<month>/``), from the same
rankings query as the rankings page (city-wide) and the hub's newest signed checkpoint. The
download is audited (who published which month).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, request
from werkzeug.exceptions import BadRequest, NotFound, ServiceUnavailable
from werkzeug.wrappers import Response

from hub.auth.roles import Role
from hub.engine.config import EngineConfig
from hub.publish import checkpoint_of, export_zip, public_ranking
from hub.web.access import allow
from hub.web.audit import audit_action
from hub.web.db import get_db
from hub.web.queries.supervision import NotAvailable
from hub.web.state import web_state

bp = Blueprint("publish", __name__)
PUBLISHERS = (Role.ADMIN, Role.MONITOR)
_MONTH = re.compile(r"^20\d{2}-(0[1-9]|1[0-2])$")
_CITY = re.compile(r"^[^<>&\"'\x00-\x1f]{1,20}$")


@bp.get("/rankings/<month>/publish.zip")
@allow(*PUBLISHERS)
def download(month: str) -> Response:
    """The public export of ``month`` (``?city=`` names the city in the title; default 全市)."""
    if not _MONTH.match(month):
        raise BadRequest("month must be YYYY-MM")
    city = request.args.get("city") or None
    if city is not None and not _CITY.match(city):
        raise BadRequest("city must be 1-20 characters without markup")
    state = web_state()
    conn = get_db()
    try:
        rows = list(state.supervision.rankings(conn, month, "department", None))
    except NotAvailable as exc:
        raise ServiceUnavailable(str(exc)) from None
    if not rows:
        raise NotFound(f"no department was scored in {month}: nothing to publish")
    config = getattr(state.supervision, "config", None)
    grades = (config if isinstance(config, EngineConfig) else EngineConfig()).scoring.grades
    data = public_ranking(rows, month=month, city=city, generated_at=state.clock().astimezone(state.tz),
                          checkpoint=checkpoint_of(conn), grades=grades)  # fmt: skip
    body = export_zip(data)
    audit_action("ranking.publish", month, {"departments": len(rows), "city": data["city"]})
    response = Response(body, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="xiaoneng-ranking-{month}.zip"'
    return response


@bp.app_context_processor
def _templates() -> dict[str, Any]:
    """``may_publish()`` for the rankings page's download link."""

    def may_publish() -> bool:
        principal = g.get("principal")
        return principal is not None and principal.role in PUBLISHERS

    return {"may_publish": may_publish}
