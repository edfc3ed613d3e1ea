#!/usr/bin/env python3
"""Configuration push benchmark. Prints one JSON object.

Real Mosquitto, hub and agent processes (simulator.cluster.LocalCluster, agents over mutual TLS); a
reference-schema SQLite department. For each of ``--rounds`` pushes of a bundle (settings + the
reference mapping profile), ``xiaoneng-hub config push`` is run and the clock stops when the
hub's ``agent_link`` shows the new ``config_version`` from the agent's heartbeat (signature check,
live validation against the database, atomic switch, capture restart included):

- ``push_to_reported_s``: median and max of those rounds (command start → version stored at the hub);
- ``push_command_s``: median time of the command alone (sign, publish retained at QoS 1, record);
- ``invalid_to_reported_s``: a bundle whose profile does not fit the database, until its refusal
  reaches the hub;
- ``bundle_files_bytes``: the size of the bundle's files.

    python bench/configpush.py --rounds 5 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from functools import partial
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.cluster import LocalCluster, wait_for  # noqa: E402
from tests.mapping.capture_support import PROFILES, Department  # noqa: E402

FAST = {"heartbeat_interval": 10.0, "backoff_initial": 0.2, "backoff_max": 2.0}


def link(c: LocalCluster) -> tuple[int | None, str | None]:
    with closing(c.hub_db()) as conn:
        row = conn.execute("SELECT config_version, config_error FROM agent_link WHERE agent_id = 'a1'").fetchone()
    return (None, None) if row is None else (row[0], row[1])


def reported(c: LocalCluster, version: int) -> bool:
    return link(c)[0] == version


def push(c: LocalCluster, d: Path, db: Path, profile: str) -> float:
    d.mkdir()
    (d / "settings.yaml").write_text(yaml.safe_dump({"capture": [
        {"name": "dept", "profile": "reference.yaml", "database": f"sqlite:///{db}", "mode": "watermark"}]}))
    (d / "reference.yaml").write_text(profile, encoding="utf-8")
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "hub.cli", "config", "push", "--data", str(c.hub_dir), "--agent",
                          "a1", "--mqtt-port", str(c.port), str(d / "settings.yaml"), str(d / "reference.yaml")],
                         capture_output=True, text=True, timeout=60)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    profile = (PROFILES / "reference.yaml").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        c = LocalCluster(root / "cluster", ["a1"], uplink=FAST)
        c.setup()
        db = root / "dept.sqlite"
        Department.create(f"sqlite:///{db}", "reference", days=1).db.close()
        c.start_broker()
        c.start_hub()
        c.start_agent("a1")
        try:
            wait_for(lambda: link(c)[0] == 0, 60, "the agent's first heartbeat")
            totals, commands = [], []
            for n in range(1, args.rounds + 1):
                t0 = push(c, root / f"b{n}", db, profile)
                commands.append(time.monotonic() - t0)
                wait_for(partial(reported, c, n), 60, f"version {n} reported", interval=0.01)
                totals.append(time.monotonic() - t0)
            broken = profile.replace("appr_case:\n    key: id", "appr_case:\n    key: no_such_column")
            t0 = push(c, root / "bad", db, broken)
            wait_for(lambda: "not applied" in (link(c)[1] or ""), 60, "the refusal reported", interval=0.01)
            invalid = time.monotonic() - t0
            size = sum(len(p.read_bytes()) for p in (root / "b1").iterdir())
        finally:
            c.stop_all()
    result = {
        "rounds": args.rounds,
        "push_to_reported_s": {"median": round(statistics.median(totals), 3), "max": round(max(totals), 3)},
        "push_command_s": round(statistics.median(commands), 3),
        "invalid_to_reported_s": round(invalid, 3),
        "bundle_files_bytes": size,
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
