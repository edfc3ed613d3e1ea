"""Cards per 100 cases as the hub's own engine finds them in the simulator's history, in-process.

    python -m simulator.engine_month [--days 65] [--now 2026-12-03T08:00] [--keep DIR] [--json]

Builds the demo's 20 department databases (each in its demo schema: reference, exchange or
Flowable) and its complaints system (complaints and disclosure requests, schema ``complaints``),
writes ``--days`` of history with the default rates, reads every row back
through the department's mapping profile (``agent.mapping.map_row``, as an agent's backfill does,
in event-time order), stores the records through the hub's real ingest decision and store, and
lets the supervision service consume them with a fixed clock — no broker, no agents. Then, for
the last full month before ``--now``: cases accepted, standing yellow + red cards by the month of
their moment (per rule and department), cards withdrawn, and the monthly report's grades.

It measures the simulator against the engine as it is today; ``xiaoneng-sim rates`` gives the
simulator's own expectation (what it injected).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.capture.backfill import in_time_order
from agent.capture.database import connect_source
from agent.capture.rows import base_sql
from agent.mapping import load_profile, map_row
from agent.mapping.engine import Event
from hub.engine.localtime import LOCAL_TZ
from hub.ingest import decide
from hub.reports.data import build_report
from hub.store import Store
from hub.supervision.service import ServiceOptions, SupervisorService
from shared.batch import sign_batch
from shared.record import ChainBuilder
from simulator.catalogue import build_catalogue
from simulator.db import connect
from simulator.demo import COMPLAINTS_AGENT, PROFILES, schema_for
from simulator.engine import Simulator, initialise

KEY = Ed25519PrivateKey.generate()


def department_events(root: Path, index: int, code: str, days: int, now: datetime,
                      kind: str | None = None) -> list[Event]:
    """The events of one department's simulated history, mapped by its demo profile (with
    ``kind="complaints"``: the complaints system of the comma-separated departments ``code``)."""
    kind = kind or schema_for(index)
    path = root / f"{'12345' if kind == 'complaints' else code}.sqlite"
    db = connect(f"sqlite:///{path}", create=True)
    try:
        initialise(db, kind, seed=1, departments=code.split(","), now=now - timedelta(days=days))
        Simulator.open(db).backfill(days, now)
    finally:
        db.close()
    profile = load_profile(PROFILES / f"{kind}.yaml")
    source_db = connect_source(f"sqlite:///{path}")
    events: list[Event] = []
    try:
        for name, source in profile.sources.items():
            for row in source_db.rows(f"SELECT * FROM {base_sql(source_db, source)}"):
                events += map_row(profile, name, row)
    finally:
        source_db.close()
    return events


def sign_and_store(store: Store, agent: str, stream: str, items: Iterable[tuple[str, str, dict[str, Any]]],
                   batch: int = 1000) -> int:
    """Chain ``(type, ts, body)`` items into ``agent``'s ``stream``, sign them in batches and store
    them through the real ingest decision (as the hub would); returns how many."""
    builder = ChainBuilder(agent, stream)
    records = [builder.append(type_, ts, body) for type_, ts, body in items]
    for i in range(0, len(records), batch):
        part = records[i:i + batch]
        sent = datetime.now(LOCAL_TZ).isoformat()
        payload = bytes(sign_batch(KEY, agent, stream, part, i, sent))
        with store.transaction() as st:
            d = decide(payload, agent, lambda _a: KEY.public_key(), st.head, st.stored_hashes,
                       datetime.now(LOCAL_TZ))
            if d.kind != "store" or d.header is None:
                raise RuntimeError(f"ingest refused a batch of {agent}: {d}")
            st.add_batch(d.header, d.records, sent)
    return len(records)


def store_events(store: Store, agent: str, events: list[Event], batch: int = 1000) -> int:
    """Chain, sign and store ``events`` of ``agent`` through the real ingest decision."""
    return sign_and_store(store, agent, "approval", ((e.type, e.ts, e.body) for e in events), batch)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def last_full_month(now: datetime) -> tuple[date, date]:
    first_of_this = now.date().replace(day=1)
    last = first_of_this - timedelta(days=1)
    return last.replace(day=1), last


def measure(root: Path, days: int, now: datetime, departments: int = 20) -> dict[str, Any]:
    """Build, import and consume the history; the last full month's figures (see module doc)."""
    catalogue = build_catalogue(1, departments)
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    store = Store(root / "hub.sqlite", synchronous="OFF")
    records = 0
    mapping_errors = 0
    for i, dept in enumerate(catalogue.departments):
        events = in_time_order(department_events(root, i, dept.code, days, now))
        mapping_errors += sum(e.is_error for e in events)
        records += store_events(store, f"{dept.code.lower()}-01", events)
    codes = ",".join(d.code for d in catalogue.departments)
    events = in_time_order(department_events(root, -1, codes, days, now, kind="complaints"))
    mapping_errors += sum(e.is_error for e in events)
    records += store_events(store, COMPLAINTS_AGENT, events)
    store.close()
    build_s = time.perf_counter() - started

    clock = FixedClock(now)
    options = ServiceOptions(startup_hold_s=0, chunk=2000, max_chunks_per_step=1000,
                             calendar_poll_s=3600, counters_interval_s=3600, housekeeping_s=3600)
    service = SupervisorService(root / "hub.sqlite", clock=clock, options=options)
    service.open()
    started = time.perf_counter()
    while service.step():
        pass
    clock.now = now + timedelta(minutes=5)
    service.step()
    consume_s = time.perf_counter() - started
    service.stop()

    first, last = last_full_month(now)
    month = f"{first:%Y-%m}"
    conn = sqlite3.connect(f"file:{root / 'hub.sqlite'}?mode=ro", uri=True)
    accepted = dict(conn.execute(
        "SELECT dept_code, SUM(n) FROM sup_daily WHERE metric = 'accepted' AND day BETWEEN ? AND ? "
        "GROUP BY dept_code", (first.isoformat(), last.isoformat())).fetchall())
    in_month = "substr(moment, 1, 7) = ?"
    standing = conn.execute(
        f"SELECT dept_code, rule, level, COUNT(*) FROM cards WHERE {in_month} "
        "AND level IN ('yellow', 'red') AND state NOT IN ('appealed', 'withdrawn') "
        "AND subject NOT LIKE 'complaint:%' AND subject NOT LIKE 'disclosure:%' "
        "GROUP BY dept_code, rule, level", (month,)).fetchall()
    by_state = dict(conn.execute(
        f"SELECT state, COUNT(*) FROM cards WHERE {in_month} GROUP BY state", (month,)).fetchall())
    withdrawn_all = conn.execute("SELECT COUNT(*) FROM cards WHERE state = 'withdrawn'").fetchone()[0]
    reminders = dict(conn.execute(
        f"SELECT rule, COUNT(*) FROM cards WHERE {in_month} AND level = 'reminder' GROUP BY rule",
        (month,)).fetchall())
    matter_cards = dict(conn.execute(
        f"SELECT substr(subject, 1, instr(subject, ':') - 1), COUNT(*) FROM cards WHERE {in_month} "
        "AND level IN ('yellow', 'red') AND state NOT IN ('appealed', 'withdrawn') "
        "AND (subject LIKE 'complaint:%' OR subject LIKE 'disclosure:%') GROUP BY 1", (month,)).fetchall())
    report = build_report(conn, month, now=now)
    conn.close()

    by_rule: Counter[str] = Counter()
    by_dept: Counter[str] = Counter()
    for dept, rule, _level, n in standing:
        by_rule[rule] += n
        by_dept[dept or "?"] += n
    cases = sum(int(n) for n in accepted.values())
    ranked = (report or {}).get("departments") or []
    grades = Counter(str(d.get("grade")) for d in ranked)
    return {
        "month": month, "now": now.isoformat(), "days": days,
        "records": records, "mapping_errors": mapping_errors,
        "build_s": round(build_s, 1), "consume_s": round(consume_s, 1),
        "cases_accepted": cases, "cards_standing": sum(by_rule.values()),
        "cards_per_100_cases": round(100 * sum(by_rule.values()) / cases, 2) if cases else None,
        "by_rule": dict(sorted(by_rule.items())), "by_state": by_state,
        "withdrawn_all_time": withdrawn_all, "reminders": reminders,
        "grades": dict(grades),
        "complaints": (report or {}).get("complaints"), "disclosures": (report or {}).get("disclosures"),
        "matter_cards": matter_cards,
        "departments": [
            {"code": d.get("code"), "name": d.get("name"), "score": d.get("score"),
             "grade": d.get("grade"), "accepted": accepted.get(d.get("code"), 0),
             "cards": by_dept.get(str(d.get("code")), 0)}
            for d in ranked],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=65)
    parser.add_argument("--now", default="2026-12-03T08:00")
    parser.add_argument("--departments", type=int, default=20, help="the first N departments")
    parser.add_argument("--keep", type=Path, help="build the databases here (kept)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now)
    if now.tzinfo is None:
        now = now.replace(tzinfo=LOCAL_TZ)
    root = args.keep or Path(tempfile.mkdtemp(prefix="xn-engine-month-"))
    result = measure(root, args.days, now, args.departments)
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
