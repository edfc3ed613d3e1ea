"""绩效排名: departments, windows, staff or items for a month or a quarter.

Each row shows the score, the grade, the counts it was computed from (cases completed, on time,
standing yellow and red cards) and its lost points grouped per rule ("R2 超期 黄牌 ×3 → −0.9"),
each group linking to the filtered cards list (:func:`cards_link`) rather than listing the cards;
a bar chart ranks the period and a line chart follows the leading entities over the previous
periods (ECharts, data in the page's JSON block).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

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


def cards_link(row: Mapping[str, Any], deduction: Mapping[str, Any], kind: str, period: Period) -> str | None:
    """The cards list filtered to the standing cards of a deduction's rule in ``period`` (the cards'
    moment): ``/cards?dept=D01&rule=R2&month=2026-11&standing=1``; a quarter gives ``from=…&to=…``
    (both days included) instead of ``month``; a window, staff member or item adds its own filter
    after ``dept``. None for a deduction that is not a group of cards."""
    rule = deduction.get("rule")
    if deduction.get("kind", "cards") != "cards" or not rule:
        return None
    code = str(row.get("code") or row.get("entity") or "")
    dept = row.get("dept_code") or (code if kind == "department" else None)
    params: list[tuple[str, str]] = [("dept", str(dept))] if dept else []
    if kind != "department" and code:
        params.append((kind, code))
    params.append(("rule", str(rule)))
    if "Q" in period.label:
        params += [("from", period.start.isoformat()), ("to", period.end.isoformat())]
    else:
        params.append(("month", period.label))
    params.append(("standing", "1"))
    return "/cards?" + urlencode(params)


def with_links(rows: Sequence[Mapping[str, Any]], kind: str, period: Period) -> list[dict[str, Any]]:
    """``rows`` with ``cards_url`` on each deduction (None where it is not a group of cards)."""
    out = []
    for row in rows:
        linked = dict(row)
        linked["deductions"] = [{**d, "cards_url": cards_link(row, d, kind, period)}
                                for d in row.get("deductions") or ()]  # fmt: skip
        out.append(linked)
    return out


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
        rows = with_links(state.supervision.rankings(conn, period.label, kind, dept), kind, period)
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
