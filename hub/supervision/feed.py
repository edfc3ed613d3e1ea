"""Feeding stored records to the engine and turning what changed into :class:`Changes`.

:class:`Feeder` owns the engine (:class:`~hub.engine.supervision.Supervision`) of the service. For
each record it parses the body strictly (:func:`shared.canonical.parse`; a body that fails is a
data error with the record id, never an exception), calls ``ingest_record`` and notes what the
record touched: the case's timeline, names, ratings, complaint and request clocks, presence
counts. :meth:`Feeder.finish` then recomputes the rows of the touched cases against their stored
rows. A case the engine let go of (completed long ago) is re-read from its timeline first, so a
late rating still finds its department.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from hub.desk import DESK_AGENT
from hub.engine.calendar import WorkCalendar
from hub.engine.cards import Card, CardState
from hub.engine.config import EngineConfig, Level
from hub.engine.localtime import local_date
from hub.engine.supervision import Supervision
from hub.supervision.rows import CaseRow, compute_row, next_change
from hub.supervision.store import Changes, Written, iso, load_rows, read_state
from hub.supervision.timing import StatusClock
from shared.canonical import parse
from shared.errors import RecordError, XiaonengError

log = logging.getLogger("xiaoneng.hub.supervision")

#: A stored record as the service reads it.
RecordRow = tuple[int, str, str, str, str, bytes, bytes]  # id, agent, stream, type, ts, hash, raw
SELECT_RECORDS = "SELECT id, agent_id, stream_id, type, ts, hash, raw FROM records"
PENDING_RED = frozenset({CardState.RAISED, CardState.NOTIFIED, CardState.UPHELD})
_AT_FIELDS = ("at", "accepted_at", "started_at")
#: Case rows the service keeps after writing them (a case's next record, usually a few chunks
#: later, finds its stored row without a query); beyond this the memory starts afresh.
ROW_CACHE_SIZE = 100_000


def parse_body(raw: bytes | str) -> dict[str, Any]:
    """The body of a stored record, strictly parsed; :class:`RecordError` otherwise."""
    record = parse(raw.encode() if isinstance(raw, str) else bytes(raw))
    if not isinstance(record, dict) or not isinstance(record.get("body"), dict):
        raise RecordError("record has no body object")
    body: dict[str, Any] = record["body"]
    return body


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and value else None


@dataclass
class Step:
    """What the records of one step touched (filled by :meth:`Feeder.feed`)."""

    changes: Changes = field(default_factory=Changes)
    cases: dict[str, int | None] = field(default_factory=dict)  # case id -> last record id
    names: dict[str, dict[str, str | None]] = field(default_factory=dict)
    ratings: set[str] = field(default_factory=set)
    complaints: set[str] = field(default_factory=set)
    disclosures: set[str] = field(default_factory=set)
    bodies: dict[int, dict[str, Any]] = field(default_factory=dict)  # parsed by Feeder.prepare
    stored: set[str] = field(default_factory=set)  # stored cases the engine let go of
    rows: dict[str, CaseRow | None] = field(default_factory=dict)  # stored rows read by prepare

    def touch(self, case_id: str, record_id: int | None = None) -> None:
        if record_id is not None or case_id not in self.cases:
            self.cases[case_id] = record_id


class Feeder:
    """The engine and the bookkeeping around it (used under the service's lock)."""

    def __init__(self, conn: sqlite3.Connection, config: EngineConfig, calendar: WorkCalendar,
                 settle: Callable[[], None] | None = None) -> None:  # fmt: skip
        self.conn = conn
        self.sup = Supervision(config, calendar)
        self.status = StatusClock()
        self.window_dept: dict[str, str | None] = {}
        # the rows as this service last submitted them for writing, valid while sup_state.version
        # is the one of its own last commit (anyone else writing the tables moves the version on)
        self._row_cache: dict[str, CaseRow] = {}
        self._cache_version: str | None = None
        self._foreign = False  # a write by someone else seen between two of ours
        # waits until the submitted writes have committed (the service's writer thread)
        self.settle: Callable[[], None] = settle or (lambda: None)

    @property
    def config(self) -> EngineConfig:
        return self.sup.config

    @property
    def calendar(self) -> WorkCalendar:
        return self.sup.calendar

    # -- stored rows -----------------------------------------------------------------------------

    def stored_rows(self, case_ids: Iterable[str]) -> dict[str, CaseRow]:
        """The stored rows of ``case_ids`` (absent ones are missing): from the rows this service
        submitted last when nobody else wrote since, the others in one query per 500 cases
        (only once the submitted writes committed: a row is never read back half-written)."""
        cache = self._row_cache
        if cache and (self._foreign or read_state(self.conn, "version") != self._cache_version):
            self.settle()  # our own writes in flight move the version too: wait for them
            if self._foreign or read_state(self.conn, "version") != self._cache_version:
                cache.clear()
                self._foreign = False
        found: dict[str, CaseRow] = {}
        missing = []
        for case_id in case_ids:
            row = cache.get(case_id)
            if row is None:
                missing.append(case_id)
            else:
                found[case_id] = row
        if missing:  # never rows of a write in flight: those are all in the cache
            found.update(load_rows(self.conn, missing))
        return found

    def submitted(self, changes: Changes) -> None:
        """Note the rows of ``changes``, handed to the writer (see :meth:`stored_rows`)."""
        cache = self._row_cache
        if len(cache) + len(changes.rows) > ROW_CACHE_SIZE:
            self.settle()  # the rows forgotten here are read back: they must be written first
            cache.clear()
        for _old, new in changes.rows.values():
            cache[new.case_id] = new

    def committed(self, written: Written | None) -> None:
        """A write of this service committed (``None``: failed): the version its rows are valid
        at, and whether someone else wrote since our previous commit (then they are not)."""
        if written is None or (self._cache_version is not None and written.version_before != self._cache_version):
            self._foreign = True
        self._cache_version = None if written is None else written.version

    # -- records ---------------------------------------------------------------------------------

    def prepare(self, rows: Sequence[RecordRow], step: Step) -> None:
        """Parse the case records of a chunk and read, in one query per 500 cases, their stored
        rows (for :meth:`finish`); a case with a stored row that is no longer in the engine's
        memory was let go of, and is re-read from its timeline before its record."""
        wanted: set[str] = set()
        for row in rows:
            if not row[3].startswith("case."):
                continue
            try:
                body = step.bodies[row[0]] = parse_body(row[6])
            except RecordError:
                continue
            case_id = _text(body, "case_id")
            if case_id is not None and case_id not in step.rows:
                wanted.add(case_id)
        found = self.stored_rows(wanted)
        for case_id in wanted:
            step.rows[case_id] = found.get(case_id)
        step.stored.update(c for c in found if c not in self.sup.cases)

    def feed(self, row: RecordRow, now: datetime, step: Step, reported_at: datetime | None,
             as_of: datetime | None = None) -> None:  # fmt: skip
        """Give one stored record to the engine and note what it touched. ``now`` is the hub's
        clock; ``as_of`` the time facts are judged at (earlier while a backlog is held)."""
        rid, agent, _stream, type_, ts, digest, raw = row
        changes = step.changes
        if agent == DESK_AGENT:  # typed in at the hub: its ts says nothing of a department's reporting
            reported_at = None
        try:
            body = step.bodies.pop(rid, None) or parse_body(raw)
            family = type_.split(".", 1)[0]
            case_id = _text(body, "case_id") if family == "case" else None
            if case_id is not None and case_id in step.stored and case_id not in self.sup.cases:
                self.rehydrate(case_id, now, step)
            cards = self.sup.ingest_record(type_, body, bytes(digest).hex(), now, reported_at, as_of)
        except (XiaonengError, ValueError, TypeError, KeyError) as exc:
            changes.errors.append((rid, type_, iso(now), f"{type(exc).__name__}: {exc}"[:2000]))
            self.retracted(step)
            return
        for card in cards:
            self.raised(card, step)
        self.retracted(step)
        at = None
        for name in _AT_FIELDS:
            if isinstance(value := body.get(name), str):
                at = value
                break
        if case_id is not None:
            self._case_record(case_id, rid, type_, at, body, step)
        elif family == "complaint" and (cid := _text(body, "complaint_id")):
            changes.subject_events.append((f"complaint:{cid}", rid, at))
            step.complaints.add(cid)
        elif family == "disclosure" and (req := _text(body, "request_id")):
            changes.subject_events.append((f"disclosure:{req}", rid, at))
            step.disclosures.add(req)
        elif family == "presence" and (window := _text(body, "window_id")):
            changes.subject_events.append((f"window:{window}", rid, at))
            if type_ == "presence.absent" and at:
                changes.daily[(at[:10], self.window_dept.get(window) or "", "absences")] += 1
        elif type_ == "queue.long" and at:
            changes.daily[(at[:10], "", "queues")] += 1

    def _case_record(self, case_id: str, rid: int, type_: str, at: str | None,
                     body: Mapping[str, Any], step: Step) -> None:  # fmt: skip
        step.changes.case_events.append((case_id, rid, type_, at))
        step.touch(case_id, rid)
        if type_ == "case.accepted":
            names = step.names.setdefault(case_id, {})
            for key in ("dept_name", "item_name", "staff_name", "applicant_name"):
                if value := _text(body, key):
                    names[key] = value
            dept = _text(body, "dept_code")
            for kind, code, name in (("dept", dept, names.get("dept_name")),
                                     ("item", _text(body, "item_code"), names.get("item_name")),
                                     ("window", _text(body, "window_id"), _text(body, "window_name")),
                                     ("staff", _text(body, "staff_id"), names.get("staff_name"))):  # fmt: skip
                if code:
                    if name is None and (seen := step.changes.names.get((kind, code))) is not None:
                        name = seen[0]  # a record without the name keeps the one this step saw
                    step.changes.names[(kind, code)] = (name, None if kind == "dept" else dept)
                    if kind == "window":
                        self.window_dept[code] = dept
        elif type_ == "case.refused" and at:
            step.names.setdefault(case_id, {})["refused_at"] = at
        elif type_ in ("case.rated", "case.rating_rectified"):
            step.ratings.add(case_id)

    def raised(self, card: Card, step: Step) -> None:
        """Note a card the engine just raised (completing its case and department: an event rule
        on a case's first record sees no case yet, e.g. R8 on a late acceptance)."""
        d = card.decision
        if d.subject.startswith("case:") and (d.case_id is None or d.dept_code is None):
            case = self.sup.cases.get(d.subject[5:])
            fixed = replace(
                d, case_id=d.case_id or d.subject[5:],
                dept_code=d.dept_code or (case.dept_code if case else None),
                window_id=d.window_id or (case.window_id if case else None),
                staff_id=d.staff_id or (case.staff_id if case else None),
                item_code=d.item_code or (case.item_code if case else None),
            )  # fmt: skip
            card = replace(card, decision=fixed)
            self.sup.cards[card.card_id] = card
        step.changes.card(card, new=True)
        if card.decision.case_id:
            step.touch(card.decision.case_id)

    def retracted(self, step: Step) -> None:
        """Note the cards the engine retracted (系统撤销): the new state, and an audit row in
        ``card_actions`` with the reason."""
        for card in self.sup.take_changed():
            last = card.history[-1]
            before = card.history[-2].state.value if len(card.history) > 1 else "raised"
            step.changes.card(card, new=False)
            step.changes.actions.append(
                (card.card_id, last.action.value, before, last.state.value, last.actor, last.note, iso(last.at)))
            if card.decision.case_id:
                step.touch(card.decision.case_id)

    def rehydrate(self, case_id: str, now: datetime, step: Step) -> None:
        """Re-read a case the engine let go of from its stored timeline (nothing if unknown)."""
        self.settle()  # its timeline and cards as written so far
        ids = [r for (r,) in self.conn.execute(
            "SELECT record_id FROM case_events WHERE case_id = ? ORDER BY record_id", (case_id,))]
        if not ids:
            return
        # cards closed as recorded left memory with the case; a late fact may still retract them
        recorded = [Card.from_json(json.loads(js)) for (js,) in self.conn.execute(
            "SELECT json FROM cards WHERE case_id = ? AND state = 'closed'", (case_id,))]
        self.sup.restore(c for c in recorded if c.recorded and c.card_id not in self.sup.cards)
        with self.sup.replaying():  # judged once already: rebuild the state, retract nothing
            for row in read_records(self.conn, ids):
                try:
                    body = parse_body(row[6])
                    reported = datetime.fromisoformat(row[4])
                    for card in self.sup.ingest_record(row[3], body, bytes(row[5]).hex(), now, reported):
                        self.raised(card, step)
                except (XiaonengError, ValueError, TypeError, KeyError):
                    continue  # recorded as a data error when it first arrived

    # -- rows ------------------------------------------------------------------------------------

    def finish(self, step: Step, today: date, now: datetime) -> None:
        """Recompute the rows of the cases ``step`` touched, and the other subjects' rows."""
        changes = step.changes
        known = step.rows
        old_rows = self.stored_rows([c for c in step.cases if c not in known])
        for case_id, rid in step.cases.items():
            case = self.sup.cases.get(case_id)
            if case is None:
                continue
            old = known[case_id] if case_id in known else old_rows.get(case_id)
            new = compute_row(case, self.calendar, today, old=old, names=step.names.get(case_id),
                              red_card=self._red(case_id), last_record_id=rid, now=now)  # fmt: skip
            if not new.same_as(old):
                changes.row(old, new)
            self.status.set(case_id, next_change(new, now))
            if case_id in step.ratings:
                self._ratings(case_id, new, changes)
        for cid in step.complaints:
            self._complaint(cid, now, changes)
        for req in step.disclosures:
            self._disclosure(req, now, changes)

    def _red(self, case_id: str) -> bool:
        for card_id in self.sup.cards_of.get(f"case:{case_id}", ()):
            card = self.sup.cards.get(card_id)
            if card is not None and card.level is Level.RED and card.state in PENDING_RED:
                return True
        return False

    def _ratings(self, case_id: str, row: CaseRow, changes: Changes) -> None:
        case = self.sup.cases[case_id]
        for r in case.ratings:
            changes.ratings.append((
                case_id, r.evidence, iso(r.at), local_date(r.at).isoformat(), r.level,
                iso(r.rectified_at) if r.rectified_at else None, row.dept_code, row.window_id,
                row.staff_id, row.item_code,
            ))  # fmt: skip

    def _complaint(self, cid: str, now: datetime, changes: Changes) -> None:
        state = self.sup.complaints.get(cid)
        if state is None:
            return
        accept_due = state.accept_due(self.calendar, self.config)
        answer_due = state.answer_due(self.calendar, self.config)

        def day(value: date | None) -> str | None:
            return value.isoformat() if value else None

        changes.complaints.append((
            cid, state.target_dept, state.target_staff, state.case_id, day(state.filed), day(state.accepted),
            day(state.answered), day(state.closed),
            None if state.substantiated is None else int(state.substantiated),
            day(accept_due.day) if accept_due else None, day(answer_due.day) if answer_due else None,
            int(state.closed is None and state.answered is None), iso(now),
        ))  # fmt: skip

    def _disclosure(self, req: str, now: datetime, changes: Changes) -> None:
        state = self.sup.disclosures.get(req)
        if state is None:
            return
        due = state.due(self.calendar, self.config)
        changes.disclosures.append((
            req, state.dept_code, state.received.isoformat() if state.received else None,
            due.day.isoformat() if due is not None and due.day else None,
            state.answered.isoformat() if state.answered else None, state.extensions,
            int(state.is_open), iso(now),
        ))  # fmt: skip

    def refresh(self, case_ids: Iterable[str], today: date, now: datetime, changes: Changes) -> None:
        """Recompute rows (after ticks, card actions, calendar changes) into ``changes``."""
        step = Step(changes=changes)
        for cid in case_ids:
            step.touch(cid)
        self.finish(step, today, now)


def read_records(conn: sqlite3.Connection, ids: Sequence[int]) -> list[RecordRow]:
    """Stored records by id, in id order."""
    out: list[RecordRow] = []
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        out += conn.execute(f"{SELECT_RECORDS} WHERE id IN ({', '.join('?' * len(part))}) ORDER BY id", part)
    out.sort(key=lambda r: r[0])
    return out


def card_json(card: Card) -> str:
    """The stored JSON of a card."""
    return json.dumps(card.to_json(), ensure_ascii=False)
