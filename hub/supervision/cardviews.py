"""Read models of cards: the queue (tabs, filters, pagination by ``raised_at``), one card, a case's cards.

What people read is worded at view time from the card's structured data and the names the hub
keeps (:mod:`hub.engine.wording`, ``sup_names``, the ``cases`` table), so cards stored before the
current wording read the same as new ones: no internal ids, event type names or ISO timestamps.

The queue's **tabs** (``tab``) group states by what they need (DOMAIN.md §4):

==============  ==================================================================
``action``      needs action: raised, notified, upheld or appealed (live cards)
``supervise``   待督办 — raised: the monitoring room must notify (督办)
``rectify``     待整改 — notified or upheld: the department must put it right
``appeal``      申诉中 — appealed: waiting for a decision
``all``         every card (the default when no tab is given, as the API has always done)
``historical``  历史 — cards of imported history (moment long before the hub learnt of it)
``withdrawn``   已撤销 — withdrawn on appeal or by the system (系统撤销)
==============  ==================================================================

The action tabs show live (non-historical) cards unless ``historical`` says otherwise. Other
filters: ``level state rule case dept``, ``month`` (YYYY-MM) and ``from``/``to`` (dates) by the
card's moment, ``standing=1`` (yellow or red, not appealed or withdrawn: the cards that count),
``historical=0|1``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from hub.engine import wording
from hub.engine.calendar import WorkCalendar
from hub.engine.cards import Card
from hub.engine.rules import RULES
from hub.supervision.caseviews import remaining_days
from hub.web.pagination import Page, PageRequest

COUNT_CAP = 100_000
_FILTERS = (("level", "level"), ("state", "state"), ("rule", "rule"), ("case", "case_id"))
ACTION_STATES = ("raised", "notified", "upheld", "appealed")
#: tab → (states, live only by default)
TABS: Mapping[str, tuple[tuple[str, ...], bool]] = {
    "action": (ACTION_STATES, True),
    "supervise": (("raised",), True),
    "rectify": (("notified", "upheld"), True),
    "appeal": (("appealed",), True),
    "all": ((), False),
    "historical": ((), False),
    "withdrawn": (("withdrawn",), False),
}
_CASE_COLS = ("case_id", "item_name", "staff_name", "completed_at", "overdue_days", "unit", "window_id", "staff_id",
              "dept_name", "clock", "paused")  # fmt: skip


class CardNames:
    """Names and case facts for a set of cards, read in a handful of queries; with a ``calendar``,
    an open overdue case's days past its due date on ``today``."""

    def __init__(self, conn: sqlite3.Connection, cards: Iterable[Card], calendar: WorkCalendar | None = None,
                 today: date | None = None) -> None:  # fmt: skip
        cards = list(cards)
        self.calendar, self.today = calendar, today
        self.names: dict[tuple[str, str], str] = {}
        self.cases: dict[str, dict[str, Any]] = {}
        self.escalated: dict[str, Card] = {}
        wanted: dict[str, set[str]] = {"dept": set(), "item": set(), "window": set(), "staff": set()}
        for card in cards:
            d = card.decision
            for kind, code in (("dept", d.dept_code), ("item", d.item_code), ("window", d.window_id),
                               ("staff", d.staff_id)):  # fmt: skip
                if code:
                    wanted[kind].add(code)
        case_ids = sorted({c.decision.case_id for c in cards if c.decision.case_id})
        for chunk in _chunks(case_ids):
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(f"SELECT {', '.join(_CASE_COLS)} FROM cases WHERE case_id IN ({marks})", chunk):
                self.cases[str(row[0])] = case = dict(zip(_CASE_COLS, row, strict=True))
                if case["window_id"]:
                    wanted["window"].add(str(case["window_id"]))
        for kind, codes in wanted.items():
            for chunk in _chunks(sorted(codes)):
                marks = ",".join("?" * len(chunk))
                for code, name in conn.execute(
                        f"SELECT code, name FROM sup_names WHERE kind = ? AND code IN ({marks})", (kind, *chunk)):
                    if name:
                        self.names[(kind, str(code))] = str(name)
        escalated = sorted({c.decision.escalates for c in cards if c.decision.escalates})
        for chunk in _chunks(escalated):
            marks = ",".join("?" * len(chunk))
            for (text,) in conn.execute(f"SELECT json FROM cards WHERE card_id IN ({marks})", chunk):
                base = Card.from_json(json.loads(text))
                self.escalated[base.card_id] = base

    def name(self, kind: str, code: str | None) -> str | None:
        """The name of ``code`` (a department, item, window or staff member), None if unknown."""
        return self.names.get((kind, code)) if code else None

    def context(self, card: Card, *, with_escalated: bool = True) -> wording.Context:
        """What :mod:`hub.engine.wording` needs around ``card``."""
        d = card.decision
        case = self.cases.get(d.case_id or "") or {}
        staff = case.get("staff_name") if d.staff_id in (None, case.get("staff_id")) else None
        escalated = None
        if with_escalated and d.escalates and d.escalates in self.escalated:
            base = self.escalated[d.escalates]
            escalated = card_title(base, self.context(base, with_escalated=False))
        return wording.Context(
            item=case.get("item_name") or self.name("item", d.item_code),
            dept=self.name("dept", d.dept_code) or case.get("dept_name"),
            window=self.name("window", d.window_id or case.get("window_id")),
            staff=self.name("staff", d.staff_id) or staff,
            completed_at=case.get("completed_at"),
            overdue_days=case.get("overdue_days") if case.get("completed_at") else self._overdue(case),
            unit=case.get("unit"),
            escalated_title=escalated,
        )


    def _overdue(self, case: Mapping[str, Any]) -> int | None:
        """Days an open case is past its promised due date today (None if not, or unknown)."""
        if self.calendar is None or self.today is None or not case.get("clock") or case.get("paused"):
            return None
        left = remaining_days(json.loads(case["clock"]), self.calendar, self.today)
        return 1 - left if left is not None and left <= 0 else None


def _chunks(values: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def card_title(card: Card, ctx: wording.Context) -> str:
    """The card's title as people read it."""
    d = card.decision
    return wording.title(d.rule, d.details, d.moment, d.subject, ctx, fallback=d.message)


def state_label(card: Card) -> str:
    """The catalogue key of the card's state as people name it: closed as recorded (已办结·记录在案)
    and withdrawn by the system (系统撤销) are told apart from a person's closing or withdrawal."""
    last = card.history[-1].action.value if card.history else None
    if card.state.value == "closed" and any(t.action.value == "record" for t in card.history):
        return "card_state.recorded"
    if card.state.value == "withdrawn" and last == "retract":
        return "card_state.retracted"
    return f"card_state.{card.state.value}"


def card_item(card: Card, names: CardNames | None = None) -> dict[str, Any]:
    """A card as the queue and the API show it (``allowed``: the engine steps its state allows);
    ``title``/``message`` and ``text`` are worded for people, ``*_name`` are the names of the codes."""
    d = card.decision
    spec = RULES.get(d.rule)
    ctx = names.context(card) if names is not None else wording.NO_CONTEXT
    title = card_title(card, ctx)
    return {
        "card_id": card.card_id, "rule": d.rule, "rule_name": spec.name if spec else d.rule,
        "rule_type": d.rule_type, "level": d.level.value, "state": card.state.value,
        "state_label": state_label(card), "historical": bool(getattr(card, "historical", False)),
        "title": title, "message": title,
        "text": wording.text(d.rule, d.level.value, d.details, d.moment, d.subject, ctx, fallback=d.message),
        "subject": d.subject, "case_id": d.case_id, "dept_code": d.dept_code, "dept_name": ctx.dept,
        "window_id": d.window_id, "window_name": ctx.window, "staff_id": d.staff_id, "staff_name": ctx.staff,
        "item_code": d.item_code, "item_name": ctx.item,
        "raised_at": card.raised_at.isoformat(), "moment": d.moment.isoformat(),
        "deadline": card.deadline.isoformat() if card.deadline else None,
        "deadline_provisional": card.deadline_provisional, "escalates": d.escalates,
        "escalates_title": ctx.escalated_title,
        "evidence": list(d.evidence), "details": dict(d.details), "counts": card.counts,
        "allowed": card.allowed(),
    }  # fmt: skip


def card_items(conn: sqlite3.Connection, cards: list[Card], calendar: WorkCalendar | None = None,
               today: date | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """``cards`` as :func:`card_item`, with their names read once for all."""
    names = CardNames(conn, cards, calendar, today)
    return [card_item(card, names) for card in cards]


def has_historical(conn: sqlite3.Connection) -> bool:
    """Whether the cards table has the ``historical`` column (stores before it have none)."""
    return any(row[1] == "historical" for row in conn.execute("PRAGMA table_info(cards)"))


def card_where(conn: sqlite3.Connection, filters: Mapping[str, str],
               dept: str | None) -> tuple[list[str], list[Any], tuple[str, ...]] | None:  # fmt: skip
    """SQL conditions of the queue's filters in a department scope, and the states of its tab (any
    state when empty; not among the conditions); None: nothing matches."""
    where: list[str] = []
    params: list[Any] = []
    wanted = filters.get("dept")
    if dept is not None and wanted and wanted != dept:
        return None
    if dept is not None or wanted:
        where.append("dept_code = ?")
        params.append(dept if dept is not None else wanted)
    for name, column in _FILTERS:
        if value := filters.get(name):
            where.append(f"{column} = ?")
            params.append(value)
    states, live = TABS.get(filters.get("tab") or "all", ((), False))
    historical = filters.get("historical")
    if filters.get("tab") == "historical":
        historical = "1"
    elif historical is None and live:
        historical = "0"
    if historical in ("0", "1") and has_historical(conn):
        where.append("historical = ?")
        params.append(int(historical))
    elif historical == "1":
        return None  # a store without the column has no historical cards
    if filters.get("standing") == "1":
        where.append("level IN ('yellow', 'red') AND state NOT IN ('appealed', 'withdrawn')")
    if month := filters.get("month"):
        first = date.fromisoformat(month + "-01")
        after = (first + timedelta(days=32)).replace(day=1)
        where.append("moment >= ? AND moment < ?")
        params.extend((first.isoformat(), after.isoformat()))
    if value := filters.get("from"):
        where.append("moment >= ?")
        params.append(value)
    if value := filters.get("to"):
        where.append("moment < ?")
        params.append((date.fromisoformat(value) + timedelta(days=1)).isoformat())
    return where, params, states


def card_page(conn: sqlite3.Connection, filters: Mapping[str, str], dept: str | None, page: PageRequest,
              calendar: WorkCalendar | None = None, today: date | None = None) -> Page:  # fmt: skip
    """One page of the card queue, newest first (see the module's doc for tabs and filters; with a
    ``calendar`` and ``today``, open overdue cases say by how many days)."""
    built = card_where(conn, filters, dept)
    if built is None:
        return Page([], page.page, page.per_page, 0)
    where, params, states = built
    ids = _page_rows(conn, where, params, states, page)
    found: dict[int, str] = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        found.update((int(r[0]), str(r[1])) for r in conn.execute(
            f"SELECT rowid, json FROM cards WHERE rowid IN ({marks})", chunk))
    items = card_items(conn, [Card.from_json(json.loads(found[i])) for i in ids if i in found], calendar, today)
    if states:
        where = [*where, f"state IN ({','.join('?' * len(states))})"]
        params = [*params, *states]
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    total = conn.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM cards{clause} LIMIT {COUNT_CAP})", params).fetchone()
    count = int(total[0])
    return Page(items, page.page, page.per_page, count, total_is_estimate=count >= COUNT_CAP)


def _page_rows(conn: sqlite3.Connection, where: list[str], params: list[Any], states: tuple[str, ...],
               page: PageRequest) -> list[int]:  # fmt: skip
    """The rowids of one page, newest raised first. A tab of several states reads each state along
    the (state, raised_at) index and merges: one query over all of them would sort every match."""
    limit = page.offset + page.per_page
    if len(states) > 1:
        merged: list[tuple[str, int]] = []
        clause = "".join(f" AND {w}" for w in where)
        for state in states:
            merged += [(str(r[0]), int(r[1])) for r in conn.execute(
                f"SELECT raised_at, rowid FROM cards WHERE state = ?{clause} ORDER BY raised_at DESC, rowid DESC "
                "LIMIT ?", (state, *params, limit))]  # fmt: skip
        merged.sort(reverse=True)
        return [rowid for _, rowid in merged[page.offset:limit]]
    if states:
        where, params = [*where, "state = ?"], [*params, states[0]]
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(f"SELECT rowid FROM cards{clause} ORDER BY raised_at DESC, rowid DESC LIMIT ? OFFSET ?",
                        (*params, page.per_page, page.offset)).fetchall()  # fmt: skip
    return [int(r[0]) for r in rows]


def card_detail(conn: sqlite3.Connection, card_id: str, dept: str | None, calendar: WorkCalendar | None = None,
                today: date | None = None) -> dict[str, Any] | None:  # fmt: skip
    """One card with its ``history`` (lifecycle steps), ``actions`` (audit rows, including
    department answers) and ``evidence_records`` (the stored records behind its hashes); notes
    are tidied for people (:func:`hub.engine.wording.plain`)."""
    row = conn.execute("SELECT json, dept_code FROM cards WHERE card_id = ?", (card_id,)).fetchone()
    if row is None or (dept is not None and row[1] != dept):
        return None
    card = Card.from_json(json.loads(row[0]))
    (out,) = card_items(conn, [card], calendar, today)
    out["history"] = [
        {"action": t.action.value, "state": t.state.value, "at": t.at.isoformat(), "actor": t.actor,
         "note": wording.plain(t.note)}
        for t in card.history
    ]  # fmt: skip
    out["actions"] = [
        {"action": a, "from_state": f, "to_state": t, "actor": actor, "note": wording.plain(note), "at": at}
        for a, f, t, actor, note, at in conn.execute(
            "SELECT action, from_state, to_state, actor, note, at FROM card_actions WHERE card_id = ? ORDER BY id",
            (card_id,))
    ]  # fmt: skip
    out["evidence_records"] = evidence_records(conn, card)
    return out


def evidence_records(conn: sqlite3.Connection, card: Card) -> list[dict[str, Any]]:
    """The stored records whose hashes a card cites (looked up through its subject's timeline),
    each with its type's Chinese name (``type_name``)."""
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
        {"record_id": rid, "type": type_, "type_name": wording.event_name(type_), "ts": ts, "hash": bytes(h).hex()}
        for rid, type_, ts, h in conn.execute(sql, (key,)) if bytes(h) in wanted
    ]


def case_cards(conn: sqlite3.Connection, case_id: str, calendar: WorkCalendar | None = None,
               today: date | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The cards of one case, oldest first (historical and closed-as-recorded ones included)."""
    cards = [Card.from_json(json.loads(text))
             for (text,) in conn.execute("SELECT json FROM cards WHERE case_id = ? ORDER BY raised_at", (case_id,))]
    return card_items(conn, cards, calendar, today)
