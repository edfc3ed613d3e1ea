"""Hub restart: rebuild the engine from the database without raising anything twice.

1. Every stored card's key counts as raised; cards that are not final are restored whole (their
   escalation clocks resume once their subject is replayed), and so are the cards closed as
   recorded of the subjects replayed (the engine keeps those: a late fact may still retract them;
   a subject read back later brings its own, :meth:`Feeder.rehydrate`).
2. The records of the *live* subjects are replayed in stored order: cases still open or with a
   bad rating to rectify, cases completed within ``keep_days``, open complaints and requests, and
   the windows' presence records of the last days. Other cases are re-read from their timeline
   only if a record for them arrives (:meth:`Feeder.rehydrate`), so a restart costs the open work,
   not the whole history.
3. The replayed cases' rows are recomputed (a calendar loaded while the hub was down shows here);
   the first tick after the start then raises what fell due while the hub was down, once.
4. What was rebuilt is long-lived: it is moved out of the cyclic garbage collector's sight
   (``gc.freeze``), so a full collection no longer walks every open case — with a million open
   cases a full collection took seconds, a pause of the whole hub process (GIL).
"""

from __future__ import annotations

import gc
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.desk import DESK_AGENT
from hub.engine.cards import FINAL, Card
from hub.engine.localtime import local_date
from hub.engine.windows import WindowState
from hub.supervision.feed import Feeder, Step, parse_body, read_records
from hub.supervision.store import names_of, read_state
from shared.errors import XiaonengError

log = logging.getLogger("xiaoneng.hub.supervision")
_FINAL = frozenset(s.value for s in FINAL)


@dataclass(frozen=True)
class Restored:
    """What the restart did (logged, and returned to tests and the bench)."""

    cursor: int
    cards_restored: int
    keys_known: int
    records_replayed: int
    cases_replayed: int
    seconds: float


#: Collector thresholds of the hub process. A pass walks every object of the generations it
#: collects, and a tick leaves its new cards behind as survivors (~3 tracked objects a card), so a
#: pause grows with the thresholds: generation 0 holds up to the first number of objects,
#: generation 1 up to the first times the second. On this machine a pass over 10,000 / 50,000 /
#: 200,000 young objects took 0.5 / 11 / 32 ms. The former (50,000, 20, 100) kept generation-0
#: passes rare but let generation 1 grow to a million objects (a pass of over 100 ms every 20th
#: collection, beyond the 100 ticks bench/clock.py measured). bench/clock.py (100,000 open cases,
#: 1,000 changes a tick, machine shared, load 5) gave the longest pass inside the ticks 29 / 30 ms
#: with (10,000, 5, …) and 8.8 / 8.9 ms with (5,000, 3, …). The third number keeps full passes
#: (over everything not frozen: after a large import, every case) as rare as before: one check
#: every 75 million net allocations (5,000 × 3 × 5,000; formerly 100 million). bench/clock.py
#: --gc-thresholds measures others (it reports the passes inside the ticks and the longest).
GC_THRESHOLDS = (5_000, 3, 5_000)


def settle_gc() -> None:
    """What a running hub does about the collector (:func:`start_supervision` sets the thresholds,
    :func:`restore` freezes the rebuilt state): ticks are not paused by passes over live cases.
    Process-wide, so only the hub process and the benchmark call it, never a library user."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


def restore(feeder: Feeder, now: datetime, keep_days: int = 7, presence_days: int = 2) -> tuple[Restored, Step]:
    """Rebuild ``feeder``'s engine from the database; returns a summary and the row changes."""
    started = time.perf_counter()
    conn, sup = feeder.conn, feeder.sup
    cursor = int(read_state(conn, "cursor", "0") or 0)
    for window, (_name, dept) in names_of(conn, "window").items():
        sup.windows[window] = WindowState(window, dept)
        feeder.window_dept[window] = dept
    today = local_date(now)
    since = (today - timedelta(days=keep_days)).isoformat()
    case_ids = [c for (c,) in conn.execute(
        "SELECT case_id FROM cases WHERE active = 1 UNION SELECT case_id FROM cases WHERE completed_day >= ?",
        (since,))]
    subjects = [f"complaint:{c}" for (c,) in conn.execute("SELECT complaint_id FROM complaints WHERE active = 1")]
    subjects += [f"disclosure:{r}" for (r,) in conn.execute("SELECT request_id FROM disclosures WHERE active = 1")]
    replayed = {f"case:{c}" for c in case_ids}.union(subjects)

    cards: list[Card] = []
    keys = 0
    for key, state, subject, text in conn.execute("SELECT key, state, subject, json FROM cards"):
        keys += 1
        if state not in _FINAL:
            cards.append(Card.from_json(json.loads(text)))
            continue
        sup.raised.add(key)
        if state == "closed" and subject in replayed:
            card = Card.from_json(json.loads(text))
            if card.recorded:  # closed as recorded: kept in memory, as before the restart
                cards.append(card)
    sup.restore(cards)

    ids: set[int] = set()
    for i in range(0, len(case_ids), 500):
        part = case_ids[i:i + 500]
        ids.update(r for (r,) in conn.execute(
            f"SELECT record_id FROM case_events WHERE case_id IN ({', '.join('?' * len(part))})", part))
    for i in range(0, len(subjects), 500):
        part = subjects[i:i + 500]
        ids.update(r for (r,) in conn.execute(
            f"SELECT record_id FROM sup_subject_events WHERE subject IN ({', '.join('?' * len(part))})", part))
    recent = (today - timedelta(days=presence_days)).isoformat()
    ids.update(r for (r,) in conn.execute(
        "SELECT record_id FROM sup_subject_events WHERE at >= ? AND subject LIKE 'window:%'", (recent,)))

    step = Step()
    ordered = sorted(i for i in ids if i <= cursor)
    with sup.replaying():  # judged once already: rebuild the state, retract nothing
        for start in range(0, len(ordered), 2000):
            for row in read_records(conn, ordered[start:start + 2000]):
                try:
                    body = parse_body(row[6])
                    reported = None if row[1] == DESK_AGENT else datetime.fromisoformat(row[4])  # as feed.py
                    for card in sup.ingest_record(row[3], body, bytes(row[5]).hex(), now, reported):
                        feeder.raised(card, step)
                except (XiaonengError, ValueError, TypeError, KeyError):
                    continue  # a data error recorded when the record first arrived
    for case_id in case_ids:
        step.touch(case_id)
    feeder.finish(step, today, now)
    gc.freeze()  # no collection first: it would cost a full walk; some cyclic garbage stays
    summary = Restored(cursor, len(cards), keys, len(ordered), len(case_ids), time.perf_counter() - started)
    log.info("supervision restored", extra={
        "cursor": cursor, "cards": len(cards), "card_keys": keys, "records": len(ordered),
        "cases": len(case_ids), "seconds": round(summary.seconds, 2)})
    return summary, step
