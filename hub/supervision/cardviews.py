"""Read models of cards: the queue (filters, pagination by ``raised_at``), one card, a case's cards."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from hub.engine.cards import Card
from hub.engine.rules import RULES
from hub.web.pagination import Page, PageRequest

COUNT_CAP = 100_000
_FILTERS = (("level", "level"), ("state", "state"), ("rule", "rule"), ("case", "case_id"))


def card_item(card: Card, dept_name: str | None = None) -> dict[str, Any]:
    """A card as the queue and the API show it (``allowed``: the engine steps its state allows)."""
    d = card.decision
    spec = RULES.get(d.rule)
    return {
        "card_id": card.card_id, "rule": d.rule, "rule_name": spec.name if spec else d.rule,
        "rule_type": d.rule_type, "level": d.level.value, "state": card.state.value, "title": d.message,
        "subject": d.subject, "case_id": d.case_id, "dept_code": d.dept_code, "dept_name": dept_name,
        "window_id": d.window_id, "staff_id": d.staff_id, "item_code": d.item_code,
        "raised_at": card.raised_at.isoformat(), "moment": d.moment.isoformat(),
        "deadline": card.deadline.isoformat() if card.deadline else None,
        "deadline_provisional": card.deadline_provisional, "escalates": d.escalates,
        "evidence": list(d.evidence), "details": dict(d.details), "counts": card.counts,
        "allowed": card.allowed(),
    }  # fmt: skip


def _dept_names(conn: sqlite3.Connection) -> dict[str, str]:
    return {str(c): str(n) for c, n in conn.execute("SELECT code, name FROM sup_names WHERE kind = 'dept'") if n}


def card_page(conn: sqlite3.Connection, filters: Mapping[str, str], dept: str | None, page: PageRequest) -> Page:
    """One page of the card queue, newest first."""
    where: list[str] = []
    params: list[Any] = []
    wanted = filters.get("dept")
    if dept is not None and wanted and wanted != dept:
        return Page([], page.page, page.per_page, 0)
    if dept is not None or wanted:
        where.append("dept_code = ?")
        params.append(dept if dept is not None else wanted)
    for name, column in _FILTERS:
        if value := filters.get(name):
            where.append(f"{column} = ?")
            params.append(value)
    if value := filters.get("from"):
        where.append("raised_at >= ?")
        params.append(value)
    if value := filters.get("to"):
        where.append("raised_at < ?")
        params.append(value + "T99")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(
        f"SELECT json FROM cards{clause} ORDER BY raised_at DESC, card_id LIMIT ? OFFSET ?",
        (*params, page.per_page, page.offset),
    ).fetchall()
    names = _dept_names(conn)
    items = []
    for (text,) in rows:
        card = Card.from_json(json.loads(text))
        items.append(card_item(card, names.get(card.decision.dept_code or "")))
    total = conn.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM cards{clause} LIMIT {COUNT_CAP})", params).fetchone()
    return Page(items, page.page, page.per_page, int(total[0]))


def card_detail(conn: sqlite3.Connection, card_id: str, dept: str | None) -> dict[str, Any] | None:
    """One card with its ``history`` (lifecycle steps), ``actions`` (audit rows, including
    department answers) and ``evidence_records`` (the stored records behind its hashes)."""
    row = conn.execute("SELECT json, dept_code FROM cards WHERE card_id = ?", (card_id,)).fetchone()
    if row is None or (dept is not None and row[1] != dept):
        return None
    card = Card.from_json(json.loads(row[0]))
    name = conn.execute("SELECT name FROM sup_names WHERE kind = 'dept' AND code = ?",
                        (card.decision.dept_code or "",)).fetchone()  # fmt: skip
    out = card_item(card, name[0] if name else None)
    out["history"] = [
        {"action": t.action.value, "state": t.state.value, "at": t.at.isoformat(), "actor": t.actor, "note": t.note}
        for t in card.history
    ]
    out["actions"] = [
        {"action": a, "from_state": f, "to_state": t, "actor": actor, "note": note, "at": at}
        for a, f, t, actor, note, at in conn.execute(
            "SELECT action, from_state, to_state, actor, note, at FROM card_actions WHERE card_id = ? ORDER BY id",
            (card_id,))
    ]  # fmt: skip
    out["evidence_records"] = evidence_records(conn, card)
    return out


def evidence_records(conn: sqlite3.Connection, card: Card) -> list[dict[str, Any]]:
    """The stored records whose hashes a card cites (looked up through its subject's timeline)."""
    wanted = {bytes.fromhex(h) for h in card.decision.evidence if len(h) == 64}
    if not wanted:
        return []
    d = card.decision
    if d.case_id:
        sql = ("SELECT r.id, r.type, r.ts, r.hash FROM case_events e JOIN records r ON r.id = e.record_id "
               "WHERE e.case_id = ?")  # fmt: skip
        key = d.case_id
    else:
        sql = ("SELECT r.id, r.type, r.ts, r.hash FROM sup_subject_events e JOIN records r ON r.id = e.record_id "
               "WHERE e.subject = ?")  # fmt: skip
        key = d.subject
    return [
        {"record_id": rid, "type": type_, "ts": ts, "hash": bytes(h).hex()}
        for rid, type_, ts, h in conn.execute(sql, (key,)) if bytes(h) in wanted
    ]


def case_cards(conn: sqlite3.Connection, case_id: str) -> list[dict[str, Any]]:
    """The cards of one case, oldest first."""
    return [card_item(Card.from_json(json.loads(text)))
            for (text,) in conn.execute("SELECT json FROM cards WHERE case_id = ? ORDER BY raised_at", (case_id,))]
