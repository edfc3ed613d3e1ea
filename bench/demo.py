#!/usr/bin/env python3
"""The demo's history import, measured. Prints one JSON object.

Builds ``make demo``'s city (20 departments × 90 days, each department database captured by its own
agent) in a temporary directory, imports it through real agents, broker and hub, waits until the
import is done (:mod:`simulator.settle`: every agent caught up and acknowledged, the supervision
consumed everything and holds nothing), then reports:

- ``import_s``: hub start → import done; ``generate_s``: writing the department databases;
- ``withdrawn_on_import``: cards withdrawn by the system (state withdrawn, last action retract);
- ``cards_per_100_cases``: standing yellow + red cards whose moment lies in the last full month per
  100 cases accepted in it; ``cards_by_rule`` (standing, all periods), ``cards_by_level``;
- ``grades``: departments per grade for the last full month (``hub.engine.scoring``);
  ``departments_unfair``: on time ≥ 95 %, no red card, yet graded 不合格;
- ``ingest_records_per_s`` / ``supervision_records_per_s``: records stored by the hub / consumed
  by the supervision per second while each was busy (``ingest_busy_s``, ``supervision_busy_s``),
  sampled once a second in the same run.

``--databases DIR`` copies the department databases from DIR (e.g. ``KEEP/departments`` of an earlier
``--keep`` run) instead of writing them again; their change tables may have been purged by that run.

    python bench/demo.py --json [--departments 20] [--days 90] [--deadline 900] [--keep DIR]
                                [--databases DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.timefmt import SHANGHAI  # noqa: E402
from simulator.cluster import free_port  # noqa: E402
from simulator.demo import Demo  # noqa: E402
from simulator.settle import RETRACTED, STANDING, ImportWatch  # noqa: E402


def last_full_month(today: date) -> str:
    first = today.replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


class Rate:
    """A counter sampled over time, and its rate while it was moving: the sum of the rises over
    the sum of the sampling intervals in which it rose (idle intervals do not dilute it)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []

    def add(self, at: float, value: int) -> None:
        self.samples.append((at, value))

    def per_s(self) -> float | None:
        rose = busy = 0.0
        for (t0, v0), (t1, v1) in zip(self.samples, self.samples[1:], strict=False):
            if v1 > v0:
                rose, busy = rose + (v1 - v0), busy + (t1 - t0)
        return round(rose / busy, 1) if busy else None

    def busy_s(self) -> float:
        return round(sum(t1 - t0 for (t0, v0), (t1, v1) in zip(self.samples, self.samples[1:], strict=False)
                         if v1 > v0), 1)


def counters(hub_db: Path) -> tuple[int, int]:
    """(records stored, records consumed by the supervision)."""
    try:
        conn = sqlite3.connect(f"file:{hub_db}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return 0, 0
    try:
        stored = conn.execute("SELECT COALESCE(MAX(id), 0) FROM records").fetchone()[0]
        row = conn.execute("SELECT value FROM sup_state WHERE key = 'cursor'").fetchone()
        return int(stored), int(row[0]) if row else 0
    except sqlite3.Error:
        return 0, 0
    finally:
        conn.close()


def figures(hub_dir: Path, month: str) -> dict[str, Any]:
    """The month's cards, cases and grades from the hub's database."""
    conn = sqlite3.connect(f"file:{hub_dir / 'hub.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        def one(sql: str, *params: object) -> int:
            return int(conn.execute(sql, params).fetchone()[0] or 0)

        accepted = one("SELECT COUNT(*) FROM cases WHERE substr(accepted_at, 1, 7) = ?", month)
        month_cards = one(f"SELECT COUNT(*) FROM cards WHERE {STANDING} AND substr(moment, 1, 7) = ?",
                          month)
        out: dict[str, Any] = {
            "month": month,
            "cases": one("SELECT COUNT(*) FROM cases"),
            "cases_accepted_in_month": accepted,
            "cards_in_month": month_cards,
            "cards_per_100_cases": round(100 * month_cards / accepted, 2) if accepted else None,
            "withdrawn_on_import": one(f"SELECT COUNT(*) FROM cards WHERE {RETRACTED}"),
            "cards_by_rule": {f"{r} {lv}": n for r, lv, n in conn.execute(
                f"SELECT rule, level, COUNT(*) FROM cards WHERE {STANDING} GROUP BY 1, 2 ORDER BY 1, 2")},
            "cards_by_level": dict(conn.execute(
                "SELECT level || ':' || state, COUNT(*) FROM cards GROUP BY 1 ORDER BY 1").fetchall()),
        }
    finally:
        conn.close()
    out.update(grades(hub_dir, month))
    return out


def grades(hub_dir: Path, month: str) -> dict[str, Any]:
    """Grades of the departments for ``month`` and the unfair ones (the scoring in use)."""
    try:
        from hub.engine.scoring import Period, score_entities
        from hub.supervision.facts import load_facts
        from hub.supervision.service import engine_config

        conn = sqlite3.connect(f"file:{hub_dir / 'hub.sqlite'}?mode=ro", uri=True, timeout=10)
        try:
            scores = score_entities(load_facts(conn, Period.parse(month)), "department",
                                    engine_config(hub_dir).scoring)
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - the scoring is being changed: report, do not fail
        return {"grades": None, "departments_unfair": None, "grades_error": repr(exc)[:300]}
    count: dict[str, int] = {}
    unfair = []
    for s in scores:
        count[s.grade] = count.get(s.grade, 0) + 1
        c = s.counts
        on_time = c.on_time / c.completed if c.completed else 0.0
        if c.completed and on_time >= 0.95 and c.cards_of("red") == 0 and s.grade == "不合格":
            unfair.append(s.entity)
    return {"grades": count, "departments_unfair": len(unfair), "unfair": unfair,
            "scores": {s.entity: round(s.score, 1) for s in scores}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print only the JSON object")
    ap.add_argument("--departments", type=int, default=20)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--deadline", type=float, default=900.0, help="give up after this many seconds")
    ap.add_argument("--keep", type=Path, default=None, help="build in DIR and keep it (default: a temp dir)")
    ap.add_argument("--databases", type=Path, default=None,
                    help="copy the department databases from DIR instead of writing them")
    args = ap.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="xn-bench-demo-"))

    def log(text: str) -> None:
        if not args.json:
            print(text, file=sys.stderr, flush=True)

    demo = Demo(root, args.departments, args.days, "", free_port())
    result: dict[str, Any] = {"departments": args.departments, "days": args.days,
                              "loadavg_before": [round(x, 2) for x in os.getloadavg()]}  # shared machine
    if args.databases is not None:
        source = args.databases

        def copy_databases() -> None:
            shutil.copytree(source, root / "departments", dirs_exist_ok=True)

        demo.make_databases = copy_databases  # type: ignore[method-assign]
        result["databases_copied_from"] = str(source)
    try:
        t0 = time.monotonic()
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the JSON only
            demo.setup()
        result["generate_s"] = round(time.monotonic() - t0, 1)
        log(f"databases written in {result['generate_s']} s; starting hub and agents")
        started = time.monotonic()
        watch: ImportWatch = demo.import_watch(started)
        demo.cluster.start_hub()
        for agent_id in demo.agent_ids:
            demo.cluster.start_agent(agent_id)
        hub_db = demo.cluster.hub_dir / "hub.sqlite"
        ingest, supervision = Rate(), Rate()
        deadline = started + args.deadline
        while not watch.look(time.monotonic(), time.time()):
            now = time.monotonic()
            stored, consumed = counters(hub_db)
            ingest.add(now, stored)
            supervision.add(now, consumed)
            dead = [p.name for p in [demo.cluster.hub, *demo.cluster.agents.values()] if p and not p.alive]
            if dead:
                raise RuntimeError(f"process exited: {', '.join(dead)} (logs: {root / 'logs'})")
            if now > deadline:
                result["timed_out"] = True
                break
            s = watch.state
            log(f"{now - started:5.0f} s  records {s.records}  consumed {s.consumed}  catching up "
                f"{len(s.catching_up)}  waiting {len(s.waiting)}  holding {s.holding}")
            time.sleep(1.0)
        result["import_s"] = round(watch.seconds, 1) if watch.finished is not None else None
        result["records"] = watch.state.records
        result["ingest_records_per_s"] = ingest.per_s()
        result["supervision_records_per_s"] = supervision.per_s()
        result["ingest_busy_s"], result["supervision_busy_s"] = ingest.busy_s(), supervision.busy_s()
        result.update(figures(demo.cluster.hub_dir, last_full_month(datetime.now(SHANGHAI).date())))
    finally:
        demo.cluster.stop_all()
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result.get("import_s") is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
