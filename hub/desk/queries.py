"""Reading complaints and disclosure requests for the desk's pages and API.

Lists come from the supervision's ``complaints`` and ``disclosures`` tables (captured and desk
records alike, as the engine judged them). A complaint's or request's own page, and the checks
before a step, read its *records*: those the supervision linked to it (``sup_subject_events``)
and the desk's records it has not consumed yet (beyond its cursor), so a step entered a moment
ago is already there. Department users see their own department only (``dept``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from hub.desk import DESK_AGENT
from hub.desk.steps import ComplaintFacts, DisclosureFacts
from hub.engine.calendar import WorkCalendar
from hub.engine.clock import Unit, counted_days
from hub.web.pagination import Page, PageRequest
from shared.canonical import parse
from shared.errors import RecordError
from shared.record import record_hash

KINDS = ("complaint", "disclosure")
COMPLAINT_STATES = ("accept", "answer", "answered", "closed")
"""awaiting acceptance / awaiting the answer / answered, not closed / closed."""
DISCLOSURE_STATES = ("open", "paused", "answered")
_ID_FIELD = {"complaint": "complaint_id", "disclosure": "request_id"}


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def remaining(calendar: WorkCalendar, start: date, due: date, today: date, unit: Unit = Unit.G) -> int:
    """Days left at any moment of ``today`` on a clock that started counting after ``start`` and is
    due at the end of ``due`` (DOMAIN.md §3: N minus the counted dates before today — the limit itself
    on the start date, 1 on the due date, 0 or less once overdue; the UI shows ``1 - n`` overdue days)."""
    if today <= due:
        return counted_days(calendar, max(today - timedelta(days=1), start), due, unit)
    return -counted_days(calendar, due, today - timedelta(days=1), unit)


def _cursor(conn: sqlite3.Connection) -> int:
    if not has_table(conn, "sup_state"):
        return 0
    row = conn.execute("SELECT value FROM sup_state WHERE key = 'cursor'").fetchone()
    try:
        return int(row[0]) if row else 0
    except (TypeError, ValueError):
        return 0


def _body(raw: bytes | str) -> dict[str, Any] | None:
    try:
        value = parse(raw.encode() if isinstance(raw, str) else bytes(raw))
    except RecordError:
        return None
    body = value.get("body") if isinstance(value, dict) else None
    return body if isinstance(body, dict) else None


def record_ids(conn: sqlite3.Connection, kind: str, ident: str) -> list[int]:
    """The ids of the records of ``kind`` (complaint / disclosure) ``ident``: linked by the supervision,
    and the desk's own not consumed yet."""
    ids: set[int] = set()
    if has_table(conn, "sup_subject_events"):
        ids.update(r for (r,) in conn.execute(
            "SELECT record_id FROM sup_subject_events WHERE subject = ?", (f"{kind}:{ident}",)))
    if has_table(conn, "records"):
        field = _ID_FIELD[kind]
        for rid, raw in conn.execute(
            "SELECT id, raw FROM records WHERE agent_id = ? AND id > ? AND type LIKE ?",
            (DESK_AGENT, _cursor(conn), f"{kind}.%"),
        ):
            body = _body(raw)
            if body is not None and body.get(field) == ident:
                ids.add(int(rid))
    return sorted(ids)


def timeline(conn: sqlite3.Connection, kind: str, ident: str) -> list[dict[str, Any]]:
    """The records of one complaint or request in record order, each with its hash, whether its stored
    bytes still hash to it (``verified``), who sent it and its body."""
    ids = record_ids(conn, kind, ident)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT id, type, ts, received_at, hash, agent_id, stream_id, seq, raw FROM records WHERE id IN ({marks}) "
        "ORDER BY id", ids).fetchall()
    out = []
    for rid, type_, ts, received, digest, agent, stream, seq, raw in rows:
        data = raw.encode() if isinstance(raw, str) else bytes(raw)
        body = _body(data) or {}
        out.append({
            "record_id": rid, "type": type_, "at": body.get("at"), "ts": ts, "received_at": received,
            "hash": bytes(digest).hex(), "agent_id": agent, "stream_id": stream, "seq": seq,
            "verified": record_hash(data) == bytes(digest), "desk": agent == DESK_AGENT, "body": body,
        })  # fmt: skip
    return out


def complaint_facts(conn: sqlite3.Connection, complaint_id: str) -> tuple[ComplaintFacts, list[dict[str, Any]]]:
    events = timeline(conn, "complaint", complaint_id)
    return ComplaintFacts.fold(complaint_id, ((e["type"], e["body"]) for e in events)), events


def disclosure_facts(conn: sqlite3.Connection, request_id: str) -> tuple[DisclosureFacts, list[dict[str, Any]]]:
    events = timeline(conn, "disclosure", request_id)
    return DisclosureFacts.fold(request_id, ((e["type"], e["body"]) for e in events)), events


def dept_names(conn: sqlite3.Connection) -> dict[str, str]:
    """``{code: name}`` of the departments the hub knows: named by their records (``sup_names``),
    listed in the item catalogue, or given to department users."""
    out: dict[str, str] = {}
    if has_table(conn, "catalogue_items"):
        out.update((str(c), str(c)) for (c,) in conn.execute("SELECT DISTINCT dept_code FROM catalogue_items") if c)
    if has_table(conn, "users"):
        cols = {r[1] for r in conn.execute("PRAGMA table_info(users)")}
        if "dept_code" in cols:
            out.update((str(c), str(c)) for (c,) in conn.execute(
                "SELECT DISTINCT dept_code FROM users WHERE dept_code IS NOT NULL AND dept_code != ''"))
    if has_table(conn, "sup_names"):
        named = conn.execute("SELECT code, name FROM sup_names WHERE kind = 'dept'")
        out.update((str(c), str(n or c)) for c, n in named)
    return dict(sorted(out.items()))


def subject_cards(conn: sqlite3.Connection, kind: str, ident: str) -> list[dict[str, Any]]:
    """The cards raised on one complaint or request, oldest first."""
    if not has_table(conn, "cards"):
        return []
    rows = conn.execute(
        "SELECT card_id, rule, level, state, title, raised_at, moment, deadline, historical, json FROM cards "
        "WHERE subject = ? ORDER BY raised_at, card_id", (f"{kind}:{ident}",)).fetchall()
    out = []
    for card_id, rule, level, state, title, raised_at, moment, deadline, historical, js in rows:
        label = None
        try:
            data = json.loads(js)
            label = "card_state.recorded" if data.get("recorded") and state == "closed" else None
        except (TypeError, ValueError):
            pass
        out.append({"card_id": card_id, "rule": rule, "level": level, "state": state, "title": title,
                    "raised_at": raised_at, "moment": moment, "deadline": deadline,
                    "historical": bool(historical), "state_label": label})  # fmt: skip
    return out


# -- lists -----------------------------------------------------------------------------------------


def _complaint_where(filters: Mapping[str, str], dept: str | None, today: str) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if dept is not None:
        where.append("target_dept = ?")
        args.append(dept)
    elif filters.get("dept"):
        where.append("target_dept = ?")
        args.append(filters["dept"])
    state = filters.get("state")
    if state == "accept":
        where.append("closed_day IS NULL AND answered_day IS NULL AND accepted_day IS NULL")
    elif state == "answer":
        where.append("closed_day IS NULL AND answered_day IS NULL AND accepted_day IS NOT NULL")
    elif state == "answered":
        where.append("closed_day IS NULL AND answered_day IS NOT NULL")
    elif state == "closed":
        where.append("closed_day IS NOT NULL")
    if filters.get("overdue") == "1":
        where.append("closed_day IS NULL AND answered_day IS NULL AND "
                     "((accepted_day IS NULL AND accept_due < ?) OR (accepted_day IS NOT NULL AND answer_due < ?))")
        args += [today, today]
    return where, args


def complaint_stage(row: Mapping[str, Any]) -> str:
    """The stage shown: ``refused`` is a complaint closed without ever being accepted (不予受理)."""
    if row.get("closed_day"):
        return "refused" if not row.get("accepted_day") and not row.get("answered_day") else "closed"
    if row.get("answered_day"):
        return "answered"
    if row.get("accepted_day"):
        return "answer"
    return "accept"


def complaint_clock(row: Mapping[str, Any], calendar: WorkCalendar, today: date, answer_unit: str) -> dict[str, Any]:
    """The running clock of a complaint row: stage, its due date, days left (``remaining_days``) in
    its unit; for an answered one whether the answer came in time."""
    stage = complaint_stage(row)
    clock: dict[str, Any] = {"stage": stage, "due_date": None, "remaining_days": None, "unit": "G",
                             "answered_on_time": None}  # fmt: skip
    if stage in ("accept", "answer"):
        due_text = row.get("accept_due") if stage == "accept" else row.get("answer_due")
        start_text = row.get("filed_day") if stage == "accept" else row.get("accepted_day")
        unit = Unit.G if stage == "accept" else Unit(answer_unit)
        clock["unit"] = unit.value
        if due_text and start_text:
            due = date.fromisoformat(due_text)
            clock["due_date"] = due_text
            clock["remaining_days"] = remaining(calendar, date.fromisoformat(start_text), due, today, unit)
            clock["provisional"] = calendar.any_provisional(today, due) if today <= due else False
    elif row.get("answered_day") and row.get("answer_due"):
        clock["answered_on_time"] = row["answered_day"] <= row["answer_due"]
    clock["overdue"] = clock["remaining_days"] is not None and clock["remaining_days"] <= 0
    return clock


COMPLAINT_COLUMNS = ("complaint_id", "target_dept", "target_staff", "case_id", "filed_day", "accepted_day",
                     "answered_day", "closed_day", "substantiated", "accept_due", "answer_due", "active")


def complaint_row(conn: sqlite3.Connection, complaint_id: str) -> dict[str, Any] | None:
    if not has_table(conn, "complaints"):
        return None
    values = conn.execute(f"SELECT {', '.join(COMPLAINT_COLUMNS)} FROM complaints WHERE complaint_id = ?",
                          (complaint_id,)).fetchone()  # fmt: skip
    return None if values is None else dict(zip(COMPLAINT_COLUMNS, values, strict=True))


def complaint_page(
    conn: sqlite3.Connection, filters: Mapping[str, str], dept: str | None, page: PageRequest,
    calendar: WorkCalendar, today: date, answer_unit: str,
) -> Page:  # fmt: skip
    """A page of complaints, newest filed first, each with its clock and department name."""
    if not has_table(conn, "complaints"):
        return Page([], page.page, page.per_page, 0)
    where, args = _complaint_where(filters, dept, today.isoformat())
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    total = conn.execute(f"SELECT COUNT(*) FROM complaints{clause}", args).fetchone()[0]
    rows = conn.execute(
        f"SELECT {', '.join(COMPLAINT_COLUMNS)} FROM complaints{clause} "
        "ORDER BY filed_day DESC, complaint_id DESC LIMIT ? OFFSET ?", (*args, page.per_page, page.offset)).fetchall()
    names = dept_names(conn)
    items = []
    for values in rows:
        row = dict(zip(COMPLAINT_COLUMNS, values, strict=True))
        row["substantiated"] = None if row["substantiated"] is None else bool(row["substantiated"])
        row["dept_name"] = names.get(row["target_dept"] or "")
        row["clock"] = complaint_clock(row, calendar, today, answer_unit)
        items.append(row)
    return Page(items, page.page, page.per_page, int(total))


DISCLOSURE_COLUMNS = ("request_id", "dept_code", "received_day", "due_date", "answered_day", "extensions", "active")


def disclosure_row(conn: sqlite3.Connection, request_id: str) -> dict[str, Any] | None:
    if not has_table(conn, "disclosures"):
        return None
    values = conn.execute(f"SELECT {', '.join(DISCLOSURE_COLUMNS)} FROM disclosures WHERE request_id = ?",
                          (request_id,)).fetchone()  # fmt: skip
    return None if values is None else dict(zip(DISCLOSURE_COLUMNS, values, strict=True))


def disclosure_clock(row: Mapping[str, Any], calendar: WorkCalendar, today: date) -> dict[str, Any]:
    """The running clock of a request row: paused (no due date while a 补正 or consultation is open),
    due date and working days left; for an answered one whether it came in time."""
    answered = row.get("answered_day")
    due_text = row.get("due_date")
    clock: dict[str, Any] = {"unit": "G", "due_date": due_text, "remaining_days": None,
                             "paused": not answered and not due_text, "answered_on_time": None}  # fmt: skip
    if answered:
        clock["answered_on_time"] = bool(due_text) and answered <= due_text
    elif due_text and row.get("received_day"):
        # counted from receipt: a 补正 restart or a consultation lies before today, so only the day
        # of a restart itself could read one day more than the engine's count
        due = date.fromisoformat(due_text)
        clock["remaining_days"] = remaining(calendar, date.fromisoformat(row["received_day"]), due, today)
        clock["provisional"] = calendar.any_provisional(today, due) if today <= due else False
    clock["overdue"] = clock["remaining_days"] is not None and clock["remaining_days"] <= 0
    return clock


def disclosure_page(
    conn: sqlite3.Connection, filters: Mapping[str, str], dept: str | None, page: PageRequest,
    calendar: WorkCalendar, today: date,
) -> Page:  # fmt: skip
    """A page of disclosure requests, newest received first, each with its clock."""
    if not has_table(conn, "disclosures"):
        return Page([], page.page, page.per_page, 0)
    where: list[str] = []
    args: list[Any] = []
    chosen_dept = dept if dept is not None else filters.get("dept")
    if chosen_dept:
        where.append("dept_code = ?")
        args.append(chosen_dept)
    state = filters.get("state")
    if state == "open":
        where.append("answered_day IS NULL")
    elif state == "paused":
        where.append("answered_day IS NULL AND due_date IS NULL")
    elif state == "answered":
        where.append("answered_day IS NOT NULL")
    if filters.get("overdue") == "1":
        where.append("answered_day IS NULL AND due_date < ?")
        args.append(today.isoformat())
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    total = conn.execute(f"SELECT COUNT(*) FROM disclosures{clause}", args).fetchone()[0]
    rows = conn.execute(
        f"SELECT {', '.join(DISCLOSURE_COLUMNS)} FROM disclosures{clause} "
        "ORDER BY received_day DESC, request_id DESC LIMIT ? OFFSET ?", (*args, page.per_page, page.offset)).fetchall()
    names = dept_names(conn)
    items = []
    for values in rows:
        row = dict(zip(DISCLOSURE_COLUMNS, values, strict=True))
        row["dept_name"] = names.get(row["dept_code"] or "")
        row["clock"] = disclosure_clock(row, calendar, today)
        items.append(row)
    return Page(items, page.page, page.per_page, int(total))


# -- one complaint / request -----------------------------------------------------------------------


def complaint_detail(conn: sqlite3.Connection, complaint_id: str, dept: str | None, calendar: WorkCalendar,
                     today: date, answer_unit: str) -> dict[str, Any] | None:  # fmt: skip
    """One complaint: what its records say (``facts``), its row and clock as the supervision keeps
    them (``supervised`` False until it has consumed the first record), its cards, its timeline and
    the steps the desk offers next. None if unknown or another department's."""
    facts, events = complaint_facts(conn, complaint_id)
    if not facts.filed:
        return None
    if dept is not None and facts.target_dept != dept:
        return None
    row = complaint_row(conn, complaint_id)
    names = dept_names(conn)
    if dept is not None:  # the department complained about never learns who complained (保护投诉人)
        facts.complainant = None
        for event in events:
            event["body"] = {k: v for k, v in event["body"].items() if k != "complainant"}
    return {
        "complaint_id": complaint_id, "target_dept": facts.target_dept,
        "dept_name": names.get(facts.target_dept or ""), "target_staff": facts.target_staff,
        "case_id": facts.case_id, "text": facts.text, "channel": facts.channel, "complainant": facts.complainant,
        "substantiated": facts.substantiated, "times": {k: v.isoformat() for k, v in facts.times.items()},
        "supervised": row is not None, "row": row,
        "clock": complaint_clock(row, calendar, today, answer_unit) if row is not None else None,
        "cards": subject_cards(conn, "complaint", complaint_id), "timeline": events,
        "next_steps": facts.next_steps(),
    }  # fmt: skip


def disclosure_detail(conn: sqlite3.Connection, request_id: str, dept: str | None, calendar: WorkCalendar,
                      today: date) -> dict[str, Any] | None:  # fmt: skip
    """One disclosure request (as :func:`complaint_detail`)."""
    facts, events = disclosure_facts(conn, request_id)
    if facts.received is None:
        return None
    if dept is not None and facts.dept_code != dept:
        return None
    row = disclosure_row(conn, request_id)
    names = dept_names(conn)
    return {
        "request_id": request_id, "dept_code": facts.dept_code, "dept_name": names.get(facts.dept_code or ""),
        "text": facts.text, "channel": facts.channel, "applicant": facts.applicant,
        "received_at": facts.received.isoformat(),
        "answered_at": facts.answered.isoformat() if facts.answered else None,
        "answer_type": facts.answer_type, "extensions": facts.extensions, "extension_days": facts.extension_days,
        "supplement_open": facts.supplement_open, "consult_open": facts.consult_open,
        "supervised": row is not None, "row": row,
        "clock": disclosure_clock(row, calendar, today) if row is not None else None,
        "cards": subject_cards(conn, "disclosure", request_id), "timeline": events,
        "next_steps": facts.next_steps(),
    }  # fmt: skip


def staff_substantiated(conn: sqlite3.Connection, staff: str, year: int) -> list[str]:
    """The substantiated complaints against staff member ``staff`` closed in ``year`` (DOMAIN.md §6:
    from the second in a year the staff member is flagged)."""
    if not has_table(conn, "complaints"):
        return []
    rows = conn.execute(
        "SELECT complaint_id FROM complaints WHERE target_staff = ? AND substantiated = 1 "
        "AND substr(COALESCE(closed_day, answered_day, filed_day), 1, 4) = ? ORDER BY complaint_id",
        (staff, f"{year:04d}"))
    return [str(r[0]) for r in rows]
