"""A connected agent is never shown offline because the hub is busy; its ``catching_up`` flag reaches
the hub at once (real Mosquitto, real store, the ingest service in this process)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.service import BrokerLogin, IngestConfig, IngestService
from hub.store import Store
from shared import topics
from shared.batch import sign_batch
from shared.record import ChainBuilder
from shared.timefmt import SHANGHAI
from tests.support.broker import RunningBroker, start_test_broker
from tests.support.wait import wait_until

pytestmark = [pytest.mark.broker]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[RunningBroker, IngestService]]:
    broker = start_test_broker(tmp_path, ["a1", "a2"])
    store = Store(broker.data_dir / "hub.sqlite")
    service = IngestService(
        store, broker.registry.public_key, Ed25519PrivateKey.generate(),
        BrokerLogin(broker.host, broker.port, broker.hub.username, broker.hub.password),
        IngestConfig(offline_after_s=2.0, catching_up_expiry_s=4.0),
    )
    service.start()
    try:
        yield broker, service
    finally:
        service.stop()
        store.close()
        broker.close()


def _link(path: Path, agent: str) -> tuple[int | None, list[int]]:
    conn = sqlite3.connect(path, timeout=10)
    try:
        row = conn.execute("SELECT online FROM agent_link WHERE agent_id = ?", (agent,)).fetchone()
        history = [int(r[0]) for r in conn.execute(
            "SELECT online FROM link_history WHERE agent_id = ? ORDER BY rowid", (agent,))]
        return (None if row is None else int(row[0])), history
    finally:
        conn.close()


def _heartbeat(**fields: object) -> bytes:
    return json.dumps({"ping": 1, **fields}).encode()


def test_heartbeats_are_not_starved_by_a_flood_of_records_and_a_busy_database(
        hub: tuple[RunningBroker, IngestService]) -> None:
    broker, service = hub
    db = broker.data_dir / "hub.sqlite"
    agent = broker.probe("a1")
    agent.publish(topics.health("a1"), _heartbeat())
    wait_until(lambda: _link(db, "a1")[0] == 1, 10, message="the first heartbeat stored")

    # The hub is busy: another writer (a long supervision commit) holds the database while the
    # agent floods it with record batches; the agent keeps sending heartbeats all along.
    busy = sqlite3.connect(db, timeout=10, isolation_level=None)
    busy.execute("BEGIN IMMEDIATE")
    builder = ChainBuilder("a1", "s-flood")
    key = broker.keys["a1"]
    sent = 0
    held_until = time.monotonic() + 4 * service.config.offline_after_s
    nonce = 0
    while time.monotonic() < held_until or nonce < 300:
        nonce += 1
        now = datetime.now(SHANGHAI).isoformat()
        records = [builder.append("case.step", now, {"case_id": f"C{builder.seq + 1}"})
                   for _ in range(20)]
        batch = sign_batch(key, "a1", "s-flood", records, nonce, now)
        agent.publish(topics.records("a1"), bytes(batch), qos=0)
        sent += len(records)
        if nonce % 10 == 0:
            agent.publish(topics.health("a1"), _heartbeat(), qos=0)
    assert service.backlog() > 50  # records are waiting behind the busy database
    busy.execute("COMMIT")
    busy.close()

    def drained() -> bool:
        agent.publish(topics.health("a1"), _heartbeat(), qos=0)
        return service.store.head("a1", "s-flood") is not None and \
            service.store.head("a1", "s-flood").head_seq == sent  # type: ignore[union-attr]

    wait_until(drained, 120, interval=0.3, message="the flood stored")
    online, history = _link(db, "a1")
    assert online == 1 and 0 not in history  # never marked offline meanwhile
    assert service.heard("a1") is not None


class _Message:
    def __init__(self, topic: str, payload: bytes):
        self.topic, self.payload = topic, payload


class _Client:
    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        pass


def test_catching_up_follows_the_heartbeat_and_the_link(tmp_path: Path) -> None:
    """As paho's network thread delivers the messages (no queue, no database involved)."""
    clock = {"now": 1_795_680_000.0}
    store = Store(tmp_path / "hub.sqlite")
    service = IngestService(store, lambda _a: None, Ed25519PrivateKey.generate(),
                            BrokerLogin("127.0.0.1", 1, "hub", "x"),
                            IngestConfig(catching_up_expiry_s=120.0), clock=lambda: clock["now"])

    def deliver(topic: str, payload: bytes) -> None:
        service._on_message(_Client(), None, _Message(topic, payload))  # type: ignore[arg-type]

    deliver(topics.health("a1"), _heartbeat(catching_up=True))
    deliver(topics.health("a2"), _heartbeat(catching_up=False))
    assert service.catching_up() == frozenset({"a1"})
    deliver(topics.health("a2"), _heartbeat(catching_up=True))
    assert service.catching_up() == frozenset({"a1", "a2"})
    deliver(topics.health("a1"), _heartbeat(catching_up=False))
    assert service.catching_up() == frozenset({"a2"})
    deliver(topics.status("a2"), json.dumps({"state": "offline"}).encode())
    assert service.catching_up() == frozenset()  # its link went offline
    deliver(topics.health("a1"), _heartbeat(catching_up=True))
    clock["now"] += 100
    deliver(topics.records("a1"), b"a batch")  # a busy agent: records, no heartbeat for a while
    clock["now"] += 100
    assert service.catching_up() == frozenset({"a1"}) and service.heard("a1") == clock["now"] - 100
    clock["now"] += 21
    assert service.catching_up() == frozenset()  # nothing heard for longer than the expiry
    assert service.backlog() >= 1  # the batch waits for the worker (never started here)
    store.close()
