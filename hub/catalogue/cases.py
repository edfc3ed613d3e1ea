"""Findings of stored cases against the current catalogue (read-only over the supervision tables).

A case's own fields come from its ``case.accepted`` record (item, promised and statutory limits, fee
standard) and ``case.completed`` record (fee charged); :func:`hub.catalogue.model.check_case` does the
comparing. Nothing here changes cases or cards: findings are flagged for people to look at.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.catalogue import store
from hub.catalogue.model import CatalogueItem, Finding, case_fields, check_case
from shared.canonical import parse
from shared.errors import RecordError

#: The most cases one month's findings page reads (the page says when it stopped there).
MAX_CASES = 50_000


@dataclass(frozen=True, slots=True)
class CaseFinding:
    """A finding of one case."""

    case_id: str
    dept_code: str
    item_code: str
    item_name: str
    accepted_at: str
    finding: Finding


def _has(conn: sqlite3.Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone() is not None


def findings_of_timeline(catalogue: Mapping[str, CatalogueItem] | None, item_code: str,
                         events: Iterable[Mapping[str, Any]]) -> list[Finding]:  # fmt: skip
    """One case's findings from its timeline (dicts with ``type`` and ``body``); [] without a catalogue."""
    if catalogue is None:
        return []
    bodies: dict[str, Mapping[str, Any]] = {}
    for event in events:
        body = event.get("body")
        if event.get("type") in ("case.accepted", "case.completed") and isinstance(body, Mapping):
            bodies.setdefault(str(event["type"]), body)
    if "case.accepted" not in bodies:
        return []
    fields = case_fields(bodies.get("case.accepted"), bodies.get("case.completed"), item_code)
    return check_case(catalogue.get(fields.item_code), fields)


def current_map(conn: sqlite3.Connection) -> dict[str, CatalogueItem] | None:
    """The current catalogue by item code; None when no catalogue was ever imported."""
    if not _has(conn, "catalogue_versions") or store.current_version(conn) is None:
        return None
    return {i.item_code: i for i in store.items(conn)}


def _body(raw: Any) -> Mapping[str, Any] | None:
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    try:
        body = parse(data).get("body")
    except (RecordError, AttributeError, ValueError):
        return None
    return body if isinstance(body, Mapping) else None


def month_findings(conn: sqlite3.Connection, month: str, dept: str | None = None,
                   limit: int = MAX_CASES) -> tuple[list[CaseFinding], int, bool]:  # fmt: skip
    """The findings of the cases accepted in ``month`` (``YYYY-MM``, by the date in ``accepted_at``),
    optionally of one department. Returns (findings, cases checked, whether ``limit`` stopped it)."""
    catalogue = current_map(conn)
    if catalogue is None or not _has(conn, "cases") or not _has(conn, "records"):
        return [], 0, False
    year, mon = int(month[:4]), int(month[5:7])
    end = f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"
    sql = ("SELECT case_id, dept_code, item_code, item_name, accepted_at FROM cases "
           "WHERE accepted_at >= ? AND accepted_at < ?")  # fmt: skip
    args: list[Any] = [month, end]
    if dept:
        sql += " AND dept_code = ?"
        args.append(dept)
    cases = conn.execute(sql + " ORDER BY accepted_at, case_id LIMIT ?", [*args, limit + 1]).fetchall()
    capped = len(cases) > limit
    cases = cases[:limit]
    out: list[CaseFinding] = []
    for case_id, dept_code, item_code, item_name, accepted_at in cases:
        events = [{"type": t, "body": _body(raw)} for t, raw in conn.execute(
            "SELECT e.type, r.raw FROM case_events e JOIN records r ON r.id = e.record_id "
            "WHERE e.case_id = ? AND e.type IN ('case.accepted', 'case.completed') ORDER BY e.record_id",
            (case_id,))]  # fmt: skip
        for finding in findings_of_timeline(catalogue, item_code or "", events):
            out.append(CaseFinding(case_id, dept_code or "", item_code or "", item_name or "", accepted_at or "",
                                   finding))  # fmt: skip
    return out, len(cases), capped
