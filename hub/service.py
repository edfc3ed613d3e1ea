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
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.ingest import Decision, decide
from hub.store import Quarantined, Store
from shared import topics
from shared.checkpoint import sign_checkpoint
from shared.timefmt import SHANGHAI, iso_local

log = logging.getLogger("xiaoneng.hub.ingest")

Listener = Callable[[str, dict[str, Any]], None]


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
    max_payload: int = 16 * 1024 * 1024
    shared_subscription: bool = False


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
        self._queue: queue.Queue[tuple[str, str, bytes, float]] = queue.Queue()
        self._control: deque[tuple[str, str, bytes, float]] = deque()
        self._heard: dict[str, float] = {}
        self._catching: dict[str, bool] = {}
        #: Take a turn here around every write transaction on the hub database (see WriteTurn).
        self.write_turn = WriteTurn()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self.listeners: list[Listener] = []
        #: ``handler(agent_id, leaf, payload)`` for messages on ``xn/v1/agents/{id}/rtc/up/{leaf}``,
        #: called from paho's network thread (WebRTC signalling: keep it short).
        self.rtc_handlers: list[Callable[[str, str, bytes], None]] = []
        #: ``(topic filter, handler(topic, payload))``: subscribed at connect (QoS 1) and called
        #: from paho's network thread for matching messages (keep it short: queue the work).
        self.topic_handlers: list[tuple[str, Callable[[str, bytes], None]]] = []
        self.counters: Counter[str] = Counter()
        self._last_history: dict[str, float] = {}
        self._last_health_event: dict[str, float] = {}
        self._last_checkpoint_size = -1
        self._next_checkpoint = 0.0
        self._next_offline_check = 0.0

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, connect_timeout: float = 15.0) -> None:
        self._worker = threading.Thread(target=self._work, name="xn-hub-ingest", daemon=True)
        self._worker.start()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.login.client_id, protocol=mqtt.MQTTv5
        )
        client.username_pw_set(self.login.username, self.login.password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 5)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 24 * 3600
        self._client = client
        client.connect_async(
            self.login.host, self.login.port, keepalive=self.login.keepalive, clean_start=False,
            properties=props,
        )
        client.loop_start()
        if not self._connected.wait(connect_timeout):
            raise ConnectionError(
                f"hub could not connect to the broker at {self.login.host}:{self.login.port} "
                f"as {self.login.username!r} within {connect_timeout} s"
            )

    def stop(self) -> None:
        self._stop.set()
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        if self._worker is not None:
            self._worker.join(30)
            self._worker = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def backlog(self) -> int:
        return self._queue.qsize() + len(self._control)

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

    # -- paho callbacks (network thread): queue, nothing else -----------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the hub", extra={"reason": str(reason)})
            return
        records = topics.SHARED_RECORDS if self.config.shared_subscription else topics.ALL_RECORDS
        client.subscribe([(records, 1), (topics.ALL_STATUS, 1), (topics.ALL_HEALTH, 0),
                          (topics.ALL_RTC_UP, 0), *[(f, 1) for f, _ in self.topic_handlers]])
        self._connected.set()
        log.info("hub connected to broker", extra={"session_present": bool(flags.session_present)})

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("hub lost the broker; paho reconnects", extra={"reason": str(reason)})

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        topic = msg.topic
        for pattern, on_topic in self.topic_handlers:
            if mqtt.topic_matches_sub(pattern, topic):
                try:
                    on_topic(topic, bytes(msg.payload))
                except Exception:
                    log.exception("topic handler failed", extra={"topic": topic})
                return
        if "/rtc/up/" in topic:
            agent = topics.agent_of(topic)
            leaf = topic.split("/rtc/up/", 1)[1]
            for handler in list(self.rtc_handlers):
                try:
                    handler(agent or "", leaf, bytes(msg.payload))
                except Exception:
                    log.exception("rtc handler failed", extra={"topic": topic})
            return
        kind = topic.rsplit("/", 1)[-1]
        agent = topics.agent_of(topic)
        received = self._clock()
        if agent:
            self._heard[agent] = received
        item = (kind, topic, bytes(msg.payload), received)
        if kind == "records":
            self._queue.put(item)
            return
        try:
            body = json.loads(msg.payload)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        if kind == "health":
            # Answer the agent's ping straight away, so its RTT measures the link, not our queue.
            ping = body.get("ping")
            if agent and isinstance(ping, int):
                client.publish(topics.ack(agent), json.dumps({"pong": ping}).encode(), qos=0)
            if agent:
                self._catching[agent] = body.get("catching_up") is True
        elif kind == "status" and agent and body.get("state") != "online":
            self._catching.pop(agent, None)
        self._control.append(item)
        self._queue.put(("wake", topic, b"", received))  # the worker may be waiting on the queue

    # -- the worker -----------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set() or not self._queue.empty() or self._control:
            group = self._take()
            if not group:
                self._periodic()
                continue
            try:
                self._process(group)
            except Exception:
                # Nothing was acknowledged: agents resend after their ack timeout.
                log.exception("ingest transaction failed; the group will be re-sent by the agents")
            self._periodic()

    def _take(self) -> list[tuple[str, str, bytes, float]]:
        """The next group: every waiting status and heartbeat first, then up to ``max_group``
        record batches (empty after 0.2 s without any message)."""
        group: list[tuple[str, str, bytes, float]] = []
        batches = 0
        while batches < self.config.max_group:
            try:
                item = self._queue.get(timeout=0.2) if not group and not self._control \
                    else self._queue.get_nowait()
            except queue.Empty:
                break
            if item[0] != "wake":
                group.append(item)
                batches += 1
        while self._control:
            group.insert(0, self._control.pop())  # oldest first, ahead of the records
        return group

    def _process(self, group: list[tuple[str, str, bytes, float]]) -> None:
        outgoing: list[tuple[str, dict[str, Any]]] = []
        events: list[tuple[str, dict[str, Any]]] = []
        with self.write_turn, self.store.transaction() as store:
            for kind, topic, payload, received in group:
                agent = topics.agent_of(topic)
                at = iso_local(received)
                if kind == "records":
                    decision = decide(
                        payload, agent, self._keys, store.head, store.stored_hashes,
                        datetime.fromtimestamp(received, SHANGHAI), self.config.replay_window_s,
                        self.config.max_payload,
                    )
                    self._apply(store, decision, topic, payload, at, outgoing, events)
                elif kind == "status" and agent:
                    self._status(store, agent, payload, at, events)
                elif kind == "health" and agent:
                    self._health(store, agent, payload, at, received, events)
        for agent, message in outgoing:
            self._publish(topics.ack(agent), message, qos=1)
        for kind, data in events:
            if kind == "alert.security":
                self._publish(topics.ALERTS, data, qos=1)
            self._notify(kind, data)

    def _apply(
        self, store: Store, d: Decision, topic: str, payload: bytes, at: str,
        outgoing: list[tuple[str, dict[str, Any]]], events: list[tuple[str, dict[str, Any]]],
    ) -> None:
        self.counters[f"batches_{d.kind}"] += 1
        if d.kind == "store":
            assert d.header is not None and d.agent_id is not None
            store.add_batch(d.header, d.records, at)
            self.counters["records_stored"] += len(d.records)
            outgoing.append((d.agent_id, {"stream": d.stream_id, "acked": d.ack_seq, "status": "ok"}))
            types = Counter(r.type for r in d.records)
            events.append(("record.ingested", {"agent_id": d.agent_id, "stream": d.stream_id, "count": len(d.records),
                                       "last_seq": d.ack_seq, "types": dict(types)}))
        elif d.kind in ("duplicate", "gap"):
            assert d.agent_id is not None
            if d.kind == "duplicate" and d.header is not None:
                self.counters["records_duplicate"] += d.header.last - d.header.first + 1
            outgoing.append((d.agent_id, {"stream": d.stream_id, "acked": d.ack_seq,
                                          "status": "ok" if d.kind == "duplicate" else "gap"}))
        else:
            self.counters[f"quarantine_{d.reason}"] += 1
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
            state = json.loads(payload).get("state")
        except (ValueError, AttributeError):
            return
        online = 1 if state == "online" else 0
        store.update_link(agent, {"online": online, "status_at": at}, history=True)
        events.append(("link.status", {"agent_id": agent, "online": bool(online), "at": at}))

    def _health(self, store: Store, agent: str, payload: bytes, at: str, received: float,
                events: list[tuple[str, dict[str, Any]]]) -> None:  # fmt: skip
        """Store a heartbeat's link figures; queue a ``link.health`` event (sent after the commit)
        at most once per agent per ``health_event_interval_s``."""
        try:
            h = json.loads(payload)
        except ValueError:
            return
        if not isinstance(h, dict):
            return

        def num(key: str) -> int | None:
            value = h.get(key)
            return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        fields: dict[str, Any] = {
            "online": 1, "last_heartbeat_at": at, "rtt_ms": num("rtt_ms"), "reconnects": num("reconnects"),
            "outbox_depth": num("outbox_depth"), "oldest_unacked_s": num("oldest_unacked_s"),
            "acked_seq": num("acked_seq"), "cdc_lag_s": num("cdc_lag_s"),
            "source_health": str(h.get("source_health", ""))[:200] or None,
            "degraded": str(h.get("degraded", ""))[:500] or None,
            "health_json": json.dumps(h, ensure_ascii=False)[:8000],
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
                log.exception("event listener failed", extra={"kind": kind})

    def publish_raw(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish on the hub's broker connection (e.g. WebRTC signalling down to an agent)."""
        if self._client is not None:
            self._client.publish(topic, payload, qos=qos, retain=retain)

    def _publish(self, topic: str, message: dict[str, Any], qos: int) -> None:
        if self._client is not None:
            self._client.publish(topic, json.dumps(message, ensure_ascii=False).encode(), qos=qos)
