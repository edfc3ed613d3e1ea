"""Benchmark of the witnessed ledger (issue 11, items 3 and 4), in one process, no broker:

    python bench/ledger.py --records 200000 --json

prints one JSON object:

- ``records``: ledger leaves in the store (real signed batches of 500 records, one agent);
- ``audit_proofs_per_s``: inclusion proofs the hub's audit answer (:func:`hub.ledger_service.answer`)
  produces per second from the SQLite store, in requests of 128 records sampled over the whole log,
  plus one consistency proof each; ``audit_verify_per_s``: proofs the agent's :func:`agent.audit.judge`
  checks per second; ``audit_full_s``: a ``--full`` audit of every record (answer + parse + judge),
  extrapolated from the measured rate;
- ``witness_check_ms``: checking the store against one witnessed checkpoint (``verify --witness``);
- ``published_write_ms``: writing ``DATA/witness/published.json`` atomically (fsync), per checkpoint;
- ``evidence_build_ms`` / ``evidence_verify_ms`` / ``evidence_bytes`` for a case of ``--case-records``
  records.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.audit import judge
from hub.evidence import build_package
from hub.ingest import decide
from hub.ledger_service import answer
from hub.store import Store
from hub.witness import check_checkpoint, published_path, write_checkpoint_file
from provisioning.hubkey import KEY_FILE, load_or_create_key
from shared.batch import sign_batch
from shared.checkpoint import sign_checkpoint
from shared.evidence import verify_package
from shared.ledger import MAX_AUDIT_SEQS, AuditRequest, AuditResponse
from shared.record import ChainBuilder
from shared.timefmt import SHANGHAI

TS = "2026-12-03T10:00:00+08:00"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--case-records", type=int, default=12)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="xn-bench-ledger-"))
    agent_key = Ed25519PrivateKey.generate()
    hub_key = load_or_create_key(root / KEY_FILE)
    store = Store(root / "hub.sqlite", synchronous="OFF")
    conn = store._conn
    conn.execute("CREATE TABLE agents (agent_id TEXT PRIMARY KEY, public_key BLOB)")
    conn.execute("INSERT INTO agents VALUES ('a1', ?)", (agent_key.public_key().public_bytes_raw(),))
    conn.execute("CREATE TABLE case_events (case_id TEXT, record_id INTEGER, type TEXT, at TEXT)")
    chain = ChainBuilder("a1", "s1")
    hashes: list[tuple[int, bytes]] = []
    nonce = 0
    case_at = args.records // 2
    while len(hashes) < args.records:
        recs = [chain.append("case.step", TS, {"case_id": f"c{chain.seq % 1000}", "step_name": "审核"})
                for _ in range(min(500, args.records - len(hashes)))]
        nonce += 1
        payload = bytes(sign_batch(agent_key, "a1", "s1", recs, nonce, TS))
        with store.transaction() as st:
            d = decide(payload, "a1", lambda a: agent_key.public_key(), st.head, st.stored_hashes,
                       datetime.now(SHANGHAI))
            assert d.kind == "store" and d.header is not None
            first = st.frontier.size + 1
            st.add_batch(d.header, d.records, TS)
        for r in recs:
            hashes.append((r.seq, r.hash))
        if first <= case_at < first + len(recs):
            conn.executemany("INSERT INTO case_events VALUES ('CASE', ?, 'case.step', ?)",
                             [(case_at + i, TS) for i in range(args.case_records)])
    kept = sign_checkpoint(hub_key, "bench", store.frontier.size // 2, _root_at(store, store.frontier.size // 2), TS)
    cp = sign_checkpoint(hub_key, "bench", store.frontier.size, store.frontier.root(), TS)
    with store.transaction() as st:
        st.add_checkpoint(cp.size, cp.root, json.dumps(cp.to_json()), TS)
    rng = random.Random(1)
    ro = sqlite3.connect(f"file:{root / 'hub.sqlite'}?mode=ro", uri=True)
    requests = [AuditRequest(f"r{i}", "s1", tuple(sorted(rng.sample(hashes, MAX_AUDIT_SEQS))), (kept,))
                for i in range(args.requests)]
    t0 = time.perf_counter()
    answers = [AuditResponse.parse(answer(ro, "a1", AuditRequest.parse(r.to_bytes())).to_bytes()) for r in requests]
    t_answer = time.perf_counter() - t0
    t0 = time.perf_counter()
    for req, resp in zip(requests, answers):
        v = judge("a1", "s1", req.seqs, req.kept, [resp], hub_key.public_key())
        assert v.ok and v.checked == MAX_AUDIT_SEQS, v.problems[:3]
    t_judge = time.perf_counter() - t0
    proofs = args.requests * MAX_AUDIT_SEQS
    t0 = time.perf_counter()
    result = check_checkpoint(ro, cp, hub_key.public_key(), "bench")
    t_witness = time.perf_counter() - t0
    assert result.ok
    t0 = time.perf_counter()
    for _ in range(20):
        write_checkpoint_file(published_path(root), cp)
    t_publish = (time.perf_counter() - t0) / 20
    t0 = time.perf_counter()
    package = build_package(ro, root, "CASE")
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = verify_package(package, hub_key.public_key().public_bytes_raw())
    t_verify = time.perf_counter() - t0
    assert report.ok, report.problems
    per_proof = t_answer / proofs + t_judge / proofs
    out = {
        "records": store.frontier.size,
        "audit_proofs_per_s": round(proofs / t_answer),
        "audit_verify_per_s": round(proofs / t_judge),
        "audit_full_s": round(per_proof * store.frontier.size, 1),
        "witness_check_ms": round(t_witness * 1000, 2),
        "published_write_ms": round(t_publish * 1000, 2),
        "evidence_case_records": report.case_records,
        "evidence_records": report.records,
        "evidence_build_ms": round(t_build * 1000, 1),
        "evidence_verify_ms": round(t_verify * 1000, 1),
        "evidence_bytes": len(package),
    }
    ro.close()
    store.close()
    print(json.dumps(out) if args.json else "\n".join(f"{k:24} {v}" for k, v in out.items()))


def _root_at(store: Store, size: int) -> bytes:
    from shared.merkle import root_at

    return root_at(store.nodes, size)


if __name__ == "__main__":
    main()
