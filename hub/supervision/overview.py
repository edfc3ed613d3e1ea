"""The overview wall's figures, from the incremental aggregates only (never a scan of cases).

``sup_daily`` gives today's and this month's flows per department, ``sup_status`` the open cases
by status: each figure is a handful of primary-key range reads, whatever the number of cases.
Today's cards are the live cards the hub raised today (an index range on ``cards.raised_at``):
cards of imported history (``historical``) belong to their own period, not to today.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any

from hub.supervision.schema import OPEN_STATUSES, OVERDUE_STATUSES


def metrics(conn: sqlite3.Connection, first: date, last: date, dept: str | None) -> dict[str, int]:
    """Sums of ``sup_daily`` metrics over ``first``..``last`` (one department, or all)."""
    sql = "SELECT metric, SUM(n) FROM sup_daily WHERE day BETWEEN ? AND ?"
    params: list[Any] = [first.isoformat(), last.isoformat()]
    if dept is not None:
        sql += " AND dept_code = ?"
        params.append(dept)
    return {str(m): int(n) for m, n in conn.execute(sql + " GROUP BY metric", params)}


def status_counts(conn: sqlite3.Connection, dept: str | None) -> dict[str, int]:
    """Open (accepted, unfinished) cases by status."""
    sql = "SELECT status, SUM(n) FROM sup_status"
    params: list[Any] = []
    if dept is not None:
        sql += " WHERE dept_code = ?"
        params.append(dept)
    found = {str(s): int(n) for s, n in conn.execute(sql + " GROUP BY status", params)}
    return {s: found.get(s, 0) for s in OPEN_STATUSES}


def cards_raised(conn: sqlite3.Connection, day: date, dept: str | None) -> dict[str, int]:
    """Live (non-historical) cards the hub raised on ``day``, by level."""
    sql = "SELECT level, COUNT(*) FROM cards WHERE raised_at >= ? AND raised_at < ?"
    params: list[Any] = [day.isoformat(), (day + timedelta(days=1)).isoformat()]
    if any(row[1] == "historical" for row in conn.execute("PRAGMA table_info(cards)")):
        sql += " AND historical = 0"
    if dept is not None:
        sql += " AND dept_code = ?"
        params.append(dept)
    found = {str(lvl): int(n) for lvl, n in conn.execute(sql + " GROUP BY level", params)}
    return {lvl: found.get(lvl, 0) for lvl in ("reminder", "yellow", "red")}


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 places, None when there is nothing to divide."""
    return round(part / whole, 4) if whole else None


def overview_figures(conn: sqlite3.Connection, dept: str | None, today: date) -> dict[str, Any]:
    """The figures of the overview wall for ``today`` (see ``SupervisionQueries.overview``)."""
    day = metrics(conn, today, today, dept)
    month = metrics(conn, today.replace(day=1), today, dept)
    by_status = status_counts(conn, dept)

    def timely(m: dict[str, int]) -> tuple[int, int]:
        judged = m.get("completed_early", 0) + m.get("completed_on_time", 0) + m.get("completed_overdue", 0)
        return m.get("completed_early", 0) + m.get("completed_on_time", 0), judged

    ok_day, judged_day = timely(day)
    ok_month, judged_month = timely(month)
    cards = cards_raised(conn, today, dept)
    return {
        "date": today.isoformat(),
        "accepted_today": day.get("accepted", 0),
        "completed_today": day.get("completed", 0),
        "refused_today": day.get("refused", 0),
        "open": sum(by_status.values()),
        "overdue": sum(by_status[s] for s in OVERDUE_STATUSES),
        "paused": by_status["paused"],
        "on_time_rate": rate(ok_day, judged_day),
        "on_time_rate_month": rate(ok_month, judged_month),
        "accepted_month": month.get("accepted", 0),
        "completed_month": month.get("completed", 0),
        "cards_today": sum(cards.values()),
        "cards_today_by_level": cards,
        "by_status": by_status,
    }
