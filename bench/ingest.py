#!/usr/bin/env python3
"""End-to-end ingest benchmark: drain a pre-filled outbox of N records through a real Mosquitto
into the hub (verify → store + ledger → ack → outbox pruned), broker, hub and agent as separate
processes. Prints one JSON object.

    python bench/ingest.py --records 1000000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from agent.outbox import Outbox  # noqa: E402
from shared.record import ChainBuilder  # noqa: E402
from shared.timefmt import iso_local  # noqa: E402
from simulator.cluster import LocalCluster, wait_for  # noqa: E402

AGENT = "bench1"


def sample_body(i: int) -> dict[str, object]:
    """A realistic case.accepted body (about 400 bytes of canonical JSON)."""
    return {
        "case_id": f"3701022026{i:010d}", "item_code": "11370100MB285591XN4370111001000",
        "item_name": "食品经营许可", "dept_code": "SCJGJ", "dept_name": "市市场监督管理局",
        "accepted_at": "2026-11-26T09:30:00+08:00", "case_kind": 2,
        "promised_limit": {"value": 10, "unit": "G"}, "statutory_limit": {"value": 20, "unit": "G"},
        "window_id": "W07", "staff_id": "S0312", "staff_name": "李明", "fee_standard_fen": 0,
    }


def prefill(cluster: LocalCluster, n: int) -> None:
    outbox = Outbox(cluster.agent_dir(AGENT) / "data" / "outbox.sqlite", AGENT, synchronous="OFF")
    ts = iso_local(time.time())
    done = 0
    while done < n:
        with outbox.transaction() as tx:
            for _ in range(min(20_000, n - done)):
                done += 1
                tx.append("case.accepted", ts, sample_body(done))
    outbox.close()


def verify_rate(samples: int = 5000) -> float:
    key = Ed25519PrivateKey.generate()
    pub = key.public_key()
    builder = ChainBuilder(AGENT, "s1")
    recs = [builder.append("case.accepted", "2026-11-26T09:30:00+08:00", sample_body(i)) for i in range(samples)]
    sigs = [key.sign(r.data) for r in recs]
    t0 = time.perf_counter()
    for r, s in zip(recs, sigs):
        pub.verify(s, r.data)
    return samples / (time.perf_counter() - t0)


def raw_insert_rate(n: int = 200_000) -> float:
    builder = ChainBuilder(AGENT, "s1")
    data = builder.append("case.accepted", "2026-11-26T09:30:00+08:00", sample_body(1)).data
    with tempfile.TemporaryDirectory() as d:
        conn = sqlite3.connect(Path(d) / "raw.sqlite", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE r (k TEXT, seq INTEGER, raw BLOB)")
        t0 = time.perf_counter()
        for start in range(0, n, 1000):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO r VALUES (?,?,?)", [(AGENT, start + i, data) for i in range(1000)])
            conn.execute("COMMIT")
        rate = n / (time.perf_counter() - t0)
        conn.close()
    return rate


class RssSampler(threading.Thread):
    def __init__(self, pids: dict[str, int]):
        super().__init__(daemon=True)
        self.pids = pids
        self.peak: dict[str, float] = {k: 0.0 for k in pids}
        self.stop = threading.Event()

    def run(self) -> None:
        procs = {k: psutil.Process(p) for k, p in self.pids.items()}
        while not self.stop.wait(0.2):
            for k, p in procs.items():
                try:
                    self.peak[k] = max(self.peak[k], p.memory_info().rss / 2**20)
                except psutil.Error:
                    pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--json", action="store_true", help="print one JSON object (the default output)")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="xn-bench-ingest-"))
    # The hub runs as an ingest-only worker: this measures delivery (verify → store + ledger → ack).
    # The supervision engine is a separate consumer of the stored records (bench/report.py, bench/clock.py).
    cluster = LocalCluster(work, [AGENT], uplink={"ack_timeout": 30.0}, hub_args=["--no-supervision"])
    result: dict[str, object] = {"records": args.records, "hub": "ingest-only (--no-supervision)"}
    try:
        cluster.setup()
        t0 = time.perf_counter()
        prefill(cluster, args.records)
        result["prefill_s"] = round(time.perf_counter() - t0, 1)
        cluster.start_broker()
        cluster.start_hub()
        assert cluster.hub is not None and cluster.hub.pid is not None
        start = time.perf_counter()
        agent = cluster.start_agent(AGENT)
        assert agent.pid is not None
        sampler = RssSampler({"agent": agent.pid, "hub": cluster.hub.pid})
        sampler.start()
        wait_for(lambda: cluster.drained(AGENT), 3600, "the outbox to drain", interval=0.1)
        seconds = time.perf_counter() - start
        sampler.stop.set()
        sampler.join()
        audit = cluster.audit()
        result.update({
            "seconds": round(seconds, 2),
            "records_per_s": round(args.records / seconds),
            "lost": audit["lost"],
            "duplicates": audit["duplicates"],
            "reordered": audit["reordered"],
            "agent_rss_mb": round(sampler.peak["agent"], 1),
            "hub_rss_mb": round(sampler.peak["hub"], 1),
        })
        cluster.stop_all()
        result["per_record_signature_verify_per_s"] = round(verify_rate())
        result["sqlite_raw_insert_per_s"] = round(raw_insert_rate())
        result["cpu_cores"] = os.cpu_count()
    finally:
        cluster.stop_all()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
        else:
            result["workdir"] = str(work)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
