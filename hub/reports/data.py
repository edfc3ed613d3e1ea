"""The monthly report (月报, DOMAIN.md §7) as data: a JSON-ready dict, built from indexed reads.

Flows (accepted, completed, outcomes, cards) come from the ``sup_daily`` aggregates; the scores
and rankings from :func:`hub.supervision.facts.load_facts` (cases completed in the month and
open-overdue at its end, through indexes); complaints, ratings, requests from their own tables;
link availability from the ingest's ``link_history``. Nothing scans all cases.

Sections, in order: ``totals``, ``rates``, ``cards`` (standing cards of the month by moment, and
their lifecycle; :mod:`hub.reports.cards`), ``cards_by_rule``, ``withdrawals`` (the system's, apart
and capped), ``trend`` (per day),
``trend_months`` (six months), ``departments``, ``windows``, ``staff``, ``top``, ``bottom``,
``complaints`` (with ``complaints_by_dept`` and ``complaints_flagged_staff``), ``ratings`` (with
``distribution``), ``disclosures`` (with ``disclosures_by_dept``), ``video``, ``links``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from hub.engine.complaints import handled_on_time
from hub.engine.config import EngineConfig
from hub.engine.localtime import LOCAL_TZ
from hub.engine.scoring import Period, Score, score_entities
from hub.reports.cards import department_cards, month_cards
from hub.supervision.facts import load_facts, names, ranking_rows
from hub.supervision.overview import rate

RATING_LABELS = {1: "非常满意", 2: "满意", 3: "基本满意", 4: "不满意", 5: "非常不满意"}
TOP = 3


def _has(conn: sqlite3.Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone() is not None


def _daily(conn: sqlite3.Connection, first: date, last: date, dept: str | None, by: str) -> dict[str, dict[str, int]]:
    """``{key: {metric: n}}`` where key is the day or the department (``by``)."""
    column = {"day": "day", "dept": "dept_code", "month": "substr(day, 1, 7)"}[by]
    sql = f"SELECT {column}, metric, SUM(n) FROM sup_daily WHERE day BETWEEN ? AND ?"
    params: list[Any] = [first.isoformat(), last.isoformat()]
    if dept is not None:
        sql += " AND dept_code = ?"
        params.append(dept)
    out: dict[str, dict[str, int]] = {}
    for key, metric, n in conn.execute(sql + f" GROUP BY {column}, metric", params):
        out.setdefault(str(key), {})[str(metric)] = int(n)
    return out


def _sum(groups: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for metrics in groups.values():
        for metric, n in metrics.items():
            total[metric] = total.get(metric, 0) + n
    return total


def _on_time(m: Mapping[str, int]) -> float | None:
    judged = m.get("completed_early", 0) + m.get("completed_on_time", 0) + m.get("completed_overdue", 0)
    return rate(m.get("completed_early", 0) + m.get("completed_on_time", 0), judged)


def _open_at(conn: sqlite3.Connection, end: date, dept: str | None) -> int:
    """Accepted by ``end`` and not completed by then: cumulative accepted minus completed."""
    sql = ("SELECT COALESCE(SUM(CASE metric WHEN 'accepted' THEN n WHEN 'completed' THEN -n END), 0) "
           "FROM sup_daily WHERE day <= ? AND metric IN ('accepted', 'completed')")  # fmt: skip
    params: list[Any] = [end.isoformat()]
    if dept is not None:
        sql += " AND dept_code = ?"
        params.append(dept)
    return int(conn.execute(sql, params).fetchone()[0])


def build_report(
    conn: sqlite3.Connection,
    month: str,
    config: EngineConfig | None = None,
    dept: str | None = None,
    now: datetime | None = None,
    city: str | None = None,
) -> dict[str, Any] | None:
    """The report of ``month`` (``YYYY-MM``), city-wide or for one department; None when the
    month has no supervision data at all. ``city`` names the city in titles (default 全市)."""
    if not _has(conn, "sup_daily"):
        return None
    config = config or EngineConfig()
    period = Period.parse(month)
    if "Q" in period.label:
        raise ValueError(f"a monthly report needs YYYY-MM, got {month!r}")
    first, last = period.start, period.end
    by_day = _daily(conn, first, last, dept, "day")
    cards_count = conn.execute(
        "SELECT COUNT(*) FROM cards WHERE moment >= ? AND moment < ?",
        (first.isoformat(), (last + timedelta(days=1)).isoformat()),
    ).fetchone()[0]
    if not by_day and not cards_count:
        return None
    m = _sum(by_day)
    facts = load_facts(conn, period)
    scoped = facts if dept is None else load_facts(conn, period, dept)
    overdue_open = sum(1 for c in scoped.cases if c.outcome.value == "overdue") - m.get("completed_overdue", 0)
    judged = len(scoped.cases)
    early = sum(1 for c in scoped.cases if c.outcome.value == "early")
    on_day = sum(1 for c in scoped.cases if c.outcome.value == "on_time")
    report: dict[str, Any] = {
        "month": period.label,
        "dept": dept,
        "dept_name": _name(conn, "dept", dept) if dept else None,
        "generated_at": (now or datetime.now(LOCAL_TZ)).astimezone(LOCAL_TZ).isoformat(timespec="seconds"),
        "period": {"start": first.isoformat(), "end": last.isoformat()},
        "totals": {
            "accepted": m.get("accepted", 0), "accepted_immediate": m.get("accepted_immediate", 0),
            "accepted_promised": m.get("accepted_promised", 0), "refused": m.get("refused", 0),
            "completed": m.get("completed", 0), "open_at_end": _open_at(conn, last, dept),
            "overdue": m.get("completed_overdue", 0) + max(overdue_open, 0),
            "overdue_completed": m.get("completed_overdue", 0), "overdue_open": max(overdue_open, 0),
        },
        "rates": {
            "on_time_rate": rate(early + on_day, judged), "early_rate": rate(early, judged),
            "overdue_rate": rate(judged - early - on_day, judged), "judged_cases": judged,
        },
    }  # fmt: skip
    cards = month_cards(conn, first, last, dept)
    by_dept = cards.pop("cards_by_dept")
    accepted = report["totals"]["accepted"]
    cards["cards"]["per_100_cases"] = round(cards["cards"]["standing"] * 100 / accepted, 2) if accepted else None
    report.update(cards)
    if city:  # only when named: the web page shows every scalar of the report
        report["city"] = city
    report["trend"] = [
        {"day": day, "accepted": v.get("accepted", 0), "completed": v.get("completed", 0),
         "on_time_rate": _on_time(v)}
        for day, v in sorted(by_day.items())
    ]  # fmt: skip
    six = (first.replace(day=1) - timedelta(days=160)).replace(day=1)
    report["trend_months"] = [
        {"month": key, "accepted": v.get("accepted", 0), "completed": v.get("completed", 0),
         "on_time_rate": _on_time(v)}
        for key, v in sorted(_daily(conn, six, last, dept, "month").items())
    ]  # fmt: skip
    report.update(_rankings(conn, period, facts, config, dept, _daily(conn, first, last, None, "dept"), by_dept))
    complaints = _complaints(conn, first, last, dept, config)
    report["complaints"] = complaints["figures"]
    report["complaints_by_dept"] = complaints["by_dept"]
    report["complaints_flagged_staff"] = complaints["flagged_staff"]
    report["ratings"] = _ratings(conn, first, last, dept)
    disclosures = _disclosures(conn, first, last, dept)
    report["disclosures"] = disclosures["figures"]
    report["disclosures_by_dept"] = disclosures["by_dept"]
    report["video"] = {
        "absences": m.get("absences", 0), "queues": _sum(_daily(conn, first, last, "", "day")).get("queues", 0)
        if dept is None else 0,
        "absence_cards": _count(conn, "SELECT COUNT(*) FROM cards WHERE rule = 'R10' AND moment >= ? "
                                "AND moment < ?", first, last, dept),
    }  # fmt: skip
    report["links"] = [] if dept is not None else link_availability(conn, first, last)
    return report


def _name(conn: sqlite3.Connection, kind: str, code: str) -> str | None:
    row = conn.execute("SELECT name FROM sup_names WHERE kind = ? AND code = ?", (kind, code)).fetchone()
    return None if row is None else row[0]


def _count(conn: sqlite3.Connection, sql: str, first: date, last: date, dept: str | None) -> int:
    params: list[Any] = [first.isoformat(), (last + timedelta(days=1)).isoformat()]
    if dept is not None:
        sql += " AND dept_code = ?"
        params.append(dept)
    return int(conn.execute(sql, params).fetchone()[0])


def _rankings(
    conn: sqlite3.Connection, period: Period, facts: Any, config: EngineConfig, dept: str | None,
    flows: Mapping[str, Mapping[str, int]], cards: Mapping[str, Mapping[str, int]],
) -> dict[str, Any]:  # fmt: skip
    previous = load_facts(conn, period.previous())
    dept_names = names(conn, "department")
    out: dict[str, Any] = {}
    for kind, key in (("department", "departments"), ("window", "windows"), ("staff", "staff")):
        scores: list[Score] = score_entities(facts, kind, config.scoring)
        before = score_entities(previous, kind, config.scoring) if kind in ("department", "window") else None
        rows = ranking_rows(scores, before, kind, names(conn, kind), dept_names, dept)
        out[key] = [_ranked(r, flows.get(r["code"], {}) if kind == "department" else None,
                            department_cards(cards, r["code"])) for r in rows]
    ranked = out["departments"]
    out["top"] = [] if dept is not None else ranked[:TOP]
    out["bottom"] = [] if dept is not None or len(ranked) <= TOP else ranked[-TOP:][::-1]
    return out


def _ranked(row: Mapping[str, Any], flows: Mapping[str, int] | None, cards: Mapping[str, int]) -> dict[str, Any]:
    out = {k: row[k] for k in ("rank", "code", "name", "dept_name", "score", "grade", "interview")}
    out["lost"] = lost_points(row["deductions"])
    if flows is not None:  # a department: its flows, and its standing cards of the month (by moment)
        out.update(accepted=flows.get("accepted", 0), completed=flows.get("completed", 0),
                   on_time_rate=_on_time(flows), yellow=cards["yellow"], red=cards["red"])
    return out


def lost_points(deductions: Sequence[Mapping[str, Any]], limit: int = 300) -> str:
    """Lost points in one line, the same reasons grouped: ``黄牌 R2 ×3（-9）；超期 4 件 / 51 件（-3.14）``."""
    grouped: dict[str, list[float]] = {}
    for d in deductions:
        if d["points"] > 0:
            grouped.setdefault(str(d["reason"]), []).append(float(d["points"]))
    parts = [f"{reason}{f' ×{len(p)}' if len(p) > 1 else ''}（-{round(sum(p), 2):g}）" for reason, p in grouped.items()]
    text = "；".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _complaints(conn: sqlite3.Connection, first: date, last: date, dept: str | None,
                config: EngineConfig) -> dict[str, Any]:
    """Complaints filed in the month (DOMAIN.md §7: received, closed, overdue), judged as the
    complaints block scores them (:func:`hub.engine.complaints.handled_on_time` at the month's end),
    per department, and the staff flagged this year (from the ``staff_flag_from``-th substantiated
    complaint of the calendar year, DOMAIN.md §6)."""
    scope, extra = ("", ()) if dept is None else (" AND target_dept = ?", (dept,))
    total = {"received": 0, "accepted": 0, "answered": 0, "closed": 0, "handled_on_time": 0, "overdue": 0,
             "substantiated": 0, "open": 0}
    per_dept: dict[str, dict[str, int]] = {}
    for target, accepted, answered, closed, accept_due, answer_due, proven in conn.execute(
        "SELECT target_dept, accepted_day, answered_day, closed_day, accept_due, answer_due, substantiated "
        f"FROM complaints WHERE filed_day BETWEEN ? AND ?{scope}", (first.isoformat(), last.isoformat(), *extra)
    ):
        days = [date.fromisoformat(x) if x else None for x in (accepted, answered, closed, accept_due, answer_due)]
        well = handled_on_time(days[0], days[1], days[2], days[3], days[4], last)
        row = per_dept.setdefault(str(target or ""), dict.fromkeys(total, 0))
        for bucket in (total, row):
            bucket["received"] += 1
            bucket["accepted"] += accepted is not None
            bucket["answered"] += answered is not None
            bucket["closed"] += closed is not None
            bucket["open"] += closed is None and answered is None
            bucket["handled_on_time"] += well is True
            bucket["overdue"] += well is False
            bucket["substantiated"] += bool(proven)
    by_dept = [{"code": code, "name": _name(conn, "dept", code) or code or "（未指明）", **row}
               for code, row in sorted(per_dept.items(), key=lambda kv: (-kv[1]["received"], kv[0]))]
    threshold = config.complaints.staff_flag_from
    flagged = []
    for staff, target, n, ids in conn.execute(
        "SELECT target_staff, MAX(target_dept), COUNT(*), GROUP_CONCAT(complaint_id, '、') FROM complaints "
        f"WHERE substantiated = 1 AND target_staff IS NOT NULL AND filed_day BETWEEN ? AND ?{scope} "
        "GROUP BY target_staff HAVING COUNT(*) >= ? ORDER BY COUNT(*) DESC, target_staff",
        (first.replace(month=1, day=1).isoformat(), last.isoformat(), *extra, threshold),
    ):
        flagged.append({"code": staff, "name": _name(conn, "staff", staff) or staff,
                        "dept_name": _name(conn, "dept", target) or target, "substantiated": n,
                        "complaints": "、".join(sorted(str(ids).split("、")))})
    return {"figures": total, "by_dept": by_dept, "flagged_staff": flagged}


def _ratings(conn: sqlite3.Connection, first: date, last: date, dept: str | None) -> dict[str, Any]:
    scope, extra = ("", ()) if dept is None else (" AND dept_code = ?", (dept,))
    counts = {lvl: 0 for lvl in RATING_LABELS}
    rectified = 0
    for level, n, fixed in conn.execute(
        f"SELECT level, COUNT(*), COUNT(rectified_at) FROM case_ratings WHERE day BETWEEN ? AND ?{scope} "
        "GROUP BY level", (first.isoformat(), last.isoformat(), *extra)
    ):
        counts[int(level)] = int(n)
        if int(level) >= 4:
            rectified += int(fixed)
    total = sum(counts.values())
    bad = counts[4] + counts[5]
    mean = round(sum(lvl * n for lvl, n in counts.items()) / total, 2) if total else None
    return {
        "total": total, "mean_level": mean, "satisfied_rate": rate(counts[1] + counts[2] + counts[3], total),
        "bad": bad, "bad_rectified": rectified, "rectification_rate": rate(rectified, bad),
        "distribution": [{"level": lvl, "label": label, "count": counts[lvl]} for lvl, label in RATING_LABELS.items()],
    }  # fmt: skip


def _disclosures(conn: sqlite3.Connection, first: date, last: date, dept: str | None) -> dict[str, Any]:
    """Requests received in the month (DOMAIN.md §7: received, on time, overdue), per department."""
    scope, extra = ("", ()) if dept is None else (" AND dept_code = ?", (dept,))
    total = {"received": 0, "answered": 0, "on_time": 0, "overdue": 0, "open": 0}
    per_dept: dict[str, dict[str, int]] = {}
    end = last.isoformat()
    for code, answered, due in conn.execute(
        f"SELECT dept_code, answered_day, due_date FROM disclosures WHERE received_day BETWEEN ? AND ?{scope}",
        (first.isoformat(), end, *extra),
    ):
        row = per_dept.setdefault(str(code or ""), dict.fromkeys(total, 0))
        for bucket in (total, row):
            bucket["received"] += 1
            bucket["answered"] += answered is not None
            bucket["on_time"] += answered is not None and (due is None or answered <= due)
            bucket["overdue"] += (answered is not None and due is not None and answered > due) or (
                answered is None and due is not None and due < end)
            bucket["open"] += answered is None
    by_dept = [{"code": code, "name": _name(conn, "dept", code) or code, **row}
               for code, row in sorted(per_dept.items(), key=lambda kv: (-kv[1]["received"], kv[0]))]
    return {"figures": total, "by_dept": by_dept}


def link_availability(conn: sqlite3.Connection, first: date, last: date) -> list[dict[str, Any]]:
    """Per hall (site): share of the month's link history points at which its agents were online."""
    if not (_has(conn, "agents") and _has(conn, "link_history")):
        return []
    after = (last + timedelta(days=1)).isoformat()
    sites: dict[str, dict[str, Any]] = {}
    agents = conn.execute(
        "SELECT a.agent_id, a.site_id, COALESCE(s.name, a.site_id) FROM agents a "
        "LEFT JOIN sites s ON s.site_id = a.site_id ORDER BY a.site_id, a.agent_id"
    ).fetchall()
    for agent, site, site_name in agents:
        online, points = conn.execute(
            "SELECT COALESCE(SUM(online), 0), COUNT(*) FROM link_history WHERE agent_id = ? AND at >= ? AND at < ?",
            (agent, first.isoformat(), after),
        ).fetchone()
        entry = sites.setdefault(site, {"site_id": site, "site_name": site_name, "agents": 0, "online": 0, "points": 0})
        entry["agents"] += 1
        entry["online"] += int(online)
        entry["points"] += int(points)
    return [
        {"site_id": s["site_id"], "site_name": s["site_name"], "agents": s["agents"],
         "availability": rate(s["online"], s["points"]), "samples": s["points"]}
        for s in sites.values()
    ]  # fmt: skip
