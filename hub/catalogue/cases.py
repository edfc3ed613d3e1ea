"""Findings of stored cases against the current catalogue (read-only over the supervision tables).

A case's own fields come from its ``case.accepted`` record (item, promised and statutory limits, fee
standard) and ``case.completed`` record (fee charged); :func:`hub.catalogue.model.check_case` does the
comparing. Nothing here changes cases or cards: findings are flagged for people to look at.
"""

from __future__ import annotations

import sqlite3
import threading
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


class FindingsCache:
    """Findings per case, reused while neither the catalogue version nor the case's acceptance and
    completion records change (keyed by the newest of those record ids). Thread-safe; bounded."""

    def __init__(self, max_cases: int = 2 * MAX_CASES) -> None:
        self.max_cases = max_cases
        self._lock = threading.Lock()
        self._data: dict[tuple[str, str], tuple[int, int, list[Finding]]] = {}

    def get(self, database: str, case_id: str, version: int, newest: int) -> list[Finding] | None:
        with self._lock:
            hit = self._data.get((database, case_id))
        return hit[2] if hit is not None and hit[0] == version and hit[1] == newest else None

    def put(self, database: str, case_id: str, version: int, newest: int, findings: list[Finding]) -> None:
        with self._lock:
            if len(self._data) >= self.max_cases:
                self._data.clear()
            self._data[(database, case_id)] = (version, newest, findings)


_TYPES = "('case.accepted', 'case.completed')"


def _bodies(conn: sqlite3.Connection, case_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The acceptance and completion bodies of ``case_ids``, in record order."""
    out: dict[str, list[dict[str, Any]]] = {c: [] for c in case_ids}
    for start in range(0, len(case_ids), 500):
        chunk = case_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            "SELECT e.case_id, e.type, r.raw FROM case_events e JOIN records r ON r.id = e.record_id "
            f"WHERE e.case_id IN ({marks}) AND e.type IN {_TYPES} ORDER BY e.case_id, e.record_id", chunk)
        for case_id, type_, raw in rows:
            # case_events only links records the supervision parsed strictly (others go to sup_errors)
            out[case_id].append({"type": type_, "body": _body(raw, strict=False)})
    return out


def month_findings(conn: sqlite3.Connection, month: str, dept: str | None = None, limit: int = MAX_CASES,
                   cache: FindingsCache | None = None) -> tuple[list[CaseFinding], int, bool]:  # fmt: skip
    """The findings of the cases accepted in ``month`` (``YYYY-MM``, by the local date in
    ``accepted_at``), optionally of one department, in acceptance order. Returns (findings, cases
    checked, whether ``limit`` stopped it). With ``cache``, only cases whose records changed since
    the last call (or all, after a new catalogue version) have their records read again."""
    catalogue = current_map(conn)
    version = store.current_version(conn)
    if catalogue is None or version is None or not _has(conn, "cases") or not _has(conn, "records"):
        return [], 0, False
    year, mon = int(month[:4]), int(month[5:7])
    end = f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"
    where = "accepted_at >= ? AND accepted_at < ?" + (" AND dept_code = ?" if dept else "")
    args: list[Any] = [month, end, *([dept] if dept else [])]
    cases = conn.execute(
        "SELECT c.case_id, c.dept_code, c.item_code, c.item_name, c.accepted_at, "
        f"(SELECT MAX(e.record_id) FROM case_events e WHERE e.case_id = c.case_id AND e.type IN {_TYPES}) "
        f"FROM cases c WHERE {where} ORDER BY accepted_at, case_id LIMIT ?", [*args, limit + 1]).fetchall()
    capped = len(cases) > limit
    cases = cases[:limit]
    database = str(conn.execute("PRAGMA database_list").fetchone()[2])
    known: dict[str, list[Finding]] = {}
    stale: list[str] = []
    for case_id, _d, _i, _n, _a, newest in cases:
        hit = cache.get(database, case_id, version.version, newest or 0) if cache is not None else None
        if hit is None:
            stale.append(case_id)
        else:
            known[case_id] = hit
    events = _bodies(conn, stale)
    out: list[CaseFinding] = []
    for case_id, dept_code, item_code, item_name, accepted_at, newest in cases:
        found = known.get(case_id)
        if found is None:
            found = findings_of_timeline(catalogue, item_code or "", events.get(case_id, []))
            if cache is not None:
                cache.put(database, case_id, version.version, newest or 0, found)
        out.extend(CaseFinding(case_id, dept_code or "", item_code or "", item_name or "", accepted_at or "", f)
                   for f in found)  # fmt: skip
    return out, len(cases), capped
