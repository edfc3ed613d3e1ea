"""The hub's ingest service: MQTT in, verified records stored, acknowledgements out.

paho's network thread only queues what arrives. One worker thread takes queued messages in groups,
decides each batch (:func:`hub.ingest.decide`), writes the whole group in one transaction, and
publishes the acknowledgements only after that transaction committed. The same thread keeps the
agents' link state (status, heartbeats, offline after silence) and signs ledger checkpoints.

Liveness never waits behind records: status and heartbeat messages go to a queue of their own that
the worker empties before every group of record batches, and the network thread notes the time of
*every* message from an agent (:meth:`IngestService.heard`), so an agent whose records or
heartbeats are still queued while the hub is busy (a history import, a supervision catch-up) is
never taken for silent. The network thread also keeps each agent's last ``catching_up`` flag
(:meth:`IngestService.catching_up`): the supervision holds the time rules of those agents'
departments.

Hostile input (any agent login may publish anything): every callback boundary catches and counts
what it raises (``counters["errors_<boundary>"]``); paho's network loop runs in a thread of ours
that starts a fresh client if the loop ever dies (``loop_restarts``, a log line, an
``alert.security`` event); record payloads are rejected by size and first byte before anything
parses them; heartbeats and status are parsed by a strict, bounded schema (:mod:`hub.control`);
each agent's record batches wait in a queue of its own, served round-robin and bounded (a flooding
agent loses its own excess, counted, and is named in an alert); each batch is decided and written
in its own savepoint inside the group's transaction; quarantine keeps the first
``quarantine_keep`` messages per agent and reason per window and counts the rest.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.control import MAX_HEALTH_BYTES, Rejected, parse_health, parse_status, shallow_object
from hub.ingest import Decision, LookupFailed, decide
from hub.store import Quarantined, Store
from shared import topics
from shared.batch import MAX_BYTES
from shared.checkpoint import sign_checkpoint
from shared.rtcsignal import MAX_PAYLOAD as MAX_RTC_PAYLOAD
from shared.timefmt import SHANGHAI, iso_local

log = logging.getLogger("xiaoneng.hub.ingest")

Listener = Callable[[str, dict[str, Any]], None]
#: The hub's broker connections (see ``IngestService._clients``).
ROLES = ("records", "control")
#: ``(kind, topic, payload, received)``: one message as the network thread queued it.
Item = tuple[str, str, bytes, float]


@dataclass(frozen=True)
class BrokerLogin:
    host: str
    port: int
    username: str
    password: str
    client_id: str = "xn-hub"
    keepalive: int = 15


@dataclass(frozen=True)
class IngestConfig:
    origin: str = "xiaoneng-hub"
    replay_window_s: float = 600.0
    #: Nothing at all heard from a connected agent for this long (three heartbeats): offline. A link
    #: that really broke is announced sooner by the broker's last will (1.5 × keepalive).
    offline_after_s: float = 30.0
    #: An agent's last ``catching_up: true`` stands until it says otherwise, its link goes offline,
    #: or nothing was heard from it for this long.
    catching_up_expiry_s: float = 120.0
    checkpoint_interval_s: float = 10.0
    history_interval_s: float = 60.0
    health_event_interval_s: float = 5.0  # at most one "link.health" event per agent per interval
    max_group: int = 64
    #: The largest record batch accepted (the broker's ``max_packet_size`` is set a little above).
    max_payload: int = MAX_BYTES
    shared_subscription: bool = False
    #: Quarantine keeps the first ``quarantine_keep`` messages per agent and reason in every
    #: ``quarantine_window_s``; the rest are counted (``quarantine_suppressed``), not stored.
    quarantine_keep: int = 20
    quarantine_window_s: float = 60.0
    #: Record batches waiting per agent (count and bytes); beyond either, that agent's new batches
    #: are dropped (``flood_dropped``; a well-behaved agent resends what was never acknowledged).
    agent_queue_max: int = 20_000
    agent_queue_bytes: int = 64 * 1024 * 1024
    #: At most one "pong" per agent per interval (a ping flood gets no answer flood).
    pong_interval_s: float = 0.25
    #: At most one flood alert per agent per interval.
    flood_alert_interval_s: float = 60.0
    #: MQTT 5 Receive Maximum the hub asks for: QoS 1 messages the broker may send it unacknowledged.
    receive_maximum: int = 65535


class WriteTurn:
    """First come, first served among the threads that write the hub's database in this process.

    SQLite lets one writer in at a time, and a writer that finds the database locked sleeps and
    retries: against the ingest's back-to-back transactions during an import it would nearly never
    find the lock free (the supervision's commits waited minutes). Writers that take a turn here
    before ``BEGIN`` are served in arrival order. Re-entrant for the thread holding the turn."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0
        self._serving = 0
        self._owner: int | None = None
        self._depth = 0

    def __enter__(self) -> WriteTurn:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return self
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._cond.wait()
            self._owner, self._depth = me, 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._serving += 1
                self._cond.notify_all()


class KeyCache:
    """Agents' public keys from the registry, re-read on a miss and every ``ttl`` seconds."""

    def __init__(self, load: Callable[[str], bytes | None], clock: Callable[[], float], ttl: float = 15.0):
        self._load = load
        self._clock = clock
        self._ttl = ttl
        self._keys: dict[str, tuple[Ed25519PublicKey | None, float]] = {}

    def __call__(self, agent_id: str) -> Ed25519PublicKey | None:
        now = self._clock()
        hit = self._keys.get(agent_id)
        if hit is not None and now - hit[1] < self._ttl and (hit[0] is not None or now - hit[1] < 2):
            return hit[0]
        raw = self._load(agent_id)
        key = Ed25519PublicKey.from_public_bytes(raw) if raw else None
        self._keys[agent_id] = (key, now)
        return key


class FairQueue:
    """Each agent's record batches in a queue of its own, taken round-robin (one batch per agent
    per turn), bounded per agent by count and bytes. Not thread-safe: the service holds its lock."""

    def __init__(self, max_items: int, max_bytes: int):
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._queues: dict[str, deque[Item]] = {}
        self._bytes: dict[str, int] = {}
        self._turn: deque[str] = deque()  # agents with something waiting, in serving order
        self.size = 0

    def put(self, agent: str, item: Item) -> bool:
        """Queue ``item``; False (not queued) if the agent's queue is full."""
        q = self._queues.get(agent)
        if q is None:
            q = self._queues[agent] = deque()
            self._bytes[agent] = 0
        if len(q) >= self.max_items or self._bytes[agent] + len(item[2]) > self.max_bytes:
            return False
        if not q:
            self._turn.append(agent)
        q.append(item)
        self._bytes[agent] += len(item[2])
        self.size += 1
        return True

    def take(self, n: int) -> list[Item]:
        """Up to ``n`` items, one per agent per round, each agent's in arrival order."""
        out: list[Item] = []
        while len(out) < n and self._turn:
            agent = self._turn.popleft()
            q = self._queues[agent]
            item = q.popleft()
            self._bytes[agent] -= len(item[2])
            self.size -= 1
            out.append(item)
            if q:
                self._turn.append(agent)
            else:
                del self._queues[agent], self._bytes[agent]
        return out


class RateLimit:
    """Keep the first ``keep`` events per key in every ``window`` seconds; count the rest.

    ``allow(key, now)`` is True for a kept event. ``suppressed`` counts the others; ``starts``
    reports (once per key and window) when a key begins to be suppressed. Thread-safe."""

    def __init__(self, keep: int, window: float):
        self.keep = keep
        self.window = window
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def allow(self, key: tuple[str, str], now: float) -> tuple[bool, bool]:
        """``(kept, first_suppressed)``: whether to keep this one; whether it is the first one of
        its window that is not kept (the moment to raise an alert)."""
        with self._lock:
            start, count = self._seen.get(key, (now, 0))
            if not 0 <= now - start < self.window:
                start, count = now, 0
            count += 1
            self._seen[key] = (start, count)
            if len(self._seen) > 10_000:  # keys come from agent logins; never let them pile up
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window}
            return count <= self.keep, count == self.keep + 1


class IngestService:
    def __init__(
        self,
        store: Store,
        public_key_of: Callable[[str], bytes | None],
        hub_key: Ed25519PrivateKey,
        login: BrokerLogin,
        config: IngestConfig | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.config = config or IngestConfig()
        self.login = login
        self._hub_key = hub_key
        self._clock = clock
        self._keys = KeyCache(public_key_of, clock)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._records = FairQueue(self.config.agent_queue_max, self.config.agent_queue_bytes)
        self._control: dict[tuple[str, str], Item] = {}  # the latest status / heartbeat per agent
        self._rejects: list[Quarantined] = []  # rejected before parsing, to be quarantined
        self._alerts: deque[tuple[str, str | None, str]] = deque(maxlen=1000)  # (reason, agent, detail)
        self._quarantine_limit = RateLimit(self.config.quarantine_keep, self.config.quarantine_window_s)
        self._last_flood_alert: dict[str, float] = {}
        self._last_pong: dict[str, float] = {}
        self._heard: dict[str, float] = {}
        self._catching: dict[str, bool] = {}
        #: Take a turn here around every write transaction on the hub database (see WriteTurn).
        self.write_turn = WriteTurn()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._watch: threading.Thread | None = None
        #: Two broker connections, each with its own paho network thread: "records" (record
        #: batches, QoS 1, the persistent session ``login.client_id``) and "control" (status,
        #: heartbeats, video signalling, ``topic_handlers``; ``login.client_id + "-control"``). A
        #: flood on one kind of topic never queues in front of the other at the broker.
        self._clients: dict[str, mqtt.Client] = {}
        self._ready = {role: threading.Event() for role in ROLES}
        self.listeners: list[Listener] = []
        #: ``handler(agent_id, leaf, payload)`` for messages on ``xn/v1/agents/{id}/rtc/up/{leaf}``,
        #: called from paho's network thread (WebRTC signalling: keep it short).
        self.rtc_handlers: list[Callable[[str, str, bytes], None]] = []
        #: ``(topic filter, handler(topic, payload))``: subscribed at connect (QoS 1) and called
        #: from paho's network thread for matching messages (keep it short: queue the work).
        self.topic_handlers: list[tuple[str, Callable[[str, bytes], None]]] = []
        #: Everything counted: outcomes, rejections (``rejected_<topic kind>_<reason>``), errors
        #: caught at a boundary (``errors_<boundary>``), ``loop_restarts``, ``flood_dropped``,
        #: ``quarantine_suppressed``, ``flood_alerts``, ``pongs_suppressed``. Thread-safe through
        #: :meth:`count`.
        self.counters: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self._last_history: dict[str, float] = {}
        self._last_health_event: dict[str, float] = {}
        self._last_checkpoint_size = -1
        self._next_checkpoint = 0.0
        self._next_offline_check = 0.0

    def count(self, key: str, n: int = 1) -> None:
        with self._count_lock:
            self.counters[key] += n

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, connect_timeout: float = 15.0) -> None:
        self._worker = threading.Thread(target=self._work, name="xn-hub-ingest", daemon=True)
        self._worker.start()
        for role in ROLES:
            self._clients[role] = self._new_client(role)
        self._watch = threading.Thread(target=self._supervise, name="xn-hub-watch", daemon=True)
        self._watch.start()
        deadline = time.monotonic() + connect_timeout
        for role in ROLES:
            if not self._ready[role].wait(max(0.0, deadline - time.monotonic())):
                raise ConnectionError(
                    f"hub could not connect to the broker at {self.login.host}:{self.login.port} "
                    f"as {self.login.username!r} within {connect_timeout} s ({role} connection)"
                )

    def _client_id(self, role: str) -> str:
        return self.login.client_id if role == "records" else f"{self.login.client_id}-{role}"

    def _new_client(self, role: str) -> mqtt.Client:
        """A paho client for ``role``, connecting in its own network thread (``loop_start``)."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self._client_id(role), protocol=mqtt.MQTTv5, userdata=role,
        )
        client.username_pw_set(self.login.username, self.login.password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 5)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 24 * 3600
        props.ReceiveMaximum = self.config.receive_maximum
        client.connect_async(
            self.login.host, self.login.port, keepalive=self.login.keepalive, clean_start=False,
            properties=props,
        )
        client.loop_start()
        return client

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.join(10)
            self._watch = None
        for client in self._clients.values():
            client.disconnect()
            client.loop_stop()
        with self._wake:
            self._wake.notify_all()
        if self._worker is not None:
            self._worker.join(30)
            self._worker = None

    @property
    def connected(self) -> bool:
        return all(ready.is_set() for ready in self._ready.values())

    def loop_alive(self, role: str | None = None) -> bool:
        """True while paho's network thread of ``role`` (default: of both connections) runs
        (paho keeps it in ``Client._thread``)."""
        if role is None:
            return all(self.loop_alive(r) for r in ROLES)
        thread = getattr(self._clients.get(role), "_thread", None)
        return isinstance(thread, threading.Thread) and thread.is_alive()

    def _supervise(self) -> None:
        """Restart a connection's network loop, with a fresh client, if its thread ever dies;
        restart the worker too. Checked twice a second."""
        while not self._stop.wait(0.5):
            try:
                for role in ROLES:
                    if not self.loop_alive(role) and not self._stop.is_set():
                        self._restart_loop(role)
                if self._worker is not None and not self._worker.is_alive() and not self._stop.is_set():
                    self.count("worker_restarts")
                    log.error("the ingest worker thread died; restarting it")
                    self._worker = threading.Thread(target=self._work, name="xn-hub-ingest", daemon=True)
                    self._worker.start()
            except Exception:
                self.count("errors_watch")
                log.exception("the ingest watchdog failed; it goes on")

    def _restart_loop(self, role: str) -> None:
        old = self._clients.get(role)
        self.count("loop_restarts")
        self._ready[role].clear()
        log.error("the MQTT network thread died; starting a new broker connection",
                  extra={"connection": role, "loop_restarts": self.counters["loop_restarts"]})
        if old is not None:
            try:
                old.loop_stop()
                sock = old.socket()
                if sock is not None:
                    sock.close()
            except Exception:
                log.exception("closing the dead MQTT client failed")
        self._clients[role] = self._new_client(role)
        # Only now: the worker publishes the alert on the records connection, and a message handed
        # to the dead client would be lost with it (the new one queues QoS 1 until it is connected).
        self._alert("mqtt_loop_restarted", None,
                    f"the hub's MQTT network thread ({role}) died and was restarted "
                    f"({self.counters['loop_restarts']} times since start)")

    def backlog(self) -> int:
        with self._lock:
            return self._records.size + len(self._control) + len(self._rejects)

    def heard(self, agent_id: str) -> float | None:
        """When the broker last delivered anything from ``agent_id`` (this process's clock)."""
        return self._heard.get(agent_id)

    def catching_up(self) -> frozenset[str]:
        """Agents whose last heartbeat says they are catching up (reading a backlog, or their
        backlog not yet acknowledged), whose link is not offline, heard from within
        ``catching_up_expiry_s`` (a busy agent may be quiet for a while: its hold stays)."""
        limit = self._clock() - self.config.catching_up_expiry_s
        flags = dict(self._catching)
        heard = dict(self._heard)
        return frozenset(a for a, on in flags.items() if on and heard.get(a, 0.0) >= limit)

    # -- paho callbacks (network thread): check cheaply, queue, nothing else -------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        try:
            if reason.is_failure:
                log.error("broker refused the hub", extra={"reason": str(reason)})
                return
            control = [(topics.ALL_STATUS, 1), (topics.ALL_HEALTH, 0), (topics.ALL_RTC_UP, 0),
                       *[(f, 1) for f, _ in self.topic_handlers]]
            if userdata == "records":
                records = topics.SHARED_RECORDS if self.config.shared_subscription else topics.ALL_RECORDS
                client.subscribe([(records, 1)])
                # a session kept from a hub version with one connection: its control topics go
                client.unsubscribe([f for f, _ in control])
            else:
                client.subscribe(control)
            self._ready[userdata].set()
            log.info("hub connected to broker", extra={"connection": userdata,
                                                       "session_present": bool(flags.session_present)})
        except Exception:
            self.count("errors_on_connect")
            log.exception("on_connect failed")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        try:
            if client is self._clients.get(userdata):
                self._ready[userdata].clear()
            if not self._stop.is_set():
                log.warning("hub lost the broker; paho reconnects", extra={"reason": str(reason)})
        except Exception:
            self.count("errors_on_disconnect")
            log.exception("on_disconnect failed")

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self._receive(client, msg.topic, bytes(msg.payload))
        except Exception:
            self.count("errors_on_message")
            log.exception("a received message could not be handled; it is dropped",
                          extra={"topic": str(getattr(msg, "topic", ""))[:200]})

    def _receive(self, client: mqtt.Client, topic: str, payload: bytes) -> None:
        for pattern, on_topic in self.topic_handlers:
            if mqtt.topic_matches_sub(pattern, topic):
                try:
                    on_topic(topic, payload)
                except Exception:
                    self.count("errors_topic_handler")
                    log.exception("topic handler failed", extra={"topic": topic[:200]})
                return
        agent = topics.agent_of(topic)
        received = self._clock()
        if agent:
            self._heard[agent] = received
        if "/rtc/up/" in topic:
            leaf = topic.split("/rtc/up/", 1)[1]
            try:
                shallow_object(payload, MAX_RTC_PAYLOAD)
            except Rejected as exc:
                self._reject(agent, "rtc", exc.reason, exc.detail, topic, payload, received)
                return
            for handler in list(self.rtc_handlers):
                try:
                    handler(agent or "", leaf, payload)
                except Exception:
                    self.count("errors_rtc_handler")
                    log.exception("rtc handler failed", extra={"topic": topic[:200]})
            return
        kind = topic.rsplit("/", 1)[-1]
        item = (kind, topic, payload, received)
        if kind == "records":
            if len(payload) > self.config.max_payload:
                self._reject(agent, kind, "too_large", f"batch of {len(payload)} bytes exceeds the limit of "
                             f"{self.config.max_payload}", topic, payload, received)
            elif not payload.startswith(b'{"') or b"\n" not in payload:
                self._reject(agent, kind, "not_batch", "not a header line of a JSON object followed by records",
                             topic, payload, received)
            elif agent is None:
                self._reject(agent, kind, "no_agent", "not an agent's topic", topic, payload, received)
            else:
                with self._wake:
                    queued = self._records.put(agent, item)
                    if queued:
                        self._wake.notify()
                if not queued:
                    self.count("flood_dropped")
                    self._flood(agent, received, "records", "its queue of record batches is full; "
                                "new batches are dropped until the hub catches up")
            return
        if kind not in ("health", "status") or agent is None:
            self.count("ignored_messages")
            return
        try:
            if kind == "health":
                health = parse_health(payload)
            else:
                status = parse_status(payload)
        except Rejected as exc:
            self._reject(agent, kind, exc.reason, exc.detail, topic, payload, received)
            return
        if kind == "health":
            # Answer the agent's ping straight away, so its RTT measures the link, not our queue.
            if health.ping is not None:
                last = self._last_pong.get(agent)
                if last is None or not 0 <= received - last < self.config.pong_interval_s:
                    self._last_pong[agent] = received
                    try:
                        client.publish(topics.ack(agent), json.dumps({"pong": health.ping}).encode(), qos=0)
                    except Exception:  # the heartbeat is still stored below
                        self.count("errors_publish")
                        log.exception("answering a ping failed", extra={"agent": agent})
                else:
                    self.count("pongs_suppressed")
            self._catching[agent] = health.catching_up
        elif not status.online:
            self._catching.pop(agent, None)
        with self._wake:
            self._control[(agent, kind)] = item  # a newer one replaces a waiting one
            self._wake.notify()

    def _reject(self, agent: str | None, kind: str, reason: str, detail: str, topic: str, payload: bytes,
                received: float) -> None:
        """Count a message refused before parsing or by its schema; quarantine it within the limit."""
        self.count(f"rejected_{kind}_{reason}")
        kept, first_suppressed = self._quarantine_limit.allow((agent or "?", f"{kind}:{reason}"), received)
        if not kept:
            self.count("quarantine_suppressed")
            if first_suppressed and agent:
                self._flood(agent, received, kind, f"more than {self.config.quarantine_keep} {kind} messages "
                            f"rejected ({reason}) within {self.config.quarantine_window_s:.0f} s; the rest are "
                            "counted, not stored")
            return
        what = {"records": "record batch", "health": "heartbeat", "status": "status", "rtc": "video signalling"}
        with self._wake:
            self._rejects.append(Quarantined(iso_local(received), agent, topic, "malformed",
                                             f"{what.get(kind, kind)} rejected ({reason}): {detail}"[:500], payload))
            self._wake.notify()

    def _flood(self, agent: str, now: float, kind: str, detail: str) -> None:
        """Raise (at most once per agent per ``flood_alert_interval_s``) an alert naming the agent."""
        last = self._last_flood_alert.get(agent)
        if last is not None and 0 <= now - last < self.config.flood_alert_interval_s:
            return
        self._last_flood_alert[agent] = now
        self.count("flood_alerts")
        log.warning("agent flooding the hub", extra={"agent": agent, "topic_kind": kind, "detail": detail})
        self._alert("flood", agent, f"agent {agent} floods the hub ({kind}): {detail}")

    def _alert(self, reason: str, agent: str | None, detail: str) -> None:
        """Queue a security alert: stored, published on the alerts topic and announced by the worker."""
        with self._wake:
            self._alerts.append((reason, agent, detail))
            self._wake.notify()

    # -- the worker -----------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            try:
                if self._stop.is_set() and not self.backlog():
                    return
                group, rejects = self._take()
                if group or rejects or self._alerts:
                    self._process(group, rejects)
                self._periodic()
            except Exception:
                # Nothing of a failed group was acknowledged: agents resend after their ack timeout.
                self.count("errors_worker")
                log.exception("ingest worker: a group failed; its batches will be re-sent by the agents")
                self._stop.wait(0.05)  # a failing database is not retried in a busy loop

    def _take(self) -> tuple[list[Item], list[Quarantined]]:
        """The next group: every waiting status and heartbeat first (oldest first), then up to
        ``max_group`` record batches taken round-robin across agents (empty after 0.2 s without any
        message), and the rejected messages to quarantine."""
        with self._wake:
            if not (self._records.size or self._control or self._rejects or self._alerts) \
                    and not self._stop.is_set():
                self._wake.wait(0.2)
            control = sorted(self._control.values(), key=lambda item: item[3])
            self._control.clear()
            rejects, self._rejects = self._rejects, []
            return control + self._records.take(self.config.max_group), rejects

    def _process(self, group: list[Item], rejects: Sequence[Quarantined] = ()) -> None:
        """Write a group in one transaction, each message in a savepoint of its own: one that
        raises is undone alone (counted, logged, not acknowledged). Acknowledgements and events go
        out after the commit."""
        outgoing: list[tuple[str, dict[str, Any]]] = []
        events: list[tuple[str, dict[str, Any]]] = []
        with self._wake:
            alerts = list(self._alerts)
            self._alerts.clear()
        with self.write_turn, self.store.transaction() as store:
            for reason, agent, detail in alerts:
                at = iso_local(self._clock())
                try:
                    with store.savepoint():
                        store.security_alert(at, agent, reason, detail)
                except Exception:
                    self.count("errors_alert")
                    log.exception("a security alert could not be stored", extra={"reason": reason})
                events.append(("alert.security", {"reason": reason, "agent_id": agent, "detail": detail, "at": at}))
            for item in rejects:
                try:
                    with store.savepoint():
                        store.quarantine(item)
                except Exception:
                    self.count("errors_quarantine")
                    log.exception("a rejected message could not be quarantined", extra={"topic": item.topic[:200]})
                    continue
                events.append(("quarantine.added", {"agent_id": item.agent_id, "reason": item.reason,
                                                    "topic": item.topic, "detail": item.detail[:300]}))
            for kind, topic, payload, received in group:
                agent = topics.agent_of(topic)
                at = iso_local(received)
                out: list[tuple[str, dict[str, Any]]] = []
                ev: list[tuple[str, dict[str, Any]]] = []
                try:
                    with store.savepoint():
                        if kind == "records":
                            self._record_batch(store, topic, agent, payload, received, out, ev)
                        elif kind == "status" and agent:
                            self._status(store, agent, payload, at, ev)
                        elif kind == "health" and agent:
                            self._health(store, agent, payload, at, received, ev)
                except LookupFailed as exc:
                    self.count("errors_lookup")
                    log.error("a batch could not be decided: the hub's own lookup failed; not acknowledged",
                              extra={"topic": topic, "error": str(exc)[:300]})
                    continue
                except Exception:
                    self.count(f"errors_{kind}" if kind in ("records", "status", "health") else "errors_message")
                    log.exception("a message failed and was undone alone; the rest of its group stands",
                                  extra={"topic": topic[:200]})
                    continue
                outgoing += out
                events += ev
        for agent, message in outgoing:
            self._publish(topics.ack(agent), message, qos=1)
        self._announce(events)

    def _announce(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """After a commit: security alerts to the alerts topic, every event to the listeners."""
        for kind, data in events:
            if kind == "alert.security":
                self._publish(topics.ALERTS, data, qos=1)
            self._notify(kind, data)

    def _record_batch(
        self, store: Store, topic: str, agent: str | None, payload: bytes, received: float,
        outgoing: list[tuple[str, dict[str, Any]]], events: list[tuple[str, dict[str, Any]]],
    ) -> Decision:
        """Decide one record batch (:func:`hub.ingest.decide`) and apply the decision to the store."""
        decision = decide(
            payload, agent, self._keys, store.head, store.stored_hashes,
            datetime.fromtimestamp(received, SHANGHAI), self.config.replay_window_s, self.config.max_payload,
        )
        self._apply(store, decision, topic, payload, received, outgoing, events)
        return decision

    def ingest_local(self, agent_id: str, payload: bytes) -> Decision:
        """Decide and store a batch signed inside the hub process (the desk, :mod:`hub.desk`) on the
        path a batch from the broker takes: the same decision (registered key, signature, chain,
        equivocation), the same transaction, ledger and stream head, the same events after the
        commit (the supervision wakes on ``record.ingested``). No acknowledgement is published: the
        caller holds the decision. A failure of the hub's own lookups or of the store raises."""
        received = self._clock()
        events: list[tuple[str, dict[str, Any]]] = []
        with self.write_turn, self.store.transaction() as store:
            decision = self._record_batch(store, topics.records(agent_id), agent_id, payload, received, [], events)
        self._announce(events)
        return decision

    def _apply(
        self, store: Store, d: Decision, topic: str, payload: bytes, received: float,
        outgoing: list[tuple[str, dict[str, Any]]], events: list[tuple[str, dict[str, Any]]],
    ) -> None:
        at = iso_local(received)
        self.count(f"batches_{d.kind}")
        if d.kind == "store":
            assert d.header is not None and d.agent_id is not None
            store.add_batch(d.header, d.records, at)
            self.count("records_stored", len(d.records))
            outgoing.append((d.agent_id, {"stream": d.stream_id, "acked": d.ack_seq, "status": "ok"}))
            types = Counter(r.type for r in d.records)
            events.append(("record.ingested", {"agent_id": d.agent_id, "stream": d.stream_id, "count": len(d.records),
                                       "last_seq": d.ack_seq, "types": dict(types)}))
        elif d.kind in ("duplicate", "gap"):
            assert d.agent_id is not None
            if d.kind == "duplicate" and d.header is not None:
                self.count("records_duplicate", d.header.last - d.header.first + 1)
            outgoing.append((d.agent_id, {"stream": d.stream_id, "acked": d.ack_seq,
                                          "status": "ok" if d.kind == "duplicate" else "gap"}))
        else:
            self.count(f"quarantine_{d.reason}")
            kept, first_suppressed = self._quarantine_limit.allow((d.agent_id or "?", f"batch:{d.reason}"), received)
            if not kept:  # counted, not stored, not answered: a flood gets no flood of answers
                self.count("quarantine_suppressed")
                if first_suppressed and d.agent_id:
                    self._flood(d.agent_id, received, "records",
                                f"more than {self.config.quarantine_keep} batches quarantined ({d.reason}) within "
                                f"{self.config.quarantine_window_s:.0f} s; the rest are counted, not stored")
                return
            store.quarantine(Quarantined(at, d.agent_id, topic, d.reason, d.detail, payload))
            log.warning("batch quarantined", extra={"agent": d.agent_id, "reason": d.reason, "detail": d.detail})
            events.append(("quarantine.added", {"agent_id": d.agent_id, "reason": d.reason, "topic": topic,
                                                 "detail": d.detail[:300]}))
            if d.alert:
                store.security_alert(at, d.agent_id, d.reason, d.detail)
                events.append(("alert.security", {"reason": d.reason, "agent_id": d.agent_id,
                                                  "detail": d.detail, "at": at}))
            if d.agent_id and d.reason != "replay" and d.stream_id:
                head = store.head(d.agent_id, d.stream_id)
                outgoing.append((d.agent_id, {"stream": d.stream_id, "acked": head.head_seq if head else 0,
                                              "status": "rejected", "reason": d.reason,
                                              "detail": d.detail[:300]}))

    def _status(self, store: Store, agent: str, payload: bytes, at: str,
                events: list[tuple[str, dict[str, Any]]]) -> None:
        try:
            status = parse_status(payload)
        except Rejected as exc:
            self.count(f"rejected_status_{exc.reason}")
            return
        online = 1 if status.online else 0
        store.update_link(agent, {"online": online, "status_at": at}, history=True)
        events.append(("link.status", {"agent_id": agent, "online": bool(online), "at": at}))

    def _health(self, store: Store, agent: str, payload: bytes, at: str, received: float,
                events: list[tuple[str, dict[str, Any]]]) -> None:  # fmt: skip
        """Store a heartbeat's link figures; queue a ``link.health`` event (sent after the commit)
        at most once per agent per ``health_event_interval_s``."""
        try:
            h = parse_health(payload)
        except Rejected as exc:
            self.count(f"rejected_health_{exc.reason}")
            return
        body = json.dumps(h.body, ensure_ascii=False)
        fields: dict[str, Any] = {
            "online": 1, "last_heartbeat_at": at,
            **{k: h.numbers[k] for k in ("rtt_ms", "reconnects", "outbox_depth", "oldest_unacked_s",
                                         "acked_seq", "cdc_lag_s")},
            "source_health": h.source_health[:200] if h.source_health else None,
            "degraded": h.degraded,
            "config_version": h.numbers["config_version"], "config_error": h.config_error,
            "health_json": body if len(body) <= 2 * MAX_HEALTH_BYTES else None,
        }
        due = received - self._last_history.get(agent, 0) >= self.config.history_interval_s
        if due:
            self._last_history[agent] = received
        store.update_link(agent, fields, history=due)
        last = self._last_health_event.get(agent)
        if last is None or not 0 <= received - last < self.config.health_event_interval_s:
            self._last_health_event[agent] = received
            events.append(("link.health", {"agent_id": agent, "at": at, **{
                k: fields[k] for k in ("rtt_ms", "outbox_depth", "oldest_unacked_s", "cdc_lag_s")}}))

    def _periodic(self) -> None:
        now = self._clock()
        if now >= self._next_offline_check:
            self._next_offline_check = now + 2.0
            self._mark_silent_offline(now)
        if now >= self._next_checkpoint:
            self._next_checkpoint = now + self.config.checkpoint_interval_s
            self.checkpoint()

    def _mark_silent_offline(self, now: float) -> None:
        """Mark offline the agents neither a stored heartbeat nor any message (still queued,
        perhaps) was heard from within ``offline_after_s``."""
        cutoff = now - self.config.offline_after_s
        silent = [
            (agent, hb) for agent, hb in self.store.query(
                "SELECT agent_id, COALESCE(last_heartbeat_at, status_at) FROM agent_link WHERE online = 1"
            ) if hb is not None and datetime.fromisoformat(hb).timestamp() < cutoff
            and self._heard.get(agent, 0.0) < cutoff
        ]
        if not silent:
            return
        at = iso_local(now)
        with self.write_turn, self.store.transaction() as store:
            for agent, _ in silent:
                store.update_link(agent, {"online": 0, "status_at": at}, history=True)
        for agent, last in silent:
            log.warning("agent silent: marked offline", extra={"agent": agent, "last_heard": last})
            self._notify("link.status", {"agent_id": agent, "online": False, "at": at})

    def checkpoint(self) -> None:
        """Sign and store a checkpoint of the ledger if it grew since the last one."""
        size = self.store.frontier.size
        if size == self._last_checkpoint_size:
            return
        root = self.store.frontier.root()
        cp = sign_checkpoint(self._hub_key, self.config.origin, size, root, iso_local(self._clock()))
        with self.write_turn, self.store.transaction() as store:
            store.add_checkpoint(size, root, json.dumps(cp.to_json(), sort_keys=True), cp.timestamp)
        self._last_checkpoint_size = size
        self._notify("ledger.checkpoint", cp.to_json())  # hub.ledger_service publishes it

    def _notify(self, kind: str, data: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, data)
            except Exception:
                self.count("errors_listener")
                log.exception("event listener failed", extra={"kind": kind})

    def publish_raw(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish on the hub's broker connection (e.g. WebRTC signalling down to an agent)."""
        client = self._clients.get("control")
        if client is not None:
            client.publish(topic, payload, qos=qos, retain=retain)

    def _publish(self, topic: str, message: dict[str, Any], qos: int) -> None:
        client = self._clients.get("records")
        if client is None:
            return
        try:
            client.publish(topic, json.dumps(message, ensure_ascii=False).encode(), qos=qos)
        except Exception:  # the agent resends what is not acknowledged; the rest is in the store
            self.count("errors_publish")
            log.exception("publishing failed", extra={"topic": topic[:200]})
