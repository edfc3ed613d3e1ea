"""The ingest service against hostile input, without a broker: one bad batch never rolls back
another; rejections are counted and quarantined within a limit; a flood is named in an alert."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.service import BrokerLogin, FairQueue, IngestConfig, IngestService, RateLimit
from hub.store import Store
from provisioning.identity import public_key_bytes
from shared import topics
from shared.batch import sign_batch
from shared.record import ChainBuilder
from shared.timefmt import SHANGHAI

T0 = 1_795_680_000.0


class FakeClient:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, int]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.sent.append((topic, json.loads(payload), qos))


@pytest.fixture
def hub(tmp_path: Path) -> tuple[IngestService, dict[str, Ed25519PrivateKey], FakeClient]:
    keys = {a: Ed25519PrivateKey.generate() for a in ("a1", "a2")}
    store = Store(tmp_path / "hub.sqlite")
    service = IngestService(store, lambda a: public_key_bytes(keys[a]) if a in keys else None,
                            Ed25519PrivateKey.generate(), BrokerLogin("127.0.0.1", 1, "hub", "x"),
                            IngestConfig(quarantine_keep=3), clock=lambda: T0)
    client = FakeClient()
    service._clients = {"records": client, "control": client}  # type: ignore[dict-item]
    return service, keys, client


def batch(agent: str, key: Ed25519PrivateKey, n: int = 3, stream: str = "s1") -> bytes:
    b = ChainBuilder(agent, stream)
    now = datetime.fromtimestamp(T0, SHANGHAI).isoformat()
    records = [b.append("case.step", now, {"case_id": f"C{i}"}) for i in range(n)]
    return bytes(sign_batch(key, agent, stream, records, 1, now))


def item(agent: str, payload: bytes) -> tuple[str, str, bytes, float]:
    return "records", topics.records(agent), payload, T0


def acks(client: FakeClient, agent: str) -> list[dict[str, Any]]:
    return [m for t, m, _q in client.sent if t == topics.ack(agent)]


def test_a_batch_that_fails_to_write_is_undone_alone(hub: tuple[IngestService, Any, FakeClient],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    service, keys, client = hub
    real_add = service.store.add_batch

    def add_batch(header: Any, records: Any, received_at: str) -> None:
        real_add(header, records, received_at)  # written, then the failure: the savepoint undoes it
        if header.agent == "a2":
            raise OverflowError("Python int too large to convert to SQLite INTEGER")

    monkeypatch.setattr(service.store, "add_batch", add_batch)
    service._process([item("a2", batch("a2", keys["a2"], 4)), item("a1", batch("a1", keys["a1"], 3))])
    store = service.store
    assert store.head("a2", "s1") is None and store.head("a1", "s1") is not None
    assert store.head("a1", "s1").head_seq == 3  # type: ignore[union-attr]
    assert store.count("records") == 3 and store.frontier.size == 3
    assert [(a["acked"], a["status"]) for a in acks(client, "a1")] == [(3, "ok")]
    assert acks(client, "a2") == []  # never acknowledged: the agent sends it again
    assert service.counters["errors_records"] == 1
    # the same a2 batch once the fault is gone: stored after a1's, the ledger continues
    monkeypatch.setattr(service.store, "add_batch", real_add)
    service._process([item("a2", batch("a2", keys["a2"], 4))])
    assert store.head("a2", "s1").head_seq == 4 and store.frontier.size == 7  # type: ignore[union-attr]


def test_huge_integers_in_a_header_are_quarantined_not_raised(hub: tuple[IngestService, Any, FakeClient]) -> None:
    service, keys, client = hub
    good = batch("a1", keys["a1"])
    header, rest = good.split(b"\n", 1)
    bad = []
    for field, value in (("first", 2**64), ("last", 2**53), ("nonce", -(2**70)), ("first", 10**5000 // 10**4700)):
        h = json.loads(header)
        h[field] = value
        bad.append(item("a1", json.dumps(h).encode() + b"\n" + rest))
    service._process([*bad, item("a1", good)])
    assert service.store.head("a1", "s1").head_seq == 3  # type: ignore[union-attr]
    assert service.counters["quarantine_malformed"] == 4 and service.counters["quarantine_suppressed"] == 1
    assert service.store.count("quarantine") == 3  # the first quarantine_keep per agent and reason
    assert service.counters["batches_store"] == 1


def test_rejections_are_counted_kept_within_the_limit_and_the_flood_named(
        hub: tuple[IngestService, Any, FakeClient]) -> None:
    service, _keys, client = hub
    deep = b'{"a":' + b"[" * 5_000 + b"]" * 5_000 + b"}"
    for _ in range(10):
        service._receive(client, topics.health("a2"), deep)  # type: ignore[arg-type]
    for payload in (b"\x00garbage", b'{"v":1}'):  # not a batch: no header line
        service._receive(client, topics.records("a2"), payload)  # type: ignore[arg-type]
    assert service.counters["rejected_health_too_deep"] == 10
    assert service.counters["rejected_records_not_batch"] == 2
    assert service.counters["quarantine_suppressed"] == 7 and service.counters["flood_alerts"] == 1
    assert service.backlog() == 5  # 3 heartbeats + 2 batches to quarantine, nothing else queued
    seen: list[tuple[str, dict[str, Any]]] = []
    service.listeners.append(lambda kind, data: seen.append((kind, data)))
    service._process([], service._take()[1])
    assert service.store.count("quarantine") == 5
    alerts = list(service.store.query("SELECT agent_id, kind, detail FROM security_alerts"))
    assert alerts and alerts[0][0] == "a2" and alerts[0][1] == "flood" and "a2" in alerts[0][2]
    assert any(t == topics.ALERTS and m["agent_id"] == "a2" for t, m, _q in client.sent)
    assert ("alert.security", {"reason": "flood", "agent_id": "a2", "detail": alerts[0][2],
                               "at": seen[0][1]["at"]}) in seen


def test_a_ping_flood_gets_one_pong_per_interval_and_no_extra_work(
        hub: tuple[IngestService, Any, FakeClient]) -> None:
    service, _keys, client = hub
    for ping in range(50):
        service._receive(client, topics.health("a1"), json.dumps({"ping": ping}).encode())  # type: ignore[arg-type]
    assert [m for t, m, _q in client.sent] == [{"pong": 0}]
    assert service.counters["pongs_suppressed"] == 49
    assert service.backlog() == 1  # the newest heartbeat replaces the waiting one


def test_an_exception_in_the_message_callback_is_counted_not_raised(
        hub: tuple[IngestService, Any, FakeClient]) -> None:
    service, _keys, client = hub

    def boom(topic: str, payload: bytes) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    service.topic_handlers.append(("xn/v1/agents/+/special", boom))
    service.rtc_handlers.append(lambda agent, leaf, payload: boom("", payload))

    class Message:
        topic = "xn/v1/agents/a1/special"
        payload = b"{}"

    service._on_message(client, None, Message())  # type: ignore[arg-type]
    Message.topic = "xn/v1/agents/a1/rtc/up/answer"
    service._on_message(client, None, Message())  # type: ignore[arg-type]
    Message.topic = None  # type: ignore[assignment]
    service._on_message(client, None, Message())  # type: ignore[arg-type]
    assert service.counters["errors_topic_handler"] == 1 and service.counters["errors_rtc_handler"] == 1
    assert service.counters["errors_on_message"] == 1


def test_fair_queue_serves_agents_in_turn_within_bounds() -> None:
    q = FairQueue(max_items=3, max_bytes=100)
    for i in range(5):
        q.put("flood", ("records", "t", b"x" * 10, float(i)))
    assert q.size == 3  # the flooder's excess is refused
    assert q.put("legit", ("records", "t", b"y", 9.0))
    assert not q.put("big", ("records", "t", b"z" * 101, 9.0))
    taken = q.take(3)
    assert [t[2] for t in taken] == [b"x" * 10, b"y", b"x" * 10]  # the legit batch does not wait behind all
    assert q.size == 1 and len(q.take(10)) == 1 and q.size == 0


def test_rate_limit_keeps_the_first_per_window() -> None:
    limit = RateLimit(keep=2, window=60)
    results = [limit.allow(("a", "r"), T0 + i) for i in range(4)]
    assert results == [(True, False), (True, False), (False, True), (False, False)]
    assert limit.allow(("b", "r"), T0) == (True, False)  # per key
    assert limit.allow(("a", "r"), T0 + 61) == (True, False)  # a new window


def test_the_counters_reach_the_metrics(hub: tuple[IngestService, Any, FakeClient]) -> None:
    from hub.webserver import ingest_collector

    service, _keys, client = hub
    service._receive(client, topics.status("a1"), b'{"state": 5}')  # type: ignore[arg-type]
    service.count("quarantine_suppressed", 4)
    service.count("loop_restarts")
    text = "\n".join(f.render() for f in ingest_collector(service))
    assert 'xiaoneng_ingest_rejected_total{reason="bad_field",topic="status"} 1' in text
    assert "xiaoneng_ingest_quarantine_suppressed_total 4" in text
    assert "xiaoneng_ingest_loop_restarts_total 1" in text
    assert 'reason="suppressed"' not in text
    assert "xiaoneng_mqtt_loop_alive 0" in text  # never started here
