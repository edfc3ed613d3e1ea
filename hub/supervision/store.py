"""Writing what the supervision decided: one short transaction per batch of changes.

:class:`Changes` collects everything one step of the service produced (case rows before and
after, timeline links, new and updated cards, actions, ratings, complaint and request clocks,
names, data errors, aggregate deltas and the new cursor); :func:`write` applies it in one
``BEGIN IMMEDIATE`` transaction. The cursor moves in the same transaction as the data derived
from the records before it, so a crash never loses nor doubles anything.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.engine.cards import Card, CardState
from hub.engine.localtime import LOCAL_TZ, local_date
from hub.supervision.rows import COLUMNS, CaseRow, contributions, status_key, text_parts

_UPSERT_CASE = (
    f"INSERT INTO cases({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    f"ON CONFLICT(case_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "case_id")
)
_CARD_COLUMNS = (
    "card_id", "key", "rule", "level", "state", "rule_type", "subject", "case_id", "dept_code",
    "window_id", "staff_id", "item_code", "title", "raised_at", "moment", "deadline",
    "deadline_provisional", "escalates", "evidence", "json", "updated_at", "historical",
)  # fmt: skip
_INSERT_CARD = (
    f"INSERT OR IGNORE INTO cards({', '.join(_CARD_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_CARD_COLUMNS))})"
)


def iso(moment: datetime) -> str:
    """A moment as stored in the supervision tables: local ISO-8601 with the +08:00 offset."""
    return moment.astimezone(LOCAL_TZ).isoformat()


def card_values(card: Card, updated_at: datetime) -> tuple[Any, ...]:
    """The ``cards`` columns of ``card``."""
    d = card.decision
    return (
        card.card_id, d.key, d.rule, d.level.value, card.state.value, d.rule_type, d.subject,
        d.case_id, d.dept_code, d.window_id, d.staff_id, d.item_code, d.message,
        iso(card.raised_at), iso(d.moment), card.deadline.isoformat() if card.deadline else None,
        int(card.deadline_provisional), d.escalates, json.dumps(list(d.evidence)),
        json.dumps(card.to_json(), ensure_ascii=False), iso(updated_at), int(card.historical),
    )  # fmt: skip


@dataclass
class Changes:
    """What one step of the service writes."""

    rows: dict[str, tuple[CaseRow | None, CaseRow]] = field(default_factory=dict)
    case_events: list[tuple[str, int, str, str | None]] = field(default_factory=list)
    subject_events: list[tuple[str, int, str | None]] = field(default_factory=list)
    new_cards: dict[str, Card] = field(default_factory=dict)
    updated_cards: dict[str, Card] = field(default_factory=dict)
    actions: list[tuple[str, str, str | None, str | None, str, str, str]] = field(default_factory=list)
    ratings: list[tuple[Any, ...]] = field(default_factory=list)
    complaints: list[tuple[Any, ...]] = field(default_factory=list)
    disclosures: list[tuple[Any, ...]] = field(default_factory=list)
    names: dict[tuple[str, str], tuple[str | None, str | None]] = field(default_factory=dict)
    errors: list[tuple[int, str | None, str, str]] = field(default_factory=list)
    daily: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    cursor: int | None = None

    def row(self, old: CaseRow | None, new: CaseRow) -> None:
        """Record a case row change (keeping the first ``old`` of this step)."""
        first = self.rows.get(new.case_id)
        self.rows[new.case_id] = (first[0] if first else old, new)

    def card(self, card: Card, new: bool) -> None:
        """Record a raised (``new``) or changed card."""
        if card.card_id in self.new_cards:
            self.new_cards[card.card_id] = card
        elif new:
            self.new_cards[card.card_id] = card
        else:
            self.updated_cards[card.card_id] = card

    @property
    def empty(self) -> bool:
        return not (self.rows or self.case_events or self.subject_events or self.new_cards
                    or self.updated_cards or self.actions or self.ratings or self.complaints
                    or self.disclosures or self.names or self.errors or self.daily) and self.cursor is None  # fmt: skip


@dataclass
class Written:
    """What a write changed, for the publisher."""

    raised: list[Card]
    status_changes: list[CaseRow]
    withdrawn: list[Card] = field(default_factory=list)  # stored cards that became withdrawn
    version_before: str = ""  # sup_state.version when the transaction began ...
    version: str = ""  # ... and as it committed (a writer in between shows as a gap)


def load_rows(conn: sqlite3.Connection, case_ids: Iterable[str]) -> dict[str, CaseRow]:
    """The stored rows of ``case_ids`` (absent ones are missing from the result)."""
    ids = list(dict.fromkeys(case_ids))
    out: dict[str, CaseRow] = {}
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        cur = conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM cases WHERE case_id IN ({', '.join('?' * len(part))})", part
        )
        for values in cur:
            row = CaseRow(*values)
            out[row.case_id] = row
    return out


def write(conn: sqlite3.Connection, changes: Changes, now: datetime) -> Written:
    """Apply ``changes`` in one transaction; returns the cards really inserted (first time)."""
    daily: Counter[tuple[str, str, str]] = Counter(changes.daily)
    status: Counter[tuple[str, str]] = Counter()
    raised: list[Card] = []
    withdrawn: list[Card] = []
    moved: list[CaseRow] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        version_before = read_state(conn, "version")
        for old, new in changes.rows.values():
            for key in contributions(old):
                daily[key] -= 1
            for key in contributions(new):
                daily[key] += 1
            before, after = status_key(old), status_key(new)
            if before != after:
                if before:
                    status[before] -= 1
                if after:
                    status[after] += 1
            if old is None or old.status != new.status:
                moved.append(new)
        _save_rows(conn, list(changes.rows.values()))
        _index_texts(conn, [(old, new) for old, new in changes.rows.values()
                            if old is None or text_parts(old) != text_parts(new)])
        if changes.case_events:
            conn.executemany("INSERT OR IGNORE INTO case_events(case_id, record_id, type, at) VALUES (?,?,?,?)",
                             changes.case_events)
        if changes.subject_events:
            conn.executemany("INSERT OR IGNORE INTO sup_subject_events(subject, record_id, at) VALUES (?,?,?)",
                             changes.subject_events)
        for card in changes.new_cards.values():
            cur = conn.execute(_INSERT_CARD, card_values(card, now))
            if cur.rowcount == 1 and card.state is not CardState.WITHDRAWN:
                raised.append(card)
                if not card.historical:  # history is not part of the day it was imported on
                    day = local_date(card.raised_at).isoformat()
                    daily[(day, card.decision.dept_code or "", f"cards_{card.level.value}")] += 1
        for card in changes.updated_cards.values():
            values = card_values(card, now)
            if card.state is CardState.WITHDRAWN or card.historical:
                # a withdrawn card no longer counts in the figures of its day, nor does history
                row = conn.execute("SELECT state, historical FROM cards WHERE card_id = ?",
                                   (card.card_id,)).fetchone()  # fmt: skip
                if row is not None and row[0] != CardState.WITHDRAWN.value and not row[1]:
                    day = local_date(card.raised_at).isoformat()
                    daily[(day, card.decision.dept_code or "", f"cards_{card.level.value}")] -= 1
                    if card.state is CardState.WITHDRAWN:
                        withdrawn.append(card)
            conn.execute(
                "UPDATE cards SET state = ?, deadline = ?, deadline_provisional = ?, json = ?, updated_at = ?, "
                "historical = ? WHERE card_id = ?",
                (values[4], values[15], values[16], values[19], values[20], values[21], card.card_id),
            )
        if changes.actions:
            conn.executemany(
                "INSERT INTO card_actions(card_id, action, from_state, to_state, actor, note, at) "
                "VALUES (?,?,?,?,?,?,?)", changes.actions,
            )
        if changes.ratings:
            conn.executemany(
                "INSERT INTO case_ratings(case_id, evidence, at, day, level, rectified_at, dept_code, window_id, "
                "staff_id, item_code) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(case_id, evidence) DO UPDATE SET "
                "rectified_at = excluded.rectified_at, dept_code = excluded.dept_code, "
                "window_id = excluded.window_id, staff_id = excluded.staff_id, item_code = excluded.item_code",
                changes.ratings,
            )
        if changes.complaints:
            conn.executemany(
                "INSERT OR REPLACE INTO complaints(complaint_id, target_dept, target_staff, case_id, filed_day, "
                "accepted_day, answered_day, closed_day, substantiated, accept_due, answer_due, active, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", changes.complaints,
            )
        if changes.disclosures:
            conn.executemany(
                "INSERT OR REPLACE INTO disclosures(request_id, dept_code, received_day, due_date, answered_day, "
                "extensions, active, updated_at) VALUES (?,?,?,?,?,?,?,?)", changes.disclosures,
            )
        if changes.names:
            conn.executemany(
                "INSERT INTO sup_names(kind, code, name, dept_code) VALUES (?,?,?,?) ON CONFLICT(kind, code) "
                "DO UPDATE SET name = COALESCE(excluded.name, sup_names.name), "
                "dept_code = COALESCE(excluded.dept_code, sup_names.dept_code)",
                [(k, c, n, d) for (k, c), (n, d) in changes.names.items()],
            )
        if changes.errors:
            conn.executemany("INSERT INTO sup_errors(record_id, type, at, error) VALUES (?,?,?,?)", changes.errors)
        _bump(conn, daily, status)
        if changes.cursor is not None:
            conn.execute("INSERT INTO sup_state(key, value) VALUES ('cursor', ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(changes.cursor),))
        conn.execute("INSERT INTO sup_state(key, value) VALUES ('version', '1') "
                     "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
        version_after = read_state(conn, "version")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return Written(raised, moved, withdrawn, version_before, version_after)


def _bump(conn: sqlite3.Connection, daily: Counter[tuple[str, str, str]], status: Counter[tuple[str, str]]) -> None:
    deltas = [(day, dept, metric, n) for (day, dept, metric), n in daily.items() if n]
    if deltas:
        conn.executemany(
            "INSERT INTO sup_daily(day, dept_code, metric, n) VALUES (?,?,?,?) "
            "ON CONFLICT(day, dept_code, metric) DO UPDATE SET n = n + excluded.n", deltas,
        )
    moves = [(dept, st, n) for (dept, st), n in status.items() if n]
    if moves:
        conn.executemany(
            "INSERT INTO sup_status(dept_code, status, n) VALUES (?,?,?) "
            "ON CONFLICT(dept_code, status) DO UPDATE SET n = n + excluded.n", moves,
        )


def _save_rows(conn: sqlite3.Connection, rows: list[tuple[CaseRow | None, CaseRow]]) -> None:
    """Insert new rows; update only the changed columns of the others (so the indexes of the
    unchanged columns are left alone), grouped by the set of changed columns."""
    fresh = [new.values() for old, new in rows if old is None]
    if fresh:
        conn.executemany(_UPSERT_CASE, fresh)
    groups: dict[tuple[int, ...], list[tuple[Any, ...]]] = {}
    for old, new in rows:
        if old is None:
            continue
        before, after = old.values(), new.values()
        changed = tuple(i for i in range(1, len(COLUMNS)) if before[i] != after[i])
        if changed:
            groups.setdefault(changed, []).append((*(after[i] for i in changed), new.case_id))
    for changed, params in groups.items():
        sets = ", ".join(f"{COLUMNS[i]} = ?" for i in changed)
        conn.executemany(f"UPDATE cases SET {sets} WHERE case_id = ?", params)


def _index_texts(conn: sqlite3.Connection, rows: list[tuple[CaseRow | None, CaseRow]]) -> None:
    """(Re)index the search text of new or renamed cases (``cases_fts`` rowid = ``cases`` rowid)."""
    for i in range(0, len(rows), 500):
        part = rows[i:i + 500]
        rowids = dict(conn.execute(
            f"SELECT case_id, rowid FROM cases WHERE case_id IN ({', '.join('?' * len(part))})",
            [new.case_id for _old, new in part]))
        stale = [(rowids[new.case_id],) for old, new in part if old is not None]
        if stale:
            conn.executemany("DELETE FROM cases_fts WHERE rowid = ?", stale)
        conn.executemany("INSERT INTO cases_fts(rowid, text) VALUES (?, ?)",
                         [(rowids[new.case_id], new.search_text) for _old, new in part])


def read_state(conn: sqlite3.Connection, key: str, default: str = "") -> str:
    """A value of ``sup_state``."""
    row = conn.execute("SELECT value FROM sup_state WHERE key = ?", (key,)).fetchone()
    return default if row is None else str(row[0])


def names_of(conn: sqlite3.Connection, kind: str) -> Mapping[str, tuple[str | None, str | None]]:
    """``{code: (name, dept_code)}`` of one kind of ``sup_names``."""
    return {str(c): (n, d) for c, n, d in conn.execute(
        "SELECT code, name, dept_code FROM sup_names WHERE kind = ?", (kind,))}
