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
from shared.canonical import parse, parse_fast
from shared.errors import RecordError

#: The most cases one month's findings page reads (the page says when it stopped there).
MAX_CASES = 100_000


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


def _body(raw: Any, *, strict: bool = True) -> Mapping[str, Any] | None:
    """A stored record's body. ``strict=False`` skips the duplicate-key check (:func:`parse_fast`):
    for records the supervision already parsed strictly before linking them to a case."""
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    try:
        body = (parse(data) if strict else parse_fast(data)).get("body")
    except (RecordError, AttributeError, ValueError):
        return None
    return body if isinstance(body, Mapping) else None


def month_findings(conn: sqlite3.Connection, month: str, dept: str | None = None,
                   limit: int = MAX_CASES) -> tuple[list[CaseFinding], int, bool]:  # fmt: skip
    """The findings of the cases accepted in ``month`` (``YYYY-MM``, by the local date in
    ``accepted_at``), optionally of one department, in acceptance order. Returns (findings, cases
    checked, whether ``limit`` stopped it). One query: the month's cases joined with their
    acceptance and completion records."""
    catalogue = current_map(conn)
    if catalogue is None or not _has(conn, "cases") or not _has(conn, "records"):
        return [], 0, False
    year, mon = int(month[:4]), int(month[5:7])
    end = f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"
    where = "accepted_at >= ? AND accepted_at < ?" + (" AND dept_code = ?" if dept else "")
    args: list[Any] = [month, end, *([dept] if dept else [])]
    capped = conn.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM cases WHERE {where} LIMIT ?)",
                          [*args, limit + 1]).fetchone()[0] > limit  # fmt: skip
    rows = conn.execute(
        "SELECT c.case_id, c.dept_code, c.item_code, c.item_name, c.accepted_at, e.type, r.raw FROM "
        f"(SELECT case_id, dept_code, item_code, item_name, accepted_at FROM cases WHERE {where} "
        " ORDER BY accepted_at, case_id LIMIT ?) c "
        "LEFT JOIN case_events e ON e.case_id = c.case_id AND e.type IN ('case.accepted', 'case.completed') "
        "LEFT JOIN records r ON r.id = e.record_id", [*args, limit])  # fmt: skip
    cases: dict[str, tuple[tuple[Any, ...], list[dict[str, Any]]]] = {}
    for case_id, dept_code, item_code, item_name, accepted_at, type_, raw in rows:
        entry = cases.get(case_id)
        if entry is None:
            entry = cases[case_id] = ((dept_code, item_code, item_name, accepted_at), [])
        if type_ is not None and raw is not None:
            # case_events only links records the supervision parsed strictly (others go to sup_errors)
            entry[1].append({"type": type_, "body": _body(raw, strict=False)})
    out: list[CaseFinding] = []
    for case_id, ((dept_code, item_code, item_name, accepted_at), events) in sorted(
            cases.items(), key=lambda kv: (kv[1][0][3] or "", kv[0])):
        events.sort(key=lambda e: e["type"] != "case.accepted")
        for finding in findings_of_timeline(catalogue, item_code or "", events):
            out.append(CaseFinding(case_id, dept_code or "", item_code or "", item_name or "", accepted_at or "",
                                   finding))  # fmt: skip
    return out, len(cases), capped
