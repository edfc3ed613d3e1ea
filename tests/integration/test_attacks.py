"""Attacks and bad input against a running hub behind a real Mosquitto with per-agent ACLs.

Each bad batch must be rejected and quarantined with its reason, and the hub must go on storing
good batches afterwards.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from agent.runtime import load_key
from provisioning.registry import Registry
from shared import topics
from shared.batch import sign_batch
from shared.record import ChainBuilder, Chained
from shared.timefmt import SHANGHAI
from simulator.cluster import LocalCluster, wait_for

pytestmark = [pytest.mark.broker]


class Client:
    """A paho client logged in with an agent's (or the hub's) broker credentials."""

    def __init__(self, port: int, username: str, password: str, subscribe: list[str] = ()):  # type: ignore[assignment]
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{username}-{os.getpid()}-{random.random()}",
                             protocol=mqtt.MQTTv5)
        self.c.username_pw_set(username, password)
        ready = threading.Event()
        self.c.on_connect = lambda *a: ready.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert ready.wait(10)
        for t in subscribe:
            self.c.subscribe(t, qos=1)

    def _on_message(self, client: object, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def publish(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = LocalCluster(tmp_path_factory.mktemp("attacks"), ["a1", "a2", "a3"])
    c.setup()
    c.start_broker()
    c.start_hub()
    try:
        yield c
    finally:
        c.stop_all()


def login(c: LocalCluster, agent: str) -> tuple[str, str, Ed25519PrivateKey]:
    cfg = yaml.safe_load((c.agent_dir(agent) / "agent.yaml").read_text())
    return cfg["broker"]["username"], cfg["broker"]["password"], load_key(str(c.agent_dir(agent) / "agent.key"))


def quarantined(c: LocalCluster, reason: str, agent: str | None = None) -> int:
    conn = c.hub_db()
    try:
        sql = "SELECT COUNT(*) FROM quarantine WHERE reason = ?" + (" AND agent_id = ?" if agent else "")
        return int(conn.execute(sql, (reason, agent) if agent else (reason,)).fetchone()[0])
    finally:
        conn.close()


def head(c: LocalCluster, agent: str, stream: str) -> int:
    return c.stored_head(agent, stream)


NOW = datetime.now(SHANGHAI)


def ts(delta: timedelta = timedelta()) -> str:
    return (NOW + delta).isoformat()


class Stream:
    def __init__(self, agent: str, key: Ed25519PrivateKey, stream: str):
        self.agent, self.key, self.stream = agent, key, stream
        self.builder = ChainBuilder(agent, stream)
        self.nonce = 0

    def records(self, n: int) -> list[Chained]:
        return [self.builder.append("case.step", ts(), {"case_id": f"C{self.builder.seq + 1}", "step_name": "审核",
                                                          "action": "通过", "started_at": ts()}) for _ in range(n)]

    def batch(self, recs: list[Chained], key: Ed25519PrivateKey | None = None, sent_at: str | None = None) -> bytes:
        self.nonce += 1
        return bytes(sign_batch(key or self.key, self.agent, self.stream, recs, self.nonce, sent_at or ts()))


@pytest.fixture(scope="module")
def a1(hub: LocalCluster) -> Iterator[tuple[Client, Stream]]:
    user, password, key = login(hub, "a1")
    client = Client(hub.port, user, password, [topics.ack("a1")])
    stream = Stream("a1", key, "s-attack")
    client.publish(topics.records("a1"), stream.batch(stream.records(3)))
    wait_for(lambda: head(hub, "a1", "s-attack") == 3, 20, "a good first batch to be stored")
    yield client, stream
    client.close()


def test_good_batch_is_acked(hub: LocalCluster, a1: tuple[Client, Stream]) -> None:
    client, _ = a1
    wait_for(lambda: any(json.loads(p).get("acked") == 3 for t, p in client.messages), 10, "the ack for seq 3")


def test_batch_signed_with_another_key(hub: LocalCluster, a1: tuple[Client, Stream]) -> None:
    client, stream = a1
    before = quarantined(hub, "bad_signature", "a1")
    saved = (stream.builder.seq, stream.builder.head)
    client.publish(topics.records("a1"), stream.batch(stream.records(2), key=Ed25519PrivateKey.generate()))
    stream.builder.seq, stream.builder.head = saved
    wait_for(lambda: quarantined(hub, "bad_signature", "a1") == before + 1, 20, "bad_signature quarantine")
    assert head(hub, "a1", "s-attack") == 3
    wait_for(lambda: any(json.loads(p).get("status") == "rejected" for _, p in client.messages), 10,
             "a rejection sent back to the agent")


def test_body_altered_after_signing(hub: LocalCluster, a1: tuple[Client, Stream]) -> None:
    client, stream = a1
    before = quarantined(hub, "bad_signature", "a1")
    saved = (stream.builder.seq, stream.builder.head)
    raw = stream.batch(stream.records(3))
    stream.builder.seq, stream.builder.head = saved
    altered = raw.replace("审核".encode(), "批准".encode(), 1)
    assert altered != raw
    client.publish(topics.records("a1"), altered)
    wait_for(lambda: quarantined(hub, "bad_signature", "a1") == before + 1, 20, "altered body quarantined")
    assert head(hub, "a1", "s-attack") == 3


def test_old_batch_replayed(hub: LocalCluster, a1: tuple[Client, Stream]) -> None:
    client, stream = a1
    start = head(hub, "a1", "s-attack")
    old = stream.batch(stream.records(2), sent_at=ts(-timedelta(hours=3)))
    client.publish(topics.records("a1"), old)
    wait_for(lambda: head(hub, "a1", "s-attack") == start + 2, 20, "the batch's first delivery")
    client.publish(topics.records("a1"), old)
    wait_for(lambda: quarantined(hub, "replay", "a1") == 1, 20, "the replay to be quarantined")
    assert head(hub, "a1", "s-attack") == start + 2


def test_record_out_of_chain(hub: LocalCluster, a1: tuple[Client, Stream]) -> None:
    client, stream = a1
    saved = (stream.builder.seq, stream.builder.head)
    stream.builder.head = b"\x42" * 32
    client.publish(topics.records("a1"), stream.batch(stream.records(1)))
    stream.builder.seq, stream.builder.head = saved
    wait_for(lambda: quarantined(hub, "broken_chain", "a1") == 1, 20, "broken_chain quarantine")


def test_equivocation_raises_a_security_alert(hub: LocalCluster, a1: tuple[Client, Stream]) -> None:
    client, stream = a1
    hub_login = json.loads((hub.hub_dir / "hub-mqtt.json").read_text())
    watcher = Client(hub.port, hub_login["username"], hub_login["password"], [topics.ALERTS])
    try:
        fork = Stream("a1", stream.key, "s-attack")
        fork.builder.append("case.step", ts(), {"case_id": "FORGED"})  # a different seq 1
        forged = ChainBuilder("a1", "s-attack").append("case.step", ts(), {"case_id": "FORGED"})
        client.publish(topics.records("a1"), fork.batch([forged]))
        wait_for(lambda: quarantined(hub, "equivocation", "a1") == 1, 20, "equivocation quarantine")
        wait_for(lambda: any(json.loads(p).get("reason") == "equivocation" for _, p in watcher.messages), 10,
                 "the security alert on xn/v1/hub/alerts")
        conn = hub.hub_db()
        assert conn.execute("SELECT COUNT(*) FROM security_alerts WHERE kind = 'equivocation'").fetchone()[0] == 1
        conn.close()
    finally:
        watcher.close()


def test_unknown_agent(hub: LocalCluster) -> None:
    user, password, key = login(hub, "a3")
    Registry(hub.hub_dir / "hub.sqlite").revoke("a3")  # the broker still has its login until reload
    client = Client(hub.port, user, password)
    try:
        s = Stream("a3", key, "s1")
        client.publish(topics.records("a3"), s.batch(s.records(1)))
        wait_for(lambda: quarantined(hub, "unknown_agent", "a3") == 1, 20, "unknown_agent quarantine")
    finally:
        client.close()


def test_publishing_on_another_agents_topic_is_denied_by_the_broker(
    hub: LocalCluster, a1: tuple[Client, Stream]
) -> None:
    client, stream = a1
    user2, password2, key2 = login(hub, "a2")
    s2 = Stream("a2", key2, "s-victim")
    client.publish(topics.records("a2"), s2.batch(s2.records(2)))  # a1 posing on a2's topic
    # a sentinel from a2 itself, sent after, proves the hub has processed everything before it
    real = Client(hub.port, user2, password2)
    try:
        sentinel = Stream("a2", key2, "s-sentinel")
        real.publish(topics.records("a2"), sentinel.batch(sentinel.records(1)))
        wait_for(lambda: head(hub, "a2", "s-sentinel") == 1, 20, "a2's sentinel")
    finally:
        real.close()
    assert head(hub, "a2", "s-victim") == 0
    assert quarantined(hub, "identity_mismatch") == 0


def test_thousands_of_malformed_payloads(hub: LocalCluster, a1: tuple[Client, Stream]) -> None:
    client, stream = a1
    rng = random.Random(99)
    saved = (stream.builder.seq, stream.builder.head)
    valid = stream.batch(stream.records(3))
    stream.builder.seq, stream.builder.head = saved
    header = json.loads(valid.split(b"\n", 1)[0])
    payloads: list[bytes] = []
    for i in range(2000):
        kind = i % 5
        if kind == 0:
            payloads.append(rng.randbytes(rng.randint(0, 300)))
        elif kind == 1:
            payloads.append(valid[: rng.randint(0, len(valid) - 1)])
        elif kind == 2:
            field = rng.choice(sorted(header))
            bad = {**header, field: rng.choice([None, [], {}, "x", -1, True, 1.5])}
            payloads.append(json.dumps(bad).encode() + b"\n" + valid.split(b"\n", 1)[1])
        elif kind == 3:
            payloads.append(b'{"v":1}\n' + b"{}" * rng.randint(1, 50))
        else:
            payloads.append(b"\n".join([valid.split(b"\n", 1)[0], b"[1,2,3]", b"null", b"1e999"]))
    payloads.append(b"{" * (4 * 1024 * 1024 + 1))  # over the hub's limit (the broker's is a little higher)
    def reasons() -> dict[str, int]:
        conn = hub.hub_db()
        try:
            rows = conn.execute("SELECT reason, COUNT(*) FROM quarantine WHERE agent_id = 'a1' GROUP BY reason")
            return {r: int(n) for r, n in rows}
        finally:
            conn.close()

    before = reasons()
    for p in payloads:
        client.c.publish(topics.records("a1"), p, qos=1)
    # an agent's batches are decided in arrival order: once a good batch sent after the flood is
    # stored, every malformed payload before it was decided
    start = head(hub, "a1", "s-attack")
    client.publish(topics.records("a1"), stream.batch(stream.records(2)))
    wait_for(lambda: head(hub, "a1", "s-attack") == start + 2, 120, "a good batch after the flood")
    added = {r: n - before.get(r, 0) for r, n in reasons().items() if n != before.get(r, 0)}
    assert set(added) <= {"malformed", "bad_signature", "identity_mismatch"}, added
    # quarantine keeps the first 20 per agent and reason (before parsing: per rejection reason) in
    # each minute and counts the rest: thousands of payloads, a bounded number of rows
    assert 20 <= added["malformed"] <= 20 * 6, added


def test_quarantine_names_every_reason(hub: LocalCluster, a1: tuple[Client, Stream]) -> None:
    conn = hub.hub_db()
    try:
        rows = conn.execute("SELECT reason, detail FROM quarantine").fetchall()
    finally:
        conn.close()
    assert rows and all(detail for _, detail in rows)
