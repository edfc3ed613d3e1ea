"""The outbox: durable, ordered, bounded, and atomic with the capture position."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.outbox import Outbox, OutboxLimits
from shared.errors import ConfigError, OutboxFullError
from shared.record import genesis_hash, verify_links

TS = "2026-11-26T10:00:00+08:00"


def test_append_read_ack_and_reopen(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite", "a1")
    for i in range(10):
        assert ob.append("case.accepted", TS, {"i": i}) == i + 1
    got = ob.read(0, 4)
    assert [r.seq for r in got] == [1, 2, 3, 4]
    assert ob.ack(4) == 4
    assert ob.ack(3) == 0  # an older ack changes nothing
    stream = ob.stream_id
    ob.close()
    ob = Outbox(tmp_path / "o.sqlite", "a1")
    assert ob.stream_id == stream and ob.acked_seq == 4 and ob.head_seq == 10
    assert ob.stats().depth == 6
    assert ob.append("case.accepted", TS, {"i": 10}) == 11
    records = ob.read(4, 100)
    first_prev = ob.read(0, 1)[0]
    assert first_prev.seq == 5
    ob.close()
    # the chain continued across the reopen
    full = Outbox(tmp_path / "o.sqlite", "a1")
    assert [r.seq for r in records] == list(range(5, 12))
    full.close()


def test_new_file_new_stream(tmp_path: Path) -> None:
    a = Outbox(tmp_path / "a.sqlite", "a1")
    b = Outbox(tmp_path / "b.sqlite", "a1")
    assert a.stream_id != b.stream_id
    a.close()
    b.close()


def test_chain_is_valid(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite", "a1")
    for i in range(50):
        ob.append("case.step", TS, {"i": i})
    recs = ob.read(0, 100)
    assert verify_links(genesis_hash("a1", ob.stream_id), [(r.data, r.hash) for r in recs]) == 50
    ob.close()


def test_transaction_is_atomic_with_cursor(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite", "a1")
    with ob.transaction() as tx:
        tx.append("case.accepted", TS, {"row": 1})
        tx.set_cursor("src", "pk=1")
    with pytest.raises(RuntimeError):
        with ob.transaction() as tx:
            tx.append("case.accepted", TS, {"row": 2})
            tx.set_cursor("src", "pk=2")
            raise RuntimeError("crash between insert and commit")
    assert ob.cursor("src") == "pk=1"
    assert ob.head_seq == 1
    # the chain head rolled back too: the next append is seq 2, linked to seq 1
    assert ob.append("case.accepted", TS, {"row": 2}) == 2
    recs = ob.read(0, 10)
    assert verify_links(genesis_hash("a1", ob.stream_id), [(r.data, r.hash) for r in recs]) == 2
    ob.close()


def test_bound_refuses_and_alarms_never_drops(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite", "a1", OutboxLimits(max_records=10, alarm_ratio=0.8))
    for i in range(8):
        ob.append("case.step", TS, {"i": i})
    assert ob.stats().alarm and not ob.stats().full
    ob.append("case.step", TS, {"i": 8})
    ob.append("case.step", TS, {"i": 9})
    with pytest.raises(OutboxFullError, match="full"):
        ob.append("case.step", TS, {"i": 10})
    assert ob.full_refusals == 1
    assert ob.stats().depth == 10 and ob.stats().full
    ob.ack(5)
    assert ob.append("case.step", TS, {"i": 10}) == 11
    ob.close()


def test_other_agents_outbox_refused(tmp_path: Path) -> None:
    Outbox(tmp_path / "o.sqlite", "a1").close()
    with pytest.raises(ConfigError, match="belongs to agent 'a1'"):
        Outbox(tmp_path / "o.sqlite", "a2")


def test_nonce_persists(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite", "a1")
    assert [ob.next_nonce() for _ in range(3)] == [1, 2, 3]
    ob.close()
    assert Outbox(tmp_path / "o.sqlite", "a1").next_nonce() == 4


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["append", "ack", "reopen"]), st.integers(0, 5)), max_size=40))
def test_invariants_under_random_operations(tmp_path_factory: pytest.TempPathFactory, ops: list) -> None:
    path = tmp_path_factory.mktemp("ob") / "o.sqlite"
    ob = Outbox(path, "a1")
    appended = acked = 0
    for op, n in ops:
        if op == "append":
            for _ in range(n):
                appended = ob.append("case.step", TS, {"n": appended + 1})
        elif op == "ack":
            acked = max(acked, min(appended, acked + n))
            ob.ack(acked)
        else:
            ob.close()
            ob = Outbox(path, "a1")
    remaining = ob.read(0, 10_000)
    assert [r.seq for r in remaining] == list(range(acked + 1, appended + 1))
    assert ob.stats().depth == appended - acked
    ob.close()
