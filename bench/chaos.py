#!/usr/bin/env python3
"""Chaos benchmark: K fault cycles (broker, hub or agent SIGKILLed, or the link down for a while)
with live producers, then a full drain and an audit. Prints one JSON object.

    python bench/chaos.py --cycles 9 --json
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.cluster import LocalCluster, wait_for  # noqa: E402

AGENTS = ["c1", "c2", "c3"]


def stored(c: LocalCluster) -> int:
    conn = c.hub_db()
    try:
        return int(conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cycles", type=int, default=9)
    ap.add_argument("--rate", type=float, default=300.0, help="records/s per agent")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--json", action="store_true", help="print one JSON object (the default output)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="xn-bench-chaos-"))
    c = LocalCluster(work, AGENTS, uplink={"ack_timeout": 3.0, "heartbeat_interval": 2.0,
                                           "backoff_initial": 0.2, "backoff_max": 2.0})
    faults: list[str] = []
    t0 = time.perf_counter()
    try:
        c.setup()
        c.start_broker()
        c.start_hub()
        for a in AGENTS:
            c.start_agent(a, synthetic_rate=args.rate)
        for cycle in range(args.cycles):
            base = stored(c)
            wait_for(lambda base=base: stored(c) >= base + 200, 120, f"progress before cycle {cycle}")
            fault = ["broker", "hub", "agent", "link"][cycle % 4] if cycle < 4 else rng.choice(
                ["broker", "hub", "agent", "link"])
            faults.append(fault)
            if fault in ("broker", "link"):
                c.kill_broker()
                # the link stays down while records pile up (longer for "link")
                need = 300 if fault == "link" else 50
                start_depth = {a: int(c.outbox_meta(a).get("depth", "0")) for a in AGENTS}
                def piled(start_depth: dict[str, int] = start_depth, need: int = need) -> bool:
                    return all(int(c.outbox_meta(a).get("depth", "0")) >= start_depth[a] + need for a in AGENTS)

                wait_for(piled, 120, "records to pile up")
                c.start_broker()
            elif fault == "hub":
                assert c.hub is not None
                c.hub.kill()
                c.start_hub()
            else:
                victim = rng.choice(AGENTS)
                c.agents[victim].kill()
                c.start_agent(victim, synthetic_rate=args.rate)
        c.drain_all(timeout=300)
        audit = c.audit()
        verify = subprocess.run([sys.executable, "-m", "hub.cli", "verify", "--data", str(c.hub_dir), "--json"],
                                capture_output=True, text=True, timeout=600)
        report = json.loads(verify.stdout)
        result = {**audit, "cycles": args.cycles, "faults": faults, "verify_ok": report["ok"],
                  "seconds": round(time.perf_counter() - t0, 1)}
    finally:
        c.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
