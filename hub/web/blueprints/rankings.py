"""绩效排名: departments, windows, staff or items for a month or a quarter.

Each row shows the score, the grade and every lost point with its reason and the cases or cards
behind it; a bar chart ranks the period and a line chart follows the leading entities over the
previous periods (ECharts, data in the page's JSON block).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from flask import Blueprint, g, render_template, request
from werkzeug.exceptions import BadRequest

from hub.engine.scoring import Period
from hub.web.access import READERS, allow
from hub.web.blueprints.supervision import placeholder
from hub.web.db import get_db
from hub.web.queries.supervision import NotAvailable
from hub.web.state import web_state

bp = Blueprint("rankings", __name__)
KINDS = ("department", "window", "staff", "item")
_PERIOD = re.compile(r"^20\d{2}-((0[1-9]|1[0-2])|Q[1-4])$")
TREND_PERIODS = 6
TREND_LINES = 5
GRADES = {"优秀": "excellent", "良好": "good", "合格": "pass", "不合格": "fail"}
BLOCKS = ("timeliness", "conformity", "fees", "complaints", "satisfaction")


def current_period(quarter: bool = False) -> Period:
    """This month (or quarter) in the hub's time zone."""
    state = web_state()
    today = state.clock().astimezone(state.tz).date()
    if quarter:
        return Period.quarter(today.year, (today.month - 1) // 3 + 1)
    return Period.month(today.year, today.month)


def parse_period(text: str | None) -> Period:
    """``YYYY-MM`` or ``YYYY-Qn``; this month when empty; 400 otherwise."""
    if not text:
        return current_period()
    if not _PERIOD.match(text.strip()):
        raise BadRequest("period must be YYYY-MM or YYYY-Qn (years 2000-2099)")
    return Period.parse(text.strip())


def following(period: Period) -> Period:
    """The month or quarter after ``period``."""
    after = period.end + timedelta(days=1)
    if "Q" in period.label:
        return Period.quarter(after.year, (after.month - 1) // 3 + 1)
    return Period.month(after.year, after.month)


def row_key(row: Mapping[str, Any]) -> str:
    """What identifies a ranked entity across periods."""
    return str(row.get("entity") or row.get("code") or row.get("name") or "")


def trend(rows_by_period: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], leaders: Sequence[Mapping[str, Any]]
          ) -> dict[str, Any]:
    """Chart data: the scores of ``leaders`` in each period (None where an entity had no score)."""
    labels = [label for label, _rows in rows_by_period]
    series = []
    for leader in leaders:
        key = row_key(leader)
        points: list[float | None] = []
        for _label, rows in rows_by_period:
            match = next((r for r in rows if row_key(r) == key), None)
            points.append(None if match is None or match.get("score") is None else float(match["score"]))
        series.append({"name": str(leader.get("name") or key), "data": points})
    return {"periods": labels, "series": series}


@bp.get("/rankings")
@allow(*READERS)
def page() -> str:
    state = web_state()
    period = parse_period(request.args.get("period"))
    kind = request.args.get("kind") or "department"
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}")
    conn, dept = get_db(), g.principal.dept_scope
    try:
        rows = [dict(r) for r in state.supervision.rankings(conn, period.label, kind, dept)]
    except NotAvailable:
        return placeholder("rankings.title")
    history: list[tuple[str, Sequence[Mapping[str, Any]]]] = []
    earlier = period
    for _ in range(TREND_PERIODS - 1):
        earlier = earlier.previous()
        history.append((earlier.label, list(state.supervision.rankings(conn, earlier.label, kind, dept))))
    history.reverse()
    history.append((period.label, rows))
    quarter = "Q" in period.label
    return render_template(
        "rankings.html", rows=rows, kind=kind, kinds=KINDS, period=period, grades=GRADES, blocks=BLOCKS,
        previous=period.previous().label, next=following(period).label,
        other_granularity=(current_period(not quarter)).label, quarter=quarter,
        chart={"bars": [{"name": str(r.get("name") or row_key(r)), "score": r.get("score"),
                         "grade": GRADES.get(str(r.get("grade")), "")} for r in rows[:30]],
               "trend": trend(history, rows[:TREND_LINES])},
    )
