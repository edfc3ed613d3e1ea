"""The uplink: the one owner of everything the agent publishes.

It reads the outbox in order, signs batches, publishes them (QoS 1), and deletes records only when
the hub's end-to-end acknowledgement says they are committed. Unacknowledged records are sent again
after ``ack_timeout`` or a reconnect; a "gap" answer from the hub rewinds at once. Reconnects use
exponential backoff with jitter. A heartbeat (every ``heartbeat_interval`` s) carries the link's
figures; the retained status topic says online, and the broker's last will says offline.

Time is injected (``clock`` is monotonic seconds, ``wall`` epoch seconds) and the transport is
made by ``link_factory``, so tests can script losses.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.link import Link, LinkDown
from agent.outbox import Outbox
from shared import topics
from shared.batch import sign_batch
from shared.timefmt import iso_local

log = logging.getLogger("xiaoneng.agent.uplink")

LinkFactory = Callable[
    [Callable[[str, bytes], None], Callable[[str], None], tuple[str, bytes]], Link
]


@dataclass(frozen=True)
class UplinkConfig:
    batch_records: int = 1000
    batch_bytes: int = 900_000
    window_batches: int = 16
    ack_timeout: float = 10.0
    heartbeat_interval: float = 10.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    #: Records/s for draining a backlog (None: as fast as the hub acknowledges). A live trickle is
    #: never held back by it: pacing applies only while more than ``live_threshold`` wait.
    drain_rate: float | None = None
    live_threshold: int = 5000


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped at ``maximum``."""
    base = min(maximum, initial * (2 ** max(0, attempt - 1)))
    return float(base / 2 + rng.uniform(0, base / 2))


class Uplink:
    """Drives one outbox stream to the hub over a link made by ``link_factory``."""

    def __init__(
        self,
        outbox: Outbox,
        key: Ed25519PrivateKey,
        link_factory: LinkFactory,
        config: UplinkConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ):
        self.outbox = outbox
        self.agent_id = outbox.agent_id
        self.stream_id = outbox.stream_id
        self.config = config or UplinkConfig()
        self._key = key
        self._factory = link_factory
        self._clock = clock
        self._wall = wall
        self._rng = rng or random.Random()
        self._events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._link: Link | None = None
        self._providers: list[Callable[[], dict[str, Any]]] = []
        # link state (read by health and tests)
        self.connected = False
        self.reconnects = 0
        self.connects = 0
        self.resends = 0
        self.rejections = 0
        self.last_error = ""
        self.rtt_ms: int | None = None
        self._attempt = 0
        self._next_attempt = 0.0
        self._sent_upto = outbox.acked_seq
        self._inflight: deque[tuple[int, float]] = deque()
        self._last_progress = 0.0
        self._hold_until = 0.0
        self._next_heartbeat = 0.0
        self._ping = 0
        self._pings: dict[int, float] = {}
        self._tokens = 0.0
        self._token_at = 0.0
        self._side: queue.SimpleQueue[tuple[str, bytes, int]] = queue.SimpleQueue()
        self._handlers: list[tuple[str, Callable[[str, bytes], None]]] = []
        outbox.on_append(self._wake.set)

    # -- public ---------------------------------------------------------------------------------

    def add_health_provider(self, provider: Callable[[], dict[str, Any]]) -> None:
        """Extra heartbeat fields (e.g. capture lag, camera state) merged into every heartbeat."""
        self._providers.append(provider)

    def heartbeat_soon(self) -> None:
        """Send a heartbeat before anything else goes out (e.g. a backlog starts: the hub must
        learn it before the backlog's first record)."""
        self._next_heartbeat = 0.0
        self._wake.set()

    def publish_side(self, topic: str, payload: bytes, qos: int = 0) -> None:
        """Send a non-durable message (e.g. WebRTC signalling) through the one publishing owner.

        It goes out on the current connection, or is dropped if the link is down: only records are
        durable, and a stale signalling message is worse than none."""
        self._side.put((topic, payload, qos))
        self._wake.set()

    def on_topic(self, prefix: str, handler: Callable[[str, bytes], None]) -> None:
        """Call ``handler(topic, payload)`` (from the uplink thread) for messages under ``prefix``.
        The link must subscribe to those topics (see ``agent.runtime``)."""
        self._handlers.append((prefix, handler))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="xn-uplink", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop; a connected link publishes the retained "offline" status first."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def health(self) -> dict[str, Any]:
        stats = self.outbox.stats()
        oldest = 0 if stats.oldest_created is None else max(0, int(self._wall() - stats.oldest_created))
        data: dict[str, Any] = {
            "agent": self.agent_id,
            "stream": self.stream_id,
            "ts": iso_local(self._wall()),
            "connected": self.connected,
            "rtt_ms": self.rtt_ms,
            "reconnects": self.reconnects,
            "resends": self.resends,
            "rejections": self.rejections,
            "outbox_depth": stats.depth,
            "outbox_bytes": stats.bytes,
            "outbox_alarm": stats.alarm,
            "outbox_full": stats.full,
            "full_refusals": self.outbox.full_refusals,
            "oldest_unacked_s": oldest,
            "acked_seq": stats.acked_seq,
            "head_seq": stats.head_seq,
            "last_error": self.last_error,
        }
        for provider in self._providers:
            try:
                data.update(provider())
            except Exception as exc:  # a broken provider must not stop heartbeats
                data.setdefault("provider_errors", []).append(repr(exc)[:200])
        return data

    # -- the owner thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                now = self._clock()
                if self._link is None or not self._link.connected:
                    if self._link is not None:
                        self._lost("connection lost")
                    if now < self._next_attempt:
                        self._wake.wait(min(self._next_attempt - now, 1.0))
                        continue
                    self._try_connect()
                    continue
                self._drain_events()
                if self._link is None:
                    continue
                self._flush_side()
                try:
                    if now >= self._next_heartbeat:
                        self._heartbeat(now)
                    self._check_timeout(now)
                    sent = self._send_some(now)
                except LinkDown as exc:
                    self._lost(str(exc))
                    continue
                if not sent:
                    self._wake.wait(min(0.25, max(0.0, self._next_heartbeat - now)))
        except Exception:  # pragma: no cover - last resort, logged for the operator
            log.exception("uplink crashed")
            raise
        finally:
            link, self._link = self._link, None
            if link is not None:
                offline = json.dumps({"state": "offline", "ts": iso_local(self._wall())}).encode()
                closer = getattr(link, "close_gracefully", None)
                if callable(closer):
                    closer(topics.status(self.agent_id), offline)
                else:
                    link.close()
            self.connected = False

    def _try_connect(self) -> None:
        will = (topics.status(self.agent_id), json.dumps({"state": "offline"}).encode())
        link = self._factory(self._on_message, self._on_down, will)
        try:
            link.connect()
        except LinkDown as exc:
            self._attempt += 1
            delay = backoff_delay(self._attempt, self.config.backoff_initial, self.config.backoff_max, self._rng)
            self._next_attempt = self._clock() + delay
            self.last_error = str(exc)
            log.warning("connect failed", extra={"error": str(exc), "retry_in_s": round(delay, 2)})
            return
        if self.connects:
            self.reconnects += 1
        self.connects += 1
        self._attempt = 0
        self._link = link
        self.connected = True
        self.last_error = ""
        # Everything not acknowledged is sent again on the new connection.
        self._sent_upto = self.outbox.acked_seq
        self._inflight.clear()
        self._pings.clear()
        status = {"state": "online", "stream": self.stream_id, "ts": iso_local(self._wall())}
        try:
            link.publish(topics.status(self.agent_id), json.dumps(status).encode(), qos=1, retain=True)
        except LinkDown as exc:  # the connection may drop again at once
            self._lost(str(exc))
            return
        self._next_heartbeat = 0.0
        log.info("connected", extra={"reconnects": self.reconnects, "acked_seq": self._sent_upto})

    def _lost(self, reason: str) -> None:
        link, self._link = self._link, None
        self.connected = False
        if link is not None:
            link.close()
        self._attempt += 1
        delay = backoff_delay(self._attempt, self.config.backoff_initial, self.config.backoff_max, self._rng)
        self._next_attempt = self._clock() + delay
        self.last_error = reason
        log.warning("link down", extra={"reason": reason, "retry_in_s": round(delay, 2)})

    # callbacks from the link's thread: queue and wake, nothing else
    def _on_message(self, topic: str, payload: bytes) -> None:
        self._events.put(("message", (topic, payload)))
        self._wake.set()

    def _on_down(self, reason: str) -> None:
        self._events.put(("down", reason))
        self._wake.set()

    def _drain_events(self) -> None:
        while True:
            try:
                kind, value = self._events.get_nowait()
            except queue.Empty:
                return
            if kind == "down":
                self._lost(f"broker connection dropped: {value}")
                return
            topic, payload = value
            if topic == topics.ack(self.agent_id):
                self._handle_ack(payload)
                continue
            for prefix, handler in self._handlers:
                if topic.startswith(prefix):
                    try:
                        handler(topic, payload)
                    except Exception:
                        log.exception("topic handler failed", extra={"topic": topic})

    def _flush_side(self) -> None:
        while True:
            try:
                topic, payload, qos = self._side.get_nowait()
            except queue.Empty:
                return
            if self._link is None or not self._link.connected:
                log.info("dropped a side message while the link is down", extra={"topic": topic})
                continue
            self._link.publish(topic, payload, qos=qos)

    def _handle_ack(self, payload: bytes) -> None:
        try:
            msg = json.loads(payload)
        except ValueError:
            log.error("unreadable message on the ack topic", extra={"size": len(payload)})
            return
        if not isinstance(msg, dict):
            return
        now = self._clock()
        if "pong" in msg:
            sent = self._pings.pop(msg["pong"], None) if isinstance(msg["pong"], int) else None
            if sent is not None:
                self.rtt_ms = int((now - sent) * 1000)
            return
        if msg.get("stream") != self.stream_id or not isinstance(msg.get("acked"), int):
            return
        acked = int(msg["acked"])
        if acked > self.outbox.acked_seq:
            self.outbox.ack(acked)
            self._last_progress = now
            while self._inflight and self._inflight[0][0] <= acked:
                self._inflight.popleft()
        status = msg.get("status", "ok")
        if status == "gap":
            self._rewind(now, "hub reported a gap")
        elif status == "rejected":
            self.rejections += 1
            self.last_error = f"hub rejected batch: {msg.get('reason', '?')}: {msg.get('detail', '')}"
            log.error("hub rejected a batch", extra={"reason": msg.get("reason"), "detail": msg.get("detail")})
            self._rewind(now, "rejected")
            self._hold_until = now + self.config.ack_timeout

    def _rewind(self, now: float, why: str) -> None:
        if self._sent_upto > self.outbox.acked_seq:
            self.resends += 1
            log.info("resending unacknowledged records", extra={"from_seq": self.outbox.acked_seq + 1, "why": why})
        self._sent_upto = self.outbox.acked_seq
        self._inflight.clear()
        self._last_progress = now

    def _check_timeout(self, now: float) -> None:
        if self._inflight and now - max(self._last_progress, self._inflight[0][1]) > self.config.ack_timeout:
            self._rewind(now, "no acknowledgement in time")

    def _heartbeat(self, now: float) -> None:
        assert self._link is not None
        self._ping += 1
        self._pings = {k: v for k, v in self._pings.items() if now - v < 60}
        self._pings[self._ping] = now
        data = self.health()
        data["ping"] = self._ping
        self._link.publish(topics.health(self.agent_id), json.dumps(data).encode(), qos=0)
        self._next_heartbeat = now + self.config.heartbeat_interval

    def _send_some(self, now: float) -> bool:
        cfg = self.config
        if self._link is None or len(self._inflight) >= cfg.window_batches or now < self._hold_until:
            return False
        limit = cfg.batch_records
        if cfg.drain_rate is not None and self.outbox.head_seq - self._sent_upto > cfg.live_threshold:
            if self._token_at == 0.0:
                self._token_at = now  # the bucket starts empty: no burst ahead of the pace
            burst = max(1.0, cfg.drain_rate / 4)
            self._tokens = min(burst, self._tokens + (now - self._token_at) * cfg.drain_rate)
            self._token_at = now
            if self._tokens < 1:
                return False
            limit = max(1, min(limit, int(self._tokens)))
        records = self.outbox.read(self._sent_upto, limit, cfg.batch_bytes)
        if not records:
            return False
        batch = sign_batch(
            self._key, self.agent_id, self.stream_id, records, self.outbox.next_nonce(),
            iso_local(self._wall()),
        )
        self._link.publish(topics.records(self.agent_id), bytes(batch), qos=1)
        if not self._inflight:
            self._last_progress = now
        self._inflight.append((records[-1].seq, now))
        self._sent_upto = records[-1].seq
        if cfg.drain_rate is not None:
            self._tokens = max(0.0, self._tokens - len(records))
        return True
