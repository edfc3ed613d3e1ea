"""The cards of a month as the report counts them (DOMAIN.md §4, §7).

A card belongs to the month of its **moment** (when its condition arose), whether the hub raised it
then or later (historical cards, flag ``historical``, count in their own month too). The report
follows the month's cards through their lifecycle as it stands when the report is made:

- **standing** cards count: level yellow or red, state neither ``appealed`` nor ``withdrawn``
  (:attr:`hub.engine.cards.Card.counts`); these are the yellow / red figures, per rule and per
  department, and the only cards any total adds up;
- reminders (提醒) are shown apart: they are notices, not cards against a department;
- cards withdrawn by the system (state ``withdrawn``, last action ``retract``: a later record
  contradicted them, 系统撤销) are a count and a short list with their reasons, never added in;
- cards withdrawn on appeal and cards still under appeal are their own counts;
- of the standing cards: upheld on appeal, put right (rectified, or closed after being put right),
  closed as recorded (已办结·记录在案: the matter was already closed when the card was raised, history
  action ``record``), still needing action (raised, notified, upheld), historical.

So no card figure can exceed the month's cards, and no card is counted twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from hub.engine.localtime import LOCAL_TZ
from hub.engine.rules import RULES

#: Longest list of system withdrawals a report prints (their count is always given).
WITHDRAWALS_SHOWN = 20
COUNTED = ("yellow", "red")
NOT_STANDING = ("appealed", "withdrawn")


def _columns(conn: sqlite3.Connection, table: str) -> frozenset[str]:
    return frozenset(str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})"))


ACTIONS = "(SELECT group_concat(json_extract(h.value, '$.action'), ',') FROM json_each(c.json, '$.history') h)"
"""A card's actions in order, from its own history (system actions such as ``record`` may exist only there)."""


def people_time(value: str | None) -> str:
    """An ISO time as people read it: ``2026-11-23 14:05`` (local time)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value[:16].replace("T", " ")
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL_TZ)
    return moment.strftime("%Y-%m-%d %H:%M")


def month_cards(conn: sqlite3.Connection, first: date, last: date, dept: str | None) -> dict[str, Any]:
    """``cards`` (figures), ``cards_by_rule`` (standing cards and reminders per rule),
    ``withdrawals`` (system withdrawals, at most :data:`WITHDRAWALS_SHOWN`) and ``cards_by_dept``
    (standing yellow / red per department) of the cards whose moment lies in ``first``..``last``."""
    columns = _columns(conn, "cards")
    historical = "c.historical" if "historical" in columns else "json_extract(c.json, '$.historical')"
    where = "c.moment >= ? AND c.moment < ?" + ("" if dept is None else " AND c.dept_code = ?")
    params: tuple[Any, ...] = (first.isoformat(), (last + timedelta(days=1)).isoformat())
    if dept is not None:
        params += (dept,)
    figures = {k: 0 for k in ("raised", "standing", "yellow", "red", "reminders", "historical", "recorded",
                              "needs_action", "appealed", "upheld", "rectified", "closed", "withdrawn_on_appeal",
                              "system_withdrawn")}  # fmt: skip
    by_rule: dict[tuple[str, str], int] = {}
    by_dept: dict[str, dict[str, int]] = {}
    rows = conn.execute(
        f"SELECT c.rule, c.level, c.state, c.dept_code, {historical}, {ACTIONS}, COUNT(*) FROM cards c "
        f"WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6", params)  # fmt: skip
    for rule, level, state, dept_code, is_historical, sequence, n in rows:
        n, actions = int(n), str(sequence or "").split(",")
        if level not in COUNTED:
            if state != "withdrawn":
                figures["reminders"] += n
                by_rule[(rule, level)] = by_rule.get((rule, level), 0) + n
            continue
        if state == "withdrawn" and actions[-1] == "retract":
            figures["system_withdrawn"] += n  # never raised as far as the month is concerned
            continue
        figures["raised"] += n
        if state == "withdrawn":
            figures["withdrawn_on_appeal"] += n
            continue
        if state == "appealed":
            figures["appealed"] += n
            continue
        figures["standing"] += n
        figures[level] += n
        by_rule[(rule, level)] = by_rule.get((rule, level), 0) + n
        entry = by_dept.setdefault(str(dept_code or ""), {"yellow": 0, "red": 0})
        entry[level] += n
        figures["historical"] += n if is_historical else 0
        figures["upheld"] += n if "uphold" in actions else 0
        if "record" in actions:
            figures["recorded"] += n
        elif state in ("rectified", "closed") or "rectify" in actions:
            figures["rectified"] += n  # put right (a closed card that was not closed as recorded was put right)
        if state == "closed":
            figures["closed"] += n
        elif state in ("raised", "notified", "upheld"):
            figures["needs_action"] += n
    return {
        "cards": figures,
        "cards_by_rule": [
            {"rule": rule, "name": RULES[rule].name if rule in RULES else rule, "level": level, "count": n}
            for (rule, level), n in sorted(by_rule.items(), key=lambda kv: (_rule_order(kv[0][0]), kv[0][1]))
        ],
        "withdrawals": withdrawals(conn, where, params),
        "cards_by_dept": by_dept,
    }


def _rule_order(rule: str) -> tuple[int, str]:
    digits = rule[1:]
    return (int(digits), rule) if digits.isdigit() else (10_000, rule)


def withdrawals(conn: sqlite3.Connection, where: str, params: tuple[Any, ...],
                limit: int = WITHDRAWALS_SHOWN) -> list[dict[str, Any]]:  # fmt: skip
    """The system's withdrawals (系统撤销) among the cards of ``where``: newest moment first."""
    names: dict[str, str] = {}
    if _columns(conn, "sup_names"):
        names = dict(conn.execute("SELECT code, name FROM sup_names WHERE kind = 'dept'").fetchall())
    rows = conn.execute(
        "SELECT c.rule, c.level, c.dept_code, c.case_id, c.title, c.moment, "
        "json_extract(c.json, '$.history[#-1].note'), json_extract(c.json, '$.history[#-1].at') FROM cards c "
        f"WHERE {where} AND c.state = 'withdrawn' AND c.level IN ('yellow', 'red') "
        "AND json_extract(c.json, '$.history[#-1].action') = 'retract' "
        "ORDER BY c.moment DESC, c.card_id LIMIT ?", (*params, limit))  # fmt: skip
    return [
        {"rule": rule, "level": level, "dept_name": names.get(dept_code) or dept_code or "", "case_id": case_id or "",
         "title": title, "moment": people_time(moment), "reason": note or "", "withdrawn_at": people_time(at)}
        for rule, level, dept_code, case_id, title, moment, note, at in rows
    ]  # fmt: skip


def department_cards(cards_by_dept: Mapping[str, Mapping[str, int]], code: str) -> dict[str, int]:
    """Standing yellow / red cards of one department (zeros when it has none)."""
    entry = cards_by_dept.get(code) or {}
    return {"yellow": int(entry.get("yellow", 0)), "red": int(entry.get("red", 0))}
