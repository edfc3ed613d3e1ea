"""The desk benchmark: how long one entry at the hub takes (check, chain, sign, ingest decision, store
transaction with its fsync), one after another and from several threads at once, and ``verify`` over
the result. Real Store, IngestService and the supervision service consuming in its thread (as in the
running hub: the desk's checks read the records the supervision has not consumed yet), on a
temporary data directory.

    python bench/desk.py --entries 500 --threads 2 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.desk.service import Desk, NewComplaint  # noqa: E402
from hub.engine.localtime import LOCAL_TZ  # noqa: E402
from hub.service import BrokerLogin, IngestService  # noqa: E402
from hub.store import Store  # noqa: E402
from hub.supervision.service import start_supervision  # noqa: E402
from hub.verify import verify_store  # noqa: E402
from provisioning.hubkey import KEY_FILE, load_or_create_key  # noqa: E402
from provisioning.registry import Registry  # noqa: E402


def _now() -> datetime:
    return datetime.now(LOCAL_TZ)


def run(entries: int, threads: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        registry = Registry(data / "hub.sqlite")
        store = Store(data / "hub.sqlite")
        hub_key = load_or_create_key(data / KEY_FILE)
        ingest = IngestService(store, registry.public_key, hub_key, BrokerLogin("127.0.0.1", 1, "hub", "-"))
        desk = Desk.open(data, ingest, store.head, _now)
        supervision = start_supervision(data, ingest)
        with closing(sqlite3.connect(data / "hub.sqlite")) as conn, conn:
            conn.execute("CREATE TABLE IF NOT EXISTS sup_names (kind TEXT, code TEXT, name TEXT, dept_code TEXT)")
            conn.execute("INSERT INTO sup_names VALUES ('dept', 'D01', '市场监管局', NULL)")
        filed = _now() - timedelta(hours=1)

        def register(prefix: str, n: int, out: list[float]) -> None:
            with closing(sqlite3.connect(data / "hub.sqlite")) as conn:
                for i in range(n):
                    started = time.perf_counter()
                    desk.register_complaint(conn, NewComplaint("D01", "窗口推诿", "letter", filed,
                                                               complaint_id=f"{prefix}-{i}"), "bench")
                    out.append(time.perf_counter() - started)

        serial: list[float] = []
        cpu0, wall0 = time.process_time(), time.perf_counter()
        register("S", entries, serial)
        serial_wall, serial_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        parallel: list[list[float]] = [[] for _ in range(threads)]
        workers = [threading.Thread(target=register, args=(f"P{t}", entries // threads, parallel[t]))
                   for t in range(threads)]  # fmt: skip
        wall1 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        parallel_wall = time.perf_counter() - wall1
        together = [x for part in parallel for x in part]
        supervision.stop()
        ingest.checkpoint()
        verify_started = time.perf_counter()
        with closing(sqlite3.connect(data / "hub.sqlite")) as conn:
            keys = {str(a): bytes(k) for a, k in conn.execute("SELECT agent_id, public_key FROM agents")}
            report = verify_store(conn, keys.get, hub_key.public_key())
            seqs = [s for (s,) in conn.execute("SELECT seq FROM records ORDER BY id")]
        verify_s = time.perf_counter() - verify_started
        store.close()

    def ms(values: list[float], q: float) -> float:
        return round(statistics.quantiles(values, n=100)[int(q) - 1] * 1000, 2)

    return {
        "entries_serial": entries, "serial_per_s": round(entries / serial_wall, 1),
        "serial_process_cpu_ms_per_entry": round(serial_cpu / entries * 1000, 2),
        "serial_p50_ms": ms(serial, 50), "serial_p99_ms": ms(serial, 99),
        "threads": threads, "entries_parallel": len(together),
        "parallel_per_s": round(len(together) / parallel_wall, 1),
        "parallel_p99_ms": ms(together, 99),
        "chain_contiguous": seqs == list(range(1, len(seqs) + 1)),
        "verify_ok": report.ok, "verify_records": report.records, "verify_s": round(verify_s, 3),
        "loadavg": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the default output)")
    args = parser.parse_args()
    print(json.dumps(run(args.entries, args.threads)))


if __name__ == "__main__":
    main()
