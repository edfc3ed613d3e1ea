"""Read models of cases: the board's page (filters, indexes, pagination) and one case's page.

Filter-only list queries are driven by an index (``cases_*``) and ordered by acceptance time,
newest first. Totals come from ``sup_daily`` / ``sup_status`` when the filters allow it (exact, no
scan), else from a count bounded by :data:`COUNT_CAP`.

A free-text search (``q``) is answered in two steps:

1. **Case number** — the cases whose ``case_id`` equals or starts with ``q`` (a range on the
   primary key, case-sensitive), listed in case-number order (so an exact match comes first).
2. Only when no case number matches: the **full-text index** ``cases_fts`` (trigram ``MATCH`` from
   three characters, ``LIKE`` below), listed by the index's own rowid, descending. The rowid of
   ``cases_fts`` is the ``cases`` rowid, i.e. the order in which the hub first stored each case —
   *about* newest first (cases are stored as they are accepted or refused; a late or replayed
   record may place a case slightly out of acceptance order). Sorting matches by ``accepted_at``
   instead would read every match (110–350 ms for 50k–330k matches on a 1M-case store).

Search totals are counted inside the index, bounded by :data:`SEARCH_COUNT_CAP`. A capped total
(here or from :data:`COUNT_CAP`) is a lower bound: :attr:`Page.total_is_estimate` is then true and
the API's page envelope says so (``total_is_estimate``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from hub.engine.calendar import WorkCalendar
from hub.engine.clock import Pause, Unit, counted_days
from hub.engine.localtime import local_date, start_of
from hub.engine.wording import event_name
from hub.supervision.rows import COLUMNS
from hub.supervision.schema import OPEN_STATUSES
from hub.web.pagination import Page, PageRequest
from shared.canonical import parse
from shared.errors import RecordError
from shared.record import record_hash

COUNT_CAP = 100_000
SEARCH_COUNT_CAP = 10_000
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM cases"
_SELECT_C = f"SELECT {', '.join('c.' + c for c in COLUMNS)}"
_MAX_CHAR = "\U0010ffff"  # sorts after any character: q .. q+MAX is the range of strings starting with q


def case_filters(filters: Mapping[str, str], dept: str | None) -> tuple[list[str], list[Any]] | None:
    """SQL conditions of the board's filters but ``q`` (see :func:`search_text`) in a department
    scope; None: nothing can match."""
    where: list[str] = []
    params: list[Any] = []
    wanted = filters.get("dept")
    if dept is not None and wanted and wanted != dept:
        return None
    if dept is not None or wanted:
        where.append("dept_code = ?")
        params.append(dept if dept is not None else wanted)
    for name, column in (("item", "item_code"), ("window", "window_id"), ("status", "status")):
        if value := filters.get(name):
            where.append(f"{column} = ?")
            params.append(value)
    if value := filters.get("from"):
        where.append("accepted_at >= ?")
        params.append(value)
    if value := filters.get("to"):
        where.append("accepted_at < ?")
        params.append((date.fromisoformat(value) + timedelta(days=1)).isoformat())
    return where, params


def search_text(filters: Mapping[str, str]) -> str:
    """The free-text query ``q``, without control characters (never valid in FTS) and outer spaces."""
    return "".join(ch for ch in filters.get("q", "") if ch >= " ").strip()


def _capped_count(conn: sqlite3.Connection, sql: str, params: list[Any], cap: int) -> tuple[int, bool]:
    """(rows of ``sql`` up to ``cap``, whether the cap was reached — the total is then a lower bound)."""
    n = int(conn.execute(f"SELECT COUNT(*) FROM ({sql} LIMIT {cap})", params).fetchone()[0])
    return n, n >= cap


def case_total(conn: sqlite3.Connection, filters: Mapping[str, str], dept: str | None,
               where: list[str], params: list[Any]) -> tuple[int, bool]:  # fmt: skip
    """(total, is estimate): exact from the aggregates for (department[, open status]) filters,
    else a count bounded by :data:`COUNT_CAP` (an estimate when it reaches the cap). No ``q``."""
    only = set(filters) - {"dept"}
    status = filters.get("status")
    if not only:  # every case row counts once as accepted or as refused
        scope = dept if dept is not None else filters.get("dept")
        sql = "SELECT COALESCE(SUM(n), 0) FROM sup_daily WHERE metric IN ('accepted', 'refused')"
        if scope is not None:
            return int(conn.execute(sql + " AND dept_code = ?", (scope,)).fetchone()[0]), False
        return int(conn.execute(sql).fetchone()[0]), False
    if only == {"status"} and status in OPEN_STATUSES:
        scope = dept if dept is not None else filters.get("dept")
        sql = "SELECT COALESCE(SUM(n), 0) FROM sup_status WHERE status = ?"
        args: list[Any] = [status]
        if scope is not None:
            sql += " AND dept_code = ?"
            args.append(scope)
        return int(conn.execute(sql, args).fetchone()[0]), False
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return _capped_count(conn, f"SELECT 1 FROM cases{clause}", params, COUNT_CAP)


def case_page(conn: sqlite3.Connection, filters: Mapping[str, str], dept: str | None, page: PageRequest,
              calendar: WorkCalendar, now: datetime) -> Page:  # fmt: skip
    """One page of the board."""
    built = case_filters(filters, dept)
    if built is None:
        return Page([], page.page, page.per_page, 0)
    where, params = built
    if q := search_text(filters):
        found = _case_id_page(conn, q, where, params, page)
        rows, total, estimate = found if found is not None else _text_page(conn, q, where, params, page)
    else:
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = conn.execute(
            f"{_SELECT}{clause} ORDER BY accepted_at DESC, case_id LIMIT ? OFFSET ?",
            (*params, page.per_page, page.offset),
        ).fetchall()
        total, estimate = case_total(conn, filters, dept, where, params)
    items = [case_item(dict(zip(COLUMNS, r, strict=True)), calendar, now) for r in rows]
    window_names(conn, items)
    return Page(items, page.page, page.per_page, total, total_is_estimate=estimate)


def window_names(conn: sqlite3.Connection, items: list[dict[str, Any]]) -> None:
    """Set ``window_name`` of each item: the name its agent reported with the acceptance
    (``sup_names``; None when none did: the page shows the id)."""
    ids = sorted({str(i["window_id"]) for i in items if i.get("window_id")})
    names: dict[str, str] = {}
    if ids:
        marks = ",".join("?" * len(ids))
        names = {c: n for c, n in conn.execute(
            f"SELECT code, name FROM sup_names WHERE kind = 'window' AND name IS NOT NULL AND code IN ({marks})",  # noqa: S608
            ids)}
    for item in items:
        item["window_name"] = names.get(str(item.get("window_id") or ""))


_Found = tuple[list[Any], int, bool]  # rows, total, total is an estimate


def _case_id_page(conn: sqlite3.Connection, q: str, where: list[str], params: list[Any],
                  page: PageRequest) -> _Found | None:  # fmt: skip
    """Cases whose number equals or starts with ``q`` (primary-key range), in case-number order;
    None when there is none (the search then falls back to the full-text index)."""
    conditions = " AND ".join(["case_id >= ?", "case_id < ?", *where])
    args = [q, q + _MAX_CHAR, *params]
    if conn.execute(f"SELECT 1 FROM cases WHERE {conditions} LIMIT 1", args).fetchone() is None:
        return None
    rows = conn.execute(f"{_SELECT} WHERE {conditions} ORDER BY case_id LIMIT ? OFFSET ?",
                        (*args, page.per_page, page.offset)).fetchall()  # fmt: skip
    total, estimate = _capped_count(conn, f"SELECT 1 FROM cases WHERE {conditions}", args, SEARCH_COUNT_CAP)
    return rows, total, estimate


def _text_page(conn: sqlite3.Connection, q: str, where: list[str], params: list[Any],
               page: PageRequest) -> _Found:  # fmt: skip
    """Full-text matches, driven by ``cases_fts`` in its rowid order, newest stored first (see the
    module's doc); the other filters are checked on each match's ``cases`` row."""
    if len(q) >= 3:  # trigram index: the query as one quoted phrase, its syntax never interpreted
        match, arg = "f.cases_fts MATCH ?", '"' + q.replace('"', '""') + '"'
    else:  # too short for a trigram: a scan of the index's text, still in rowid order
        like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        match, arg = "f.text LIKE ? ESCAPE '\\'", "%" + like + "%"
    # CROSS JOIN: the index drives (SQLite keeps the left table outer), so ORDER BY f.rowid needs no sort
    source = "FROM cases_fts f CROSS JOIN cases c ON c.rowid = f.rowid"
    conditions = " AND ".join([match, *(f"c.{w}" for w in where)])
    args = [arg, *params]
    rows = conn.execute(f"{_SELECT_C} {source} WHERE {conditions} ORDER BY f.rowid DESC LIMIT ? OFFSET ?",
                        (*args, page.per_page, page.offset)).fetchall()  # fmt: skip
    counted = f"SELECT 1 {source} WHERE {conditions}" if where else f"SELECT 1 FROM cases_fts f WHERE {match}"
    total, estimate = _capped_count(conn, counted, args if where else [arg], SEARCH_COUNT_CAP)
    return rows, total, estimate


def case_item(row: Mapping[str, Any], calendar: WorkCalendar, now: datetime) -> dict[str, Any]:
    """A board row: the stored columns a page shows, with remaining time computed for ``now``."""
    out = {k: row[k] for k in (
        "case_id", "dept_code", "dept_name", "item_code", "item_name", "window_id", "staff_id", "staff_name",
        "applicant_name", "case_kind", "status", "accepted_at", "unit", "due_date", "statutory_due",
        "completed_at", "outcome", "overdue_days", "result_code", "refused_at", "anomaly")}  # fmt: skip
    out["provisional"] = bool(row["due_provisional"])
    out["paused"] = bool(row["paused"])
    out["refused"] = row["refused_at"] is not None and row["accepted_at"] is None
    due = row["due_date"]
    due_at = start_of(date.fromisoformat(due) + timedelta(days=1)) if due else None
    out["due_at"] = due_at.isoformat() if due_at else None
    finished = row["completed_at"] is not None or out["refused"]
    out["remaining_s"] = None if due_at is None or finished else int((due_at - now).total_seconds())
    out["remaining_days"] = None
    clock = json.loads(row["clock"]) if row["clock"] else None
    if clock and not finished and not row["paused"]:
        out["remaining_days"] = remaining_days(clock, calendar, local_date(now))
    return out


def _pauses(clock: Mapping[str, Any]) -> list[Pause]:
    return [Pause(date.fromisoformat(a), date.fromisoformat(b) if b else None) for a, b in clock["pauses"]]


def remaining_days(clock: Mapping[str, Any], calendar: WorkCalendar, today: date) -> int | None:
    """Promised days left at any moment of ``today`` (negative once overdue)."""
    try:
        limit = clock["promised"]
        used = counted_days(calendar, date.fromisoformat(clock["start"]), today - timedelta(days=1),
                            Unit(limit["unit"]), _pauses(clock))  # fmt: skip
        return int(limit["value"]) + int(clock["extension"]) - used
    except (KeyError, ValueError, TypeError):
        return None


def clock_view(row: Mapping[str, Any], calendar: WorkCalendar, today: date) -> dict[str, Any] | None:
    """The clock of one case: counted days, pauses, due dates, remaining, outcome."""
    if not row["clock"]:
        return None
    clock = json.loads(row["clock"])
    unit = Unit(clock["promised"]["unit"])
    start = date.fromisoformat(clock["start"])
    pauses = _pauses(clock)
    until = date.fromisoformat(clock["completed"]) if clock.get("completed") else today - timedelta(days=1)
    counted = counted_days(calendar, start, until, unit, pauses) if until > start else 0
    return {
        "accepted": clock["accepted"], "start": clock["start"], "restarted": clock["start"] != clock["accepted"],
        "unit": unit.value, "limit": clock["promised"]["value"], "extension": clock["extension"],
        "statutory": clock.get("statutory"), "supplement_mode": clock.get("mode"),
        "pauses": [{"start": p.start.isoformat(), "end": p.end.isoformat() if p.end else None,
                    "open": p.end is None,
                    "days": (((p.end or today) - p.start).days + 1)} for p in pauses],
        "paused": bool(row["paused"]), "counted_days": counted,
        "remaining_days": None if row["completed_at"] or row["paused"] else remaining_days(clock, calendar, today),
        "due_date": row["due_date"], "statutory_due": row["statutory_due"], "reminder_date": row["reminder_date"],
        "provisional": bool(row["due_provisional"]), "anomaly": row["anomaly"],
        "completed": clock.get("completed"), "outcome": row["outcome"], "overdue_days": row["overdue_days"],
    }  # fmt: skip


def timeline(conn: sqlite3.Connection, case_id: str) -> list[dict[str, Any]]:
    """The case's records in business-time order, each with its hash, verification state and its
    type's Chinese name (``type_name``)."""
    rows = conn.execute(
        "SELECT e.record_id, e.type, e.at, r.ts, r.received_at, r.hash, r.agent_id, r.stream_id, r.seq, "
        "r.batch_id, r.raw FROM case_events e JOIN records r ON r.id = e.record_id "
        "WHERE e.case_id = ? ORDER BY e.record_id", (case_id,)
    ).fetchall()
    anchored = conn.execute("SELECT COALESCE(MAX(size), 0) FROM checkpoints").fetchone()[0] if rows else 0
    out = []
    for rid, type_, at, ts, received, digest, agent, stream, seq, batch, raw in rows:
        stored = bytes(digest)
        data = raw.encode() if isinstance(raw, str) else bytes(raw)  # tampered rows may hold text
        ok = record_hash(data) == stored
        body: Any
        try:
            body = parse(data).get("body")
        except (RecordError, AttributeError):
            body = None
        out.append({
            "record_id": rid, "type": type_, "type_name": event_name(type_), "at": at, "ts": ts,
            "received_at": received, "hash": stored.hex(),
            "agent_id": agent, "stream_id": stream, "seq": seq, "batch_id": batch,
            "verified": ok, "verification": "verified" if ok else "failed",
            "checkpoint": int(anchored) if anchored and int(anchored) >= rid else None, "body": body,
        })  # fmt: skip
    out.sort(key=lambda e: (e["at"] or e["ts"] or "", e["record_id"]))
    staff_names(conn, out)
    return out


#: Body fields of a record that may hold a staff member's code where people expect a name.
STAFF_FIELDS = ("handler", "staff_id", "target_staff")


def staff_names(conn: sqlite3.Connection, events: list[dict[str, Any]]) -> None:
    """Add ``names`` ({field: name}) to each event whose body names a staff member by a code the
    hub knows (``sup_names``): a step's handler given as a staff number reads as the person."""
    codes = {str(e["body"][f]) for e in events if isinstance(e.get("body"), dict)
             for f in STAFF_FIELDS if e["body"].get(f)}  # fmt: skip
    if not codes:
        return
    marks = ",".join("?" * len(codes))
    known = {str(c): str(n) for c, n in conn.execute(
        f"SELECT code, name FROM sup_names WHERE kind = 'staff' AND code IN ({marks})", sorted(codes)) if n}
    for e in events:
        body = e.get("body")
        if isinstance(body, dict):
            found = {f: known[str(body[f])] for f in STAFF_FIELDS if body.get(f) and str(body[f]) in known}
            if found:
                e["names"] = found
