"""Scoring facts of a period from the database, and the rankings built on them (DOMAIN.md §5).

:func:`load_facts` reads, through indexes only, what :func:`hub.engine.scoring.score_entities`
needs for a month or a quarter — the same definitions as :func:`hub.engine.scoring.collect_facts`
on the engine's memory:

- cases completed in the period (``cases_completed_day``) with their outcome — the scores' rates
  and ``n`` —, plus cases still open and past their promised due date at the period's end
  (``cases_open_due``, and those completed only after the period; ``completed=False``: the report
  counts them, the scores only through their cards);
- the standing yellow and red cards whose moment lies in the period (``cards(moment)``; reminders,
  withdrawn cards and cards under appeal count nothing), ratings given in it, complaints filed in it.

:func:`ranking_rows` turns scores into ranked, named, explained rows with the 约谈 flag.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from hub.engine.cards import Card
from hub.engine.clock import Outcome
from hub.engine.complaints import handled_on_time
from hub.engine.scoring import (
    CaseFact,
    ComplaintFact,
    Facts,
    Period,
    RatingFact,
    Score,
    interview_flags,
    rank,
)

#: ``sup_names`` kind of each ranked kind.
NAME_KIND = {"department": "dept", "window": "window", "staff": "staff", "item": "item"}
_CASE_COLS = "case_id, dept_code, outcome, window_id, staff_id, item_code"


def _bounds(period: Period) -> tuple[str, str, str]:
    """First day, last day, and the day after, as ISO text."""
    return period.start.isoformat(), period.end.isoformat(), (period.end + timedelta(days=1)).isoformat()


def load_facts(conn: sqlite3.Connection, period: Period, dept: str | None = None) -> Facts:
    """The facts of ``period`` (one department's, or all)."""
    first, last, after = _bounds(period)
    scope, extra = ("", ()) if dept is None else (" AND dept_code = ?", (dept,))
    cases: list[CaseFact] = []
    for cid, d, outcome, w, s, i in conn.execute(
        f"SELECT {_CASE_COLS} FROM cases WHERE completed_day BETWEEN ? AND ? AND accepted_at IS NOT NULL "
        f"AND outcome IS NOT NULL{scope}", (first, last, *extra)
    ):
        cases.append(CaseFact(cid, d, Outcome(outcome), w, s, i))
    for sql in (
        f"SELECT {_CASE_COLS} FROM cases WHERE completed_day IS NULL AND due_date < ? AND accepted_at < ?{scope}",
        f"SELECT {_CASE_COLS} FROM cases WHERE completed_day > ? AND due_date < ? AND accepted_at < ?{scope}",
    ):
        params = (last, after, *extra) if "IS NULL" in sql else (last, last, after, *extra)
        for cid, d, _outcome, w, s, i in conn.execute(sql, params):
            cases.append(CaseFact(cid, d, Outcome.OVERDUE, w, s, i, completed=False))
    cards = tuple(
        Card.from_json(json.loads(text)) for (text,) in conn.execute(
            f"SELECT json FROM cards WHERE moment >= ? AND moment < ?{scope} AND level != 'reminder' "
            "AND state NOT IN ('appealed', 'withdrawn')", (first, after, *extra))
    )  # fmt: skip
    ratings = tuple(
        RatingFact(cid, level, d, rectified is not None, w, s, i)
        for cid, level, d, rectified, w, s, i in conn.execute(
            f"SELECT case_id, level, dept_code, rectified_at, window_id, staff_id, item_code FROM case_ratings "
            f"WHERE day BETWEEN ? AND ?{scope}", (first, last, *extra))
    )  # fmt: skip
    complaints: list[ComplaintFact] = []
    cscope = "" if dept is None else " AND target_dept = ?"
    for cid, d, staff, accepted, answered, closed, answer_due, accept_due, substantiated in conn.execute(
        "SELECT complaint_id, target_dept, target_staff, accepted_day, answered_day, closed_day, answer_due, "
        f"accept_due, substantiated FROM complaints WHERE filed_day BETWEEN ? AND ?{cscope}", (first, last, *extra)
    ):
        days = [date.fromisoformat(x) if x else None for x in (accepted, answered, closed, accept_due, answer_due)]
        well = handled_on_time(days[0], days[1], days[2], days[3], days[4], period.end)
        complaints.append(ComplaintFact(cid, d, well, bool(substantiated), staff))
    return Facts(tuple(cases), cards, tuple(complaints), ratings)


def names(conn: sqlite3.Connection, kind: str) -> dict[str, tuple[str | None, str | None]]:
    """``{code: (name, dept_code)}`` of a ranked kind."""
    return {str(c): (n, d) for c, n, d in conn.execute(
        "SELECT code, name, dept_code FROM sup_names WHERE kind = ?", (NAME_KIND[kind],))}


def ranking_rows(
    scores: Sequence[Score],
    previous: Sequence[Score] | None,
    kind: str,
    known: Mapping[str, tuple[str | None, str | None]],
    dept_names: Mapping[str, tuple[str | None, str | None]],
    dept: str | None = None,
) -> list[dict[str, Any]]:
    """Ranked rows: ``rank, kind, entity, code, name, dept_code, dept_name, score, grade, points,
    max_points, blocks, counts`` (what the deductions were computed from), ``deductions`` (grouped
    per rule and level, each with its formula), ``interview``."""
    flagged = set(interview_flags(previous, scores)) if previous is not None and kind in (
        "department", "window") else set()  # fmt: skip
    out: list[dict[str, Any]] = []
    for position, score in rank(scores):
        name, entity_dept = known.get(score.entity, (None, None))
        dept_code = score.entity if kind == "department" else entity_dept
        if dept is not None and dept_code != dept:
            continue
        row = score.to_json()
        row.update(
            rank=position, code=score.entity, name=name or score.entity, dept_code=dept_code,
            dept_name=(dept_names.get(dept_code or "", (None, None))[0] or dept_code),
            interview=score.entity in flagged,
        )
        out.append(row)
    return out
