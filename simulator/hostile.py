"""The hub under hostile input: one agent login floods every topic it may publish with malformed
payloads while another agent delivers its records — through a real Mosquitto configured by
``hub.broker`` and the hub's real ingest service (in this process, so its counters, its MQTT loop
and its memory can be watched).

The flood runs in a child process (``python -m simulator.hostile flood ...``): paho as fast as it
goes, QoS 0 except a share of the record-topic garbage sent with QoS 1 (it reaches the hub with
QoS 1 and competes with legitimate batches for the hub's session queue at the broker). The
legitimate agent signs batches as a real agent does (a window of unacknowledged batches, resend
after ``ack_timeout``) and measures each batch's time from publish to acknowledgement.

Used by ``tests/integration/test_hostile.py`` and ``bench/hostile.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from hub.broker import MAX_PACKET_SIZE, MosquittoBroker
from hub.ledger_service import LedgerService
from hub.service import BrokerLogin, IngestConfig, IngestService
from hub.store import Store
from provisioning import broker_files, identity
from provisioning.hubkey import KEY_FILE, load_or_create_key
from provisioning.registry import Registry
from shared import topics
from shared.batch import sign_batch
from shared.record import ChainBuilder, Chained
from shared.timefmt import SHANGHAI

#: Payloads above this size are sent once every ``HEAVY_EVERY`` (a 5 MiB payload each time would
#: measure the loopback, not the hub).
HEAVY = 16 * 1024
HEAVY_EVERY = 500
LEGIT = "legit-1"
EVIL = "evil-1"
STREAM = "s-legit"


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- the garbage ------------------------------------------------------------------------------


def garbage(agent: str, seed: int = 7) -> list[tuple[str, bytes, str]]:
    """``(topic, payload, category)`` of every kind of malformed payload, for ``agent``'s topics."""
    rnd = random.Random(seed)
    rec, hb, st = topics.records(agent), topics.health(agent), topics.status(agent)
    rtc = topics.rtc(agent, "up/answer")

    def deep(n: int) -> bytes:
        return b'{"a":' + b"[" * n + b"]" * n + b"}"

    header = {"v": 1, "agent": agent, "stream": "s1", "first": 1, "last": 1, "head": "0" * 64,
              "nonce": 1, "sent_at": "2026-12-03T08:00:00+08:00", "sig": "AAAA"}

    def batch(**fields: Any) -> bytes:
        return json.dumps({**header, **fields}).encode() + b'\n{"body":{},"prev":"x","seq":1}'

    items: list[tuple[str, bytes, str]] = []
    # every topic the ACL lets an agent publish on: records, health, status, rtc, audit requests, alerts
    for topic in (rec, hb, st, rtc, topics.audit_req(agent), topics.alert(agent)):
        items += [
            (topic, deep(100_000), "deep_nesting"),
            (topic, deep(5000), "deep_nesting"),
            (topic, deep(900), "deep_nesting"),
            (topic, deep(9), "deep_nesting"),
            (topic, deep(1500) + b"\n{}", "deep_nesting"),
            (topic, b"[" * 50_000, "deep_nesting"),
            (topic, b'{"x":' + b"9" * 5000 + b"}", "huge_number"),
            (topic, b'{"rtt_ms":1e400,"ping":1}', "non_finite"),
            (topic, b'{"rtt_ms":NaN,"ping":Infinity}', "non_finite"),
            (topic, b'{"state":"online","x":"\xff\xfe"}', "non_utf8"),
            (topic, bytes(rnd.getrandbits(8) for _ in range(300)), "random_bytes"),
            (topic, b'{"a":"' + b"x" * 200_000 + b'"}', "oversized"),
            (topic, b"[1,2,3]", "wrong_shape"),
            (topic, b'"online"', "wrong_shape"),
            (topic, b'{"state":["online"],"rtt_ms":"fast","ping":{"x":1}}', "wrong_shape"),
            (topic, b"", "empty"),
        ]
    items += [
        (rec, b"{" + b" " * (5 * 1024 * 1024) + b"}\n{}", "oversized"),
        (rec, batch(first=2**64, last=2**64), "huge_number"),
        (rec, batch(first=1, last=2**53 + 5), "huge_number"),
        (rec, batch(nonce=-(2**70)), "huge_number"),
        (rec, batch(agent=[[[["x"]]]]), "wrong_shape"),
        (rec, batch(), "bad_signature"),
        (rec, batch(v=1.5), "non_finite"),
        (rec, b'{"v":1}\n', "wrong_shape"),
        (hb, json.dumps({"ping": 1, "rtt_ms": 10**300}).encode(), "huge_number"),
        (hb, json.dumps({"ping": 2**60, "outbox_depth": -(2**63)}).encode(), "huge_number"),
        (hb, json.dumps({"ping": 1, "catching_up": "yes"}).encode(), "wrong_shape"),
        (st, json.dumps({"state": 1}).encode(), "wrong_shape"),
        (st, json.dumps({"state": "online", "x": {"y": {"z": [[[[[[[[1]]]]]]]]}}}).encode(), "deep_nesting"),
    ]
    return items


def flood(host: str, port: int, username: str, password: str, count: int, qos1_share: float,
          only: str | None = None) -> dict[str, Any]:
    """Publish ``count`` malformed payloads as fast as paho goes (only on topics ending in ``/only``,
    if given); return what was sent."""
    items = [item for item in garbage(username) if only is None or item[0].endswith(f"/{only}")]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"flood-{os.getpid()}", protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    client.max_inflight_messages_set(1000)
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.reconnect_delay_set(1, 1)  # an oversized packet gets the flooder disconnected
    client.connect(host, port, keepalive=30)
    client.loop_start()
    if not connected.wait(10):
        raise ConnectionError("the flooder could not connect")
    light = [item for item in items if len(item[1]) <= HEAVY]
    heavy = [item for item in items if HEAVY < len(item[1]) < MAX_PACKET_SIZE - 1024]
    beyond = [item for item in items if len(item[1]) >= MAX_PACKET_SIZE - 1024]  # once, mid-flood:
    # the broker disconnects the flooder for it (it reconnects after a second)
    rnd = random.Random(11)
    by_category: dict[str, int] = {}
    started = time.monotonic()
    last = None
    for i in range(count):
        if i == count // 2 and beyond:
            topic, payload, category = beyond[0]
        elif i % HEAVY_EVERY == HEAVY_EVERY - 1:
            topic, payload, category = heavy[(i // HEAVY_EVERY) % len(heavy)]
        else:
            topic, payload, category = light[i % len(light)]
        qos = 1 if topic.endswith("/records") and rnd.random() < qos1_share else 0
        while not connected.is_set() or not client.is_connected():
            connected.wait(0.05)
        info = client.publish(topic, payload, qos=qos)
        if info.rc == mqtt.MQTT_ERR_NO_CONN:
            connected.clear()
            continue
        last = info
        by_category[category] = by_category.get(category, 0) + 1
        if i % 2000 == 1999:
            # paho queues in memory what the socket does not take: let it drain now and then
            while len(client._out_packet) > 5000:  # noqa: SLF001 - paho has no public queue length
                time.sleep(0.005)
    if last is not None:
        deadline = time.monotonic() + 60
        while len(client._out_packet) and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.01)
    seconds = time.monotonic() - started
    client.disconnect()
    client.loop_stop()
    return {"payloads": count, "seconds": seconds, "by_category": by_category}


# -- the legitimate agent ---------------------------------------------------------------------


class LegitAgent:
    """Signs and publishes batches (QoS 1, a window of ``window`` unacknowledged batches, resend
    after ``ack_timeout``) and heartbeats with pings; records each batch's ack latency."""

    def __init__(self, host: str, port: int, username: str, password: str, key: Ed25519PrivateKey,
                 window: int = 8, ack_timeout: float = 10.0, records_per_batch: int = 5):
        self.key = key
        self.window = window
        self.ack_timeout = ack_timeout
        self.records_per_batch = records_per_batch
        self.builder = ChainBuilder(username, STREAM)
        self.chained: list[Chained] = []
        self.acked = 0
        self.sent_upto = 0
        self.nonce = 0
        self.resends = 0
        self.sent_at: dict[int, float] = {}  # last seq of a batch -> when first published
        self.latencies: list[tuple[float, float]] = []  # (published at, ms to ack)
        self.pongs = 0
        self._lock = threading.Lock()
        self._progress = time.monotonic()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"legit-{os.getpid()}",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        self.agent = username
        ready = threading.Event()
        self.client.on_connect = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not ready.wait(10):
            raise ConnectionError("the legitimate agent could not connect")
        self.client.subscribe(topics.ack(username), qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        now = time.monotonic()
        with self._lock:
            if "pong" in body:
                self.pongs += 1
                return
            acked = body.get("acked")
            if body.get("stream") == STREAM and isinstance(acked, int) and acked > self.acked:
                for last in sorted(s for s in self.sent_at if s <= acked):
                    published = self.sent_at.pop(last)
                    self.latencies.append((published, (now - published) * 1000))
                self.acked = acked
                self._progress = now

    def append(self, n: int) -> None:
        now = datetime.now(SHANGHAI).isoformat()
        for _ in range(n):
            self.chained.append(self.builder.append("case.step", now, {"case_id": f"C{self.builder.seq + 1}",
                                                                        "step_name": "审核"}))

    def step(self) -> None:
        """Send what the window allows; rewind after ``ack_timeout`` without progress."""
        now = time.monotonic()
        with self._lock:
            if self.sent_upto > self.acked and now - self._progress > self.ack_timeout:
                self.resends += 1
                self.sent_upto = self.acked
                self._progress = now
            inflight = math.ceil((self.sent_upto - self.acked) / self.records_per_batch)
            while inflight < self.window and self.sent_upto < len(self.chained):
                records = self.chained[self.sent_upto:self.sent_upto + self.records_per_batch]
                self.nonce += 1
                batch = sign_batch(self.key, self.agent, STREAM, records, self.nonce,
                                   datetime.now(SHANGHAI).isoformat())
                self.client.publish(topics.records(self.agent), bytes(batch), qos=1)
                self.sent_at.setdefault(records[-1].seq, now)
                if self.sent_upto == self.acked:
                    self._progress = now
                self.sent_upto = records[-1].seq
                inflight += 1

    def heartbeat(self, ping: int) -> None:
        body = {"agent": self.agent, "stream": STREAM, "ping": ping, "rtt_ms": 1, "outbox_depth":
                len(self.chained) - self.acked, "acked_seq": self.acked, "catching_up": False}
        self.client.publish(topics.health(self.agent), json.dumps(body).encode(), qos=0)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# -- the run ----------------------------------------------------------------------------------


@dataclass
class HostileResult:
    payloads: int
    payloads_per_s: float
    flood_seconds: float
    hub_loop_deaths: int
    loop_restarts: int
    legit_sent: int
    legit_stored: int
    legit_acked: int
    legit_lost: int
    legit_in_order: bool
    legit_resends: int
    legit_p50_ms_during_flood: float
    legit_p99_ms_during_flood: float
    legit_batches_during_flood: int
    hub_rss_before_mb: float
    hub_rss_peak_mb: float
    hub_rss_growth_mb: float
    broker_dropped_for_hub: bool
    broker_dropped_for_hub_control: bool
    quarantined_rows: int
    pongs: int
    counters: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Env:
    broker: MosquittoBroker
    registry: Registry
    hub_password: str
    passwords: dict[str, str]
    keys: dict[str, Ed25519PrivateKey]


def _setup(root: Path) -> _Env:
    data = root / "hub-data"
    data.mkdir(parents=True, exist_ok=True)
    registry = Registry(data / "hub.sqlite")
    registry.add_site("site1", "site1")
    hub_password = registry.set_service_user("hub", "hub")
    keys, passwords = {}, {}
    for agent in (LEGIT, EVIL):
        keys[agent] = identity.generate_key()
        passwords[agent] = registry.add_agent(agent, "site1", identity.public_key_bytes(keys[agent]))
    files = broker_files.write_broker_files(registry, broker_files.broker_dir(data))
    broker = MosquittoBroker(data, port=_free_port(), password_file=files.password_file,
                             acl_file=files.acl_file, persistence=False)
    return _Env(broker, registry, hub_password, passwords, keys)


@dataclass
class _Sampler:
    service: IngestService
    process: psutil.Process
    dead_samples: int = 0
    rss_peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.wait(0.05):
            if not self.service.loop_alive():
                self.dead_samples += 1
            self.rss_peak = max(self.rss_peak, self.process.memory_info().rss)

    def __enter__(self) -> _Sampler:
        self._thread = threading.Thread(target=self.run, name="hostile-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(math.ceil(q * len(ordered))) - 1)], 1)


@dataclass
class _Running:
    env: _Env
    store: Store
    service: IngestService
    ledger: LedgerService
    cleanup: list[Any] = field(default_factory=list)


def _start(root: Path, config: IngestConfig | None) -> Generator[_Running, None, None]:
    env = _setup(root)
    env.broker.start()
    store = Store(env.broker.data_dir / "hub.sqlite", synchronous="NORMAL")
    data = env.broker.data_dir
    service = IngestService(store, env.registry.public_key, load_or_create_key(data / KEY_FILE),
                            BrokerLogin(env.broker.host, env.broker.port, "hub", env.hub_password),
                            config or IngestConfig())
    # the audit requests and agent alerts go to the ledger service, as in the running hub
    ledger = LedgerService(service, data, data / "hub.sqlite")
    ledger.attach()
    service.start()
    ledger.start()
    try:
        yield _Running(env, store, service, ledger)
    finally:
        ledger.stop()
        service.stop()
        store.close()
        env.broker.stop()


def run(root: Path, payloads: int = 100_000, qos1_share: float = 0.2, config: IngestConfig | None = None,
        records_before: int = 200, drain_timeout: float = 120.0, only: str | None = None) -> HostileResult:
    """Start broker and hub under ``root``, flood (every topic, or ``only`` one), deliver the
    legitimate records; measure."""
    gen = _start(root, config)
    running = next(gen)
    try:
        return _measure(running, payloads, qos1_share, records_before, drain_timeout, only)
    finally:
        gen.close()


def _measure(r: _Running, payloads: int, qos1_share: float, records_before: int,
             drain_timeout: float, only: str | None = None) -> HostileResult:
    env, service = r.env, r.service
    legit = LegitAgent(env.broker.host, env.broker.port, LEGIT, env.passwords[LEGIT], env.keys[LEGIT])
    me = psutil.Process()
    try:
        # warm-up: the legitimate agent's first records stored and acknowledged before the flood
        legit.append(records_before)
        deadline = time.monotonic() + 60
        while legit.acked < records_before:
            legit.step()
            if time.monotonic() > deadline:
                raise AssertionError(f"warm-up: only {legit.acked} of {records_before} records acknowledged")
            time.sleep(0.01)
        rss_before = me.memory_info().rss
        argv = [sys.executable, "-m", "simulator.hostile", "flood", "--port", str(env.broker.port),
                "--user", EVIL, "--password", env.passwords[EVIL], "--count", str(payloads),
                "--qos1-share", str(qos1_share), *(["--only", only] if only else [])]
        env_vars = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        with _Sampler(service, me) as sampler:
            flood_started = time.monotonic()
            child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_vars)
            ping = 0
            next_beat = 0.0
            while child.poll() is None:
                legit.append(5)
                legit.step()
                now = time.monotonic()
                if now >= next_beat:
                    ping += 1
                    legit.heartbeat(ping)
                    next_beat = now + 1.0
                time.sleep(0.05)
            flood_ended = time.monotonic()
            out, err = child.communicate()
            if child.returncode != 0:
                raise RuntimeError(f"the flooder failed ({child.returncode}): {err.decode()[-2000:]}")
            sent = json.loads(out)
            during = len(legit.chained)
            deadline = time.monotonic() + drain_timeout
            while legit.acked < during and time.monotonic() < deadline:
                legit.step()
                time.sleep(0.02)
        flood_latencies = [ms for at, ms in legit.latencies if flood_started <= at <= flood_ended]
        conn = sqlite3.connect(f"file:{env.broker.data_dir / 'hub.sqlite'}?mode=ro", uri=True, timeout=10)
        try:
            seqs = [int(s) for (s,) in conn.execute(
                "SELECT seq FROM records WHERE agent_id = ? AND stream_id = ? ORDER BY id", (LEGIT, STREAM))]
            quarantined = int(conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])
        finally:
            conn.close()
        log_text = env.broker.log_file.read_text(errors="replace") if env.broker.log_file.exists() else ""
        counters = dict(service.counters)
        counters.update({f"ledger_{k}": v for k, v in r.ledger.counters.items()})
        return HostileResult(
            payloads=payloads,
            payloads_per_s=round(payloads / max(sent["seconds"], 1e-6)),
            flood_seconds=round(flood_ended - flood_started, 2),
            hub_loop_deaths=sampler.dead_samples + counters.get("loop_restarts", 0),
            loop_restarts=counters.get("loop_restarts", 0),
            legit_sent=during,
            legit_stored=len(seqs),
            legit_acked=legit.acked,
            legit_lost=during - len(set(seqs) & set(range(1, during + 1))),
            legit_in_order=seqs == list(range(1, len(seqs) + 1)),
            legit_resends=legit.resends,
            legit_p50_ms_during_flood=_percentile(flood_latencies, 0.50),
            legit_p99_ms_during_flood=_percentile(flood_latencies, 0.99),
            legit_batches_during_flood=len(flood_latencies),
            hub_rss_before_mb=round(rss_before / 2**20, 1),
            hub_rss_peak_mb=round(sampler.rss_peak / 2**20, 1),
            hub_rss_growth_mb=round(max(0, sampler.rss_peak - rss_before) / 2**20, 1),
            broker_dropped_for_hub="dropped for client xn-hub." in log_text,
            broker_dropped_for_hub_control="dropped for client xn-hub-control." in log_text,
            quarantined_rows=quarantined,
            pongs=legit.pongs,
            counters=counters,
        )
    finally:
        legit.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.hostile")
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("flood", help="publish malformed payloads as one agent login (a child process)")
    f.add_argument("--host", default="127.0.0.1")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--user", required=True)
    f.add_argument("--password", required=True)
    f.add_argument("--count", type=int, default=100_000)
    f.add_argument("--qos1-share", type=float, default=0.2)
    f.add_argument("--only", choices=("records", "health", "status", "answer"), default=None,
                   help="flood one topic only (default: all of them)")
    args = parser.parse_args(argv)
    result = flood(args.host, args.port, args.user, args.password, args.count, args.qos1_share, args.only)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
