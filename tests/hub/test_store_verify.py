"""The store and ``verify``: a clean store verifies; each kind of tampering is named precisely."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.ingest import decide
from hub.store import Store, leaf_data
from hub.verify import verify_store
from shared.batch import sign_batch
from shared.checkpoint import sign_checkpoint
from shared.merkle import inclusion_proof, leaf_hash, root_at, verify_inclusion
from shared.record import ChainBuilder
from shared.timefmt import SHANGHAI

AGENT_KEY = Ed25519PrivateKey.generate()
HUB_KEY = Ed25519PrivateKey.generate()
TS = "2026-11-26T10:00:00+08:00"


def fill(path: Path, streams: dict[str, int], batch: int = 7) -> Store:
    store = Store(path)
    for stream, n in streams.items():
        b = ChainBuilder("a1", stream)
        recs = [b.append("case.step", TS, {"case_id": f"{stream}-{i}", "step_name": "审核"}) for i in range(n)]
        for i in range(0, n, batch):
            payload = bytes(sign_batch(AGENT_KEY, "a1", stream, recs[i:i + batch], i, TS))
            with store.transaction() as st:
                d = decide(payload, "a1", lambda a: AGENT_KEY.public_key(), st.head, st.stored_hashes,
                           datetime.now(SHANGHAI))
                assert d.kind == "store", d
                st.add_batch(d.header, d.records, TS)
        cp = sign_checkpoint(HUB_KEY, "test-hub", store.frontier.size, store.frontier.root(), TS)
        with store.transaction() as st:
            st.add_checkpoint(cp.size, cp.root, json.dumps(cp.to_json()), TS)
    return store


def check(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    pub = AGENT_KEY.public_key().public_bytes_raw()
    report = verify_store(conn, lambda a: pub if a == "a1" else None, HUB_KEY.public_key())
    conn.close()
    return report.problems


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "hub.sqlite"
    fill(path, {"s1": 61, "s2": 40}).close()
    return path


def test_clean_store_verifies(db: Path) -> None:
    assert check(db) == []


def edit(db: Path, sql: str, params: tuple = ()) -> None:
    conn = sqlite3.connect(db)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_altered_record_bytes(db: Path) -> None:
    edit(db, "UPDATE records SET raw = replace(raw, '审核', '批准') WHERE id = 17")
    problems = check(db)
    assert any("record #17" in p and "altered" in p for p in problems), problems


def test_altered_record_and_its_hash(db: Path) -> None:
    conn = sqlite3.connect(db)
    raw = bytes(conn.execute("SELECT raw FROM records WHERE id = 20").fetchone()[0])
    raw = raw.replace("审核".encode(), "批准".encode())
    from shared.record import record_hash
    conn.execute("UPDATE records SET raw = ?, hash = ? WHERE id = 20", (raw, record_hash(raw)))
    conn.commit()
    conn.close()
    problems = check(db)
    assert any("record #21" in p and "does not link" in p for p in problems), problems
    assert any("record #20" in p and "leaf" in p for p in problems), problems


def test_deleted_record(db: Path) -> None:
    edit(db, "DELETE FROM records WHERE id = 30")
    problems = check(db)
    assert any("#30" in p and "missing" in p for p in problems), problems


def test_altered_ledger_node(db: Path) -> None:
    edit(db, "UPDATE ledger_nodes SET hash = zeroblob(32) WHERE level = 4 AND idx = 1")
    problems = check(db)
    assert any("level 4 index 1" in p for p in problems), problems


def test_forged_checkpoint(db: Path) -> None:
    edit(db, "UPDATE checkpoints SET body = replace(body, 'test-hub', 'evil-hub')")
    problems = check(db)
    assert any("checkpoint" in p for p in problems), problems


def test_batch_header_swapped(db: Path) -> None:
    edit(db, "UPDATE batches SET header = replace(header, '\"nonce\":0', '\"nonce\":9') WHERE id = 1")
    problems = check(db)
    assert any("batch #1" in p and "signature" in p for p in problems), problems


@pytest.mark.parametrize("size", [1, 2, 7, 8, 15, 16, 17, 31, 33, 64, 101])
def test_inclusion_proofs_from_the_stored_nodes(tmp_path: Path, size: int) -> None:
    store = fill(tmp_path / "h.sqlite", {"s1": size}, batch=5)
    root = store.frontier.root()
    assert root_at(store.nodes, size) == root
    rows = list(store.query("SELECT id, agent_id, stream_id, seq, hash FROM records ORDER BY id"))
    for rid, agent, stream, seq, digest in rows:
        proof = inclusion_proof(rid - 1, size, store.nodes)
        verify_inclusion(leaf_hash(leaf_data(agent, stream, seq, bytes(digest))), rid - 1, size, proof, root)
    store.close()


def test_frontier_restored_after_reopen(tmp_path: Path) -> None:
    store = fill(tmp_path / "h.sqlite", {"s1": 45})
    root = store.frontier.root()
    store.close()
    again = Store(tmp_path / "h.sqlite")
    assert again.frontier.size == 45 and again.frontier.root() == root
    again.close()
