"""The uplink against an in-memory link with scripted losses (the paho-harness shape, in-process).

A fake hub runs the real ingest decision; the link loses publishes, loses acks, refuses connects and
drops the connection at random. Whatever happens: every record reaches the hub exactly once, in order.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.link import Link, LinkDown
from agent.outbox import Outbox, OutboxLimits
from agent.uplink import Uplink, UplinkConfig, backoff_delay
from hub.ingest import StreamHead, decide
from shared import topics
from shared.timefmt import SHANGHAI
from simulator.cluster import wait_for

TS = "2026-11-26T10:00:00+08:00"


class FakeHub:
    """Stores what the real decision accepts; answers like the hub does."""

    def __init__(self, key: Ed25519PrivateKey):
        self.pub = key.public_key()
        self.records: dict[tuple[str, str], list[int]] = {}
        self.heads: dict[tuple[str, str], StreamHead] = {}
        self.hashes: dict[tuple[str, str, int], bytes] = {}
        self.lock = threading.Lock()

    def receive(self, agent: str, payload: bytes) -> dict[str, object] | None:
        with self.lock:
            d = decide(payload, agent, lambda a: self.pub, lambda a, s: self.heads.get((a, s)),
                       lambda a, s, first, last: {q: self.hashes[(a, s, q)] for q in range(first, last + 1)
                                           if (a, s, q) in self.hashes},
                       datetime.now(SHANGHAI))
            if d.kind == "store":
                assert d.agent_id and d.stream_id
                key = (d.agent_id, d.stream_id)
                for r in d.records:
                    self.records.setdefault(key, []).append(r.seq)
                    self.hashes[(d.agent_id, d.stream_id, r.seq)] = r.hash
                self.heads[key] = StreamHead(d.records[-1].seq, d.records[-1].hash)
            if d.kind == "quarantine":
                raise AssertionError(f"a good agent's batch was quarantined: {d.reason} {d.detail}")
            return {"stream": d.stream_id, "acked": d.ack_seq, "status": "gap" if d.kind == "gap" else "ok"}


class FakeLink:
    """An in-memory Link whose faults are scripted by a random generator."""

    def __init__(self, hub: FakeHub, agent: str, rng: random.Random, faults: dict[str, float],
                 on_message: Callable[[str, bytes], None], on_down: Callable[[str], None]):
        self.hub, self.agent, self.rng, self.faults = hub, agent, rng, faults
        self.on_message, self.on_down = on_message, on_down
        self._connected = False
        self.published: list[str] = []

    @property
    def connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        if self.rng.random() < self.faults.get("refuse", 0):
            raise LinkDown("scripted: broker refused")
        self._connected = True

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        if not self._connected:
            raise LinkDown("not connected")
        self.published.append(topic)
        if self.rng.random() < self.faults.get("drop_link", 0):
            self._connected = False
            self.on_down("scripted: connection dropped")
            raise LinkDown("scripted: connection dropped")
        if topic != topics.records(self.agent):
            return
        if self.rng.random() < self.faults.get("lose_publish", 0):
            return
        answer = self.hub.receive(self.agent, payload)
        if answer is not None and self.rng.random() >= self.faults.get("lose_ack", 0):
            self.on_message(topics.ack(self.agent), json.dumps(answer).encode())

    def close(self) -> None:
        self._connected = False


def run_uplink(tmp: Path, n: int, faults: dict[str, float], seed: int,
               config: UplinkConfig | None = None) -> tuple[FakeHub, Outbox]:
    key = Ed25519PrivateKey.generate()
    hub = FakeHub(key)
    rng = random.Random(seed)
    outbox = Outbox(tmp / f"o{seed}.sqlite", "a1", synchronous="OFF")
    links: list[FakeLink] = []

    def factory(on_message: Callable[[str, bytes], None], on_down: Callable[[str], None],
                will: tuple[str, bytes]) -> Link:
        links.append(FakeLink(hub, "a1", rng, faults, on_message, on_down))
        return links[-1]

    cfg = config or UplinkConfig(batch_records=7, window_batches=3, ack_timeout=0.05, backoff_initial=0.001,
                                 backoff_max=0.01, heartbeat_interval=0.5)
    uplink = Uplink(outbox, key, factory, cfg, rng=random.Random(seed))
    uplink.start()
    try:
        for i in range(n):
            outbox.append("case.step", TS, {"n": i + 1})
        wait_for(lambda: outbox.acked_seq == n, 30, f"all {n} records acknowledged")
    finally:
        uplink.stop()
    return hub, outbox


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), lose_publish=st.sampled_from([0, 0.1, 0.3]),
       lose_ack=st.sampled_from([0, 0.2, 0.5]), drop_link=st.sampled_from([0, 0.05, 0.15]),
       refuse=st.sampled_from([0, 0.3]))
def test_exactly_once_in_order_under_random_faults(
    tmp_path_factory: pytest.TempPathFactory, seed: int, lose_publish: float, lose_ack: float,
    drop_link: float, refuse: float,
) -> None:
    faults = {"lose_publish": lose_publish, "lose_ack": lose_ack, "drop_link": drop_link, "refuse": refuse}
    hub, outbox = run_uplink(tmp_path_factory.mktemp("up"), 60, faults, seed)
    (seqs,) = hub.records.values()
    assert seqs == list(range(1, 61)), faults
    assert outbox.stats().depth == 0
    outbox.close()


def test_a_clean_link_sends_once(tmp_path: Path) -> None:
    hub, outbox = run_uplink(tmp_path, 100, {}, seed=1)
    assert list(hub.records.values()) == [list(range(1, 101))]
    outbox.close()


def test_drain_is_paced(tmp_path: Path) -> None:
    cfg = UplinkConfig(batch_records=50, window_batches=4, drain_rate=400.0, live_threshold=10,
                       ack_timeout=1.0, heartbeat_interval=5.0)
    key = Ed25519PrivateKey.generate()
    hub = FakeHub(key)
    outbox = Outbox(tmp_path / "o.sqlite", "a1", synchronous="OFF")
    with outbox.transaction() as tx:
        for i in range(400):
            tx.append("case.step", TS, {"n": i})
    rng = random.Random(3)
    uplink = Uplink(outbox, key, lambda m, d, w: FakeLink(hub, "a1", rng, {}, m, d), cfg)
    import time
    start = time.monotonic()
    uplink.start()
    try:
        wait_for(lambda: outbox.acked_seq == 400, 30, "the paced drain")
        elapsed = time.monotonic() - start
    finally:
        uplink.stop()
    # 400 records at 400/s take about a second (unpaced: a few milliseconds)
    assert elapsed >= 0.8, elapsed
    outbox.close()


def test_appends_are_not_blocked_by_a_drain(tmp_path: Path) -> None:
    """A producer appending while a big backlog drains keeps appending (short transactions)."""
    import time
    key = Ed25519PrivateKey.generate()
    hub = FakeHub(key)
    outbox = Outbox(tmp_path / "o.sqlite", "a1", OutboxLimits(), synchronous="OFF")
    with outbox.transaction() as tx:
        for i in range(5000):
            tx.append("case.step", TS, {"n": i})
    rng = random.Random(5)
    uplink = Uplink(outbox, key, lambda m, d, w: FakeLink(hub, "a1", rng, {}, m, d),
                    UplinkConfig(batch_records=500, heartbeat_interval=5.0))
    uplink.start()
    worst = 0.0
    try:
        for i in range(200):
            t = time.perf_counter()
            outbox.append("case.accepted", TS, {"live": i})
            worst = max(worst, time.perf_counter() - t)
        wait_for(lambda: outbox.acked_seq == 5200, 30, "everything delivered")
    finally:
        uplink.stop()
    assert worst < 0.5, f"an append waited {worst:.3f} s behind the drain"
    outbox.close()


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    rng = random.Random(0)
    delays = [backoff_delay(a, 0.5, 30.0, rng) for a in range(1, 12)]
    assert all(0.25 <= d <= 30 for d in delays)
    assert delays[5] > delays[0]
    samples = {round(backoff_delay(4, 0.5, 30.0, rng), 6) for _ in range(20)}
    assert len(samples) > 10  # jittered: agents do not reconnect in lockstep
    assert max(backoff_delay(50, 0.5, 30.0, rng) for _ in range(50)) <= 30.0
