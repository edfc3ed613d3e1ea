#!/usr/bin/env python3
"""Capture benchmark. Prints one JSON object:

- ``changes_per_s`` (and per backend): catch-up of a backlog of N changes in a department
  database (reference schema, trigger mode) into the agent's outbox;
- ``latency_p50_ms`` / ``latency_p99_ms``: a committed source row → the record stored at the hub,
  at a live rate of 100 changes/s, through real processes (broker, hub, agent);
- ``idle_cpu_percent``: the agent's CPU while the database is quiet.

    python bench/capture.py --json [--changes 100000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402
import yaml  # noqa: E402

from agent.capture.database import connect_source  # noqa: E402
from agent.capture.runner import CaptureRunner  # noqa: E402
from agent.capture.triggers import install  # noqa: E402
from agent.mapping import load_profile  # noqa: E402
from agent.outbox import Outbox  # noqa: E402
from shared.timefmt import SHANGHAI  # noqa: E402
from simulator.catalogue import build_catalogue  # noqa: E402
from simulator.cluster import LocalCluster, wait_for  # noqa: E402
from simulator.db import connect  # noqa: E402
from simulator.engine import Simulator, initialise  # noqa: E402

PROFILE = Path(__file__).resolve().parent.parent / "firmware_configs" / "profiles" / "reference.yaml"
DEPT = build_catalogue(1, 1).departments[0].code


def make_source(url: str) -> None:
    """A reference-schema database with one day of simulated history (for a template row)."""
    db = connect(url, create=True)
    try:
        initialise(db, "reference", seed=1, departments=[DEPT])
        Simulator.open(db).backfill(1, datetime.now(SHANGHAI))
    finally:
        db.close()


class RowMaker:
    """Inserts copies of a real ``appr_case`` row with fresh ids and case numbers."""

    def __init__(self, url: str):
        self.src = connect_source(url)
        cur = self.src.conn.cursor()
        cur.execute("SELECT * FROM appr_case WHERE accept_status = '1' LIMIT 1")
        self.columns = [d[0] for d in cur.description if d[0] != "id"]
        row = cur.fetchone()
        names = [d[0] for d in cur.description]
        self.template = {n: v for n, v in zip(names, row, strict=True) if n != "id"}
        mark = "?" if self.src.dialect == "sqlite" else "%s"
        self.sql = (f"INSERT INTO appr_case ({', '.join(self.columns)}) "
                    f"VALUES ({', '.join([mark] * len(self.columns))})")

    def insert(self, case_nos: list[str]) -> None:
        now = datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)
        rows = []
        for no in case_nos:
            values = dict(self.template, case_no=no)
            for col in ("created_at", "updated_at"):
                if col in values:
                    values[col] = now if not isinstance(values[col], str) else now.isoformat(sep=" ")
            rows.append([values[c] for c in self.columns])
        cur = self.src.conn.cursor()
        cur.executemany(self.sql, rows)
        self.src.conn.commit()

    def close(self) -> None:
        self.src.close()


def catch_up(url: str, changes: int, work: Path) -> dict[str, Any]:
    make_source(url)
    profile = load_profile(PROFILE)
    db = connect_source(url)
    install(db, profile)
    db.close()
    tag = secrets.token_hex(3)
    outbox = Outbox(work / f"outbox-{tag}.sqlite", "bench1")
    runner = CaptureRunner(profile, url, outbox, name="bench", state_dir=work)
    runner.drain()  # the initial snapshot of the rows that existed before the triggers
    before = outbox.head_seq
    maker = RowMaker(url)
    for start in range(0, changes, 5000):
        maker.insert([f"B{tag}{i:09d}" for i in range(start, min(changes, start + 5000))])
    maker.close()
    t0 = time.perf_counter()
    consumed = runner.drain()
    seconds = time.perf_counter() - t0
    events = outbox.head_seq - before
    runner.close()
    outbox.close()
    return {"changes": consumed, "events": events, "seconds": round(seconds, 2),
            "changes_per_s": round(consumed / seconds)}


def latency_and_idle(work: Path, seconds: float, rate: float, supervision: bool) -> dict[str, Any]:
    url = f"sqlite:///{work / 'live.sqlite'}"
    make_source(url)
    cluster = LocalCluster(work / "cluster", ["cap1"], hub_args=[] if supervision else ["--no-supervision"])
    cluster.setup()
    cfg_path = cluster.agent_dir("cap1") / "agent.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["capture"] = [{"name": "approval", "profile": str(PROFILE), "database": url}]
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    db = connect_source(url)
    install(db, load_profile(PROFILE))
    db.close()
    try:
        cluster.start_broker()
        cluster.start_hub()
        agent = cluster.start_agent("cap1")
        # the day of history drains first
        wait_for(lambda: cluster.drained("cap1") and int(cluster.outbox_meta("cap1")["head_seq"]) > 0, 120,
                 "the history to drain")
        maker = RowMaker(url)
        hub_db = cluster.hub_dir / "hub.sqlite"
        # The first change after the agent went quiet is reported on its own: it pays one-off costs
        # (first poll of a drained change table, cold caches) that steady-state changes do not.
        maker.insert(["WARMUP0001"])
        first_at = time.time()
        wait_for(lambda: "WARMUP0001" in _arrived(hub_db, "WARMUP%"), 60, "the first live change")
        first_ms = (_arrived(hub_db, "WARMUP%")["WARMUP0001"] - first_at) * 1000
        committed: dict[str, float] = {}
        n = int(seconds * rate)
        t0 = time.time()
        for i in range(n):
            due = t0 + i / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            no = f"LAT{i:08d}"
            maker.insert([no])
            committed[no] = time.time()
        maker.close()
        wait_for(lambda: len(_arrived(hub_db, "LAT%")) >= n, 120, "every live change at the hub", interval=0.5)
        got = _arrived(hub_db, "LAT%")
        lat = sorted((got[no] - committed[no]) * 1000 for no in committed)
        proc = psutil.Process(agent.pid)
        wait_for(lambda: cluster.drained("cap1"), 60, "drain")
        c0 = proc.cpu_times()
        w0 = time.monotonic()
        time.sleep(10)
        c1 = proc.cpu_times()
        idle = (c1.user + c1.system - c0.user - c0.system) / (time.monotonic() - w0) * 100
        return {
            "live_rate_per_s": rate, "live_changes": n, "first_change_ms": round(first_ms, 1),
            "latency_p50_ms": round(lat[len(lat) // 2], 1),
            "latency_p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
            "latency_max_ms": round(lat[-1], 1),
            "idle_cpu_percent": round(idle, 2),
        }
    finally:
        cluster.stop_all()


def _arrived(hub_db: Path, pattern: str) -> dict[str, float]:
    """case_id → when the hub received it, for stored case.accepted records matching ``pattern``."""
    conn = sqlite3.connect(f"file:{hub_db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT json_extract(CAST(raw AS TEXT), '$.body.case_id'), received_at FROM records "
            "WHERE type = 'case.accepted' AND json_extract(CAST(raw AS TEXT), '$.body.case_id') LIKE ?",
            (pattern,)).fetchall()
    finally:
        conn.close()
    return {no: datetime.fromisoformat(at).timestamp() for no, at in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--changes", type=int, default=100_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--live-seconds", type=float, default=30.0)
    ap.add_argument("--no-supervision", action="store_true", help="hub without the supervision engine")
    ap.add_argument("--json", action="store_true", help="print one JSON object (the default output)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xn-bench-capture-"))
    result: dict[str, Any] = {"loadavg_before": [round(x, 2) for x in os.getloadavg()]}  # shared machine
    pg_name = f"xn_bench_{secrets.token_hex(4)}"
    try:
        rates = {}
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{work / 'catchup.sqlite'}"
            elif backend == "postgresql":
                url = f"postgresql://postgres@127.0.0.1:5432/{pg_name}"
            elif backend == "mysql":
                url = f"mysql://root@127.0.0.1:3306/{pg_name}"
            else:
                raise SystemExit(f"unknown backend {backend}")
            result[f"catch_up_{backend}"] = catch_up(url, args.changes, work)
            rates[backend] = result[f"catch_up_{backend}"]["changes_per_s"]
        result["changes_per_s"] = min(rates.values())
        result["hub"] = "ingest-only" if args.no_supervision else "full (with supervision)"
        result.update(latency_and_idle(work, args.live_seconds, 100.0, not args.no_supervision))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        _drop(pg_name, args.backends)
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, ensure_ascii=False))


def _drop(name: str, backends: str) -> None:
    if "postgresql" in backends:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
    if "mysql" in backends:
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
        try:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        finally:
            conn.close()


if __name__ == "__main__":
    main()
