#!/usr/bin/env python3
"""Enrolment and TLS benchmark. Prints one JSON object.

- ``binary_mb`` / ``binary_video_mb``: the one-file agents (``deploy/agent/build.py``; built into a
  temporary folder unless ``--agent-binary DIR`` names a folder that has them).
- ``enrol_to_first_record_s``: a token is issued, the one-file ``xiaoneng-agent enroll`` runs (keys made,
  certificate fetched over the pinned HTTPS port), ``xiaoneng-agent run`` starts, and its first record is
  stored at the hub over mutual TLS (hub with its embedded broker, agent as separate processes).
- ``cold_start_ms``: from starting the one-file ``xiaoneng-agent run`` to its first heartbeat stored at
  the hub.
- ``tls_ingest_records_per_s`` beside ``plain_ingest_records_per_s``: the same pre-filled outbox of
  ``--records`` records drained into an ingest-only hub, once over the broker's TLS listener and once
  over plain MQTT, in the same run (bench/ingest.py's set-up).

    python bench/enrol.py --records 50000 --json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.cluster import LocalCluster, free_port, wait_for  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
assert _spec is not None and _spec.loader is not None
ingest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ingest)


def drain_rate(work: Path, records: int, tls: bool) -> dict[str, object]:
    cluster = LocalCluster(work, [ingest.AGENT], uplink={"ack_timeout": 30.0}, hub_args=["--no-supervision"], tls=tls)
    try:
        cluster.setup()
        ingest.prefill(cluster, records)
        cluster.start_broker()
        cluster.start_hub()
        start = time.perf_counter()
        cluster.start_agent(ingest.AGENT)
        wait_for(lambda: cluster.drained(ingest.AGENT), 3600, "the outbox to drain", interval=0.1)
        seconds = time.perf_counter() - start
        audit = cluster.audit()
    finally:
        cluster.stop_all()
    return {"records_per_s": round(records / seconds), "seconds": round(seconds, 2),
            "lost": audit["lost"], "duplicates": audit["duplicates"]}


def first_record(db: Path, agent_id: str) -> bool:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.OperationalError:
        return False
    try:
        return conn.execute("SELECT 1 FROM records WHERE agent_id = ? LIMIT 1", (agent_id,)).fetchone() is not None
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def first_heartbeat(db: Path, agent_id: str) -> bool:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.OperationalError:
        return False
    try:
        row = conn.execute("SELECT last_heartbeat_at FROM agent_link WHERE agent_id = ?", (agent_id,)).fetchone()
        return row is not None and row[0] is not None
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def binaries(work: Path, given: Path | None) -> Path:
    """A folder holding xiaoneng-agent and xiaoneng-agent-video (built here unless given)."""
    if given is not None:
        return given
    dist = work / "dist"
    subprocess.run([sys.executable, str(ROOT / "deploy" / "agent" / "build.py"), "--dist", str(dist), "--no-bundle"],
                   check=True, capture_output=True, timeout=1800)
    return dist


def enrol_to_first_record(work: Path, agent_exe: str) -> tuple[float, float]:
    enroll_port = free_port()
    cluster = LocalCluster(work, [], site_id="bench-hall", embedded_broker=True,
                           hub_args=["--no-supervision", "--tls-self-issued", "--tls-name", "localhost",
                                     "--enroll-port", str(enroll_port), "--enroll-host", "127.0.0.1"])
    agent: subprocess.Popen[bytes] | None = None
    try:
        cluster.setup()
        cluster.start_hub()
        url = f"https://localhost:{enroll_port}"
        created = subprocess.run([sys.executable, "-m", "hub.cli", "enroll", "create", "--data", str(cluster.hub_dir),
                                  "--site", "bench-hall", "--agent", "new-01", "--hub-url", url],
                                 capture_output=True, text=True, check=True, timeout=60)
        match = re.search(r"^(xn1\.\S+)$", created.stdout, re.MULTILINE)
        assert match, created.stdout
        out = work / "hall-pc"
        start = time.perf_counter()
        clean = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}  # the hall machine: no Python on PATH
        subprocess.run([agent_exe, "enroll", "--hub", url, "--token", match.group(1), "--out", str(out)],
                       check=True, capture_output=True, timeout=60, env=clean)
        with open(work / "agent.log", "wb") as log:
            started = time.perf_counter()
            agent = subprocess.Popen([agent_exe, "run", "--config", str(out / "agent.yaml"), "--synthetic-rate", "10"],
                                     stdout=log, stderr=subprocess.STDOUT, env=clean)
        wait_for(lambda: first_heartbeat(cluster.hub_dir / "hub.sqlite", "new-01"), 60, "the first heartbeat",
                 interval=0.02)
        cold = time.perf_counter() - started
        wait_for(lambda: first_record(cluster.hub_dir / "hub.sqlite", "new-01"), 60, "the first record", interval=0.05)
        return time.perf_counter() - start, cold
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(20)
        cluster.stop_all()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--json", action="store_true", help="print one JSON object (the default output)")
    ap.add_argument("--agent-binary", type=Path, default=None,
                    help="a folder with the built xiaoneng-agent and xiaoneng-agent-video (default: build them)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xn-bench-enrol-"))
    try:
        result: dict[str, object] = {"records": args.records, "cpu_cores": os.cpu_count()}
        dist = binaries(work, args.agent_binary)
        result["binary_mb"] = round((dist / "xiaoneng-agent").stat().st_size / 2**20, 1)
        result["binary_video_mb"] = round((dist / "xiaoneng-agent-video").stat().st_size / 2**20, 1)
        enrol_s, cold_s = enrol_to_first_record(work / "enrol", str(dist / "xiaoneng-agent"))
        result["enrol_to_first_record_s"] = round(enrol_s, 2)
        result["cold_start_ms"] = round(cold_s * 1000)
        plain = drain_rate(work / "plain", args.records, tls=False)
        tls = drain_rate(work / "tls", args.records, tls=True)
        result.update({
            "plain_ingest_records_per_s": plain["records_per_s"],
            "tls_ingest_records_per_s": tls["records_per_s"],
            "tls_to_plain_ratio": round(int(str(tls["records_per_s"])) / int(str(plain["records_per_s"])), 2),
            "plain": plain, "tls": tls,
        })
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
