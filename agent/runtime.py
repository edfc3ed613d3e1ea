"""The running agent: outbox + uplink (+ capture and cameras when configured)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from agent.audit import PeriodicAudit
from agent.checkpoints import HubWitness, hub_key, watch_checkpoints
from agent.config import AgentConfig
from agent.link import Link, MqttLink
from agent.outbox import Outbox
from agent.uplink import Uplink
from shared import topics
from shared.errors import ConfigError
from shared.timefmt import iso_local

log = logging.getLogger("xiaoneng.agent")

#: Records waiting in the outbox longer than this mean the agent is catching up (seconds).
CATCH_UP_LAG_S = 60.0


def load_key(path: str) -> Ed25519PrivateKey:
    try:
        with open(path, "rb") as fh:
            key = load_pem_private_key(fh.read(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load agent key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"agent key {path} is not an Ed25519 private key")
    return key


class Agent:
    """Owns the outbox and the uplink; ``start()``/``stop()``."""

    def __init__(self, config: AgentConfig):
        from agent.configsync import effective_config

        #: agent.yaml as read; ``config`` is it plus the configuration applied from the hub.
        self.base_config = config
        config, self.config_error = effective_config(config)
        self.config = config
        data = config.path(config.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(data / "outbox.sqlite", config.agent_id, config.outbox)
        self.key = load_key(str(config.path(config.key_file)))
        address = config.broker_address()

        def factory(on_message: Callable[[str, bytes], None], on_down: Callable[[str], None],
                    will: tuple[str, bytes]) -> Link:
            return MqttLink(
                address, f"xn-agent-{config.agent_id}",
                [topics.ack(config.agent_id), topics.config(config.agent_id),
                 topics.rtc(config.agent_id, "down/#"), topics.CHECKPOINT, topics.audit_resp(config.agent_id)],
                on_message, on_down, will,
            )

        self.uplink = Uplink(self.outbox, self.key, factory, config.uplink)
        # The hub's signed checkpoints, kept to audit its ledger (docs/ledger.md).
        self.witness: HubWitness | None = None
        if config.hub_public_key:
            self.witness = HubWitness(data / "outbox.sqlite", hub_key(config.hub_public_key))
            watch_checkpoints(self.uplink, self.witness, time.time)
        self.auditor: PeriodicAudit | None = None
        if config.hub_public_key and config.audit_interval_s > 0:
            key = hub_key(config.hub_public_key)
            self.auditor = PeriodicAudit(self.uplink, HubWitness(data / "outbox.sqlite", key), key,
                                         config.audit_interval_s)
        self._catch_up: list[Callable[[], tuple[bool, int]]] = []
        self.uplink.add_health_provider(lambda: {"catching_up": self.catching_up()})
        # Cameras (presence records, feed state in the heartbeat, live video): only when configured,
        # so that an agent without the video extra (OpenCV, aiortc) never imports it.
        self.cameras: Any = None
        if config.cameras:
            try:
                from agent.camera.service import CameraService
            except ImportError as exc:
                raise ConfigError(
                    f"cameras are configured, but this agent has no video support ({exc}): use the "
                    "xiaoneng-agent-video build (or install the [video] extra), or remove 'cameras'"
                ) from None
            self.cameras = CameraService.from_config(config, self.outbox, self.uplink)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        log.info("agent starting", extra={"agent": self.config.agent_id, "stream": self.outbox.stream_id,
                                          "head_seq": self.outbox.head_seq, "acked_seq": self.outbox.acked_seq})
        if self.cameras is not None:
            self.cameras.start()
        self.uplink.start()
        if self.auditor is not None:
            self.add_thread(self.auditor.run, "xn-audit")

    def add_thread(self, target: Callable[[threading.Event], None], name: str) -> None:
        """Run ``target(stop_event)`` in a thread for the agent's lifetime."""
        t = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def synthetic_producer(self, rate: float) -> Callable[[threading.Event], None]:
        """A load generator for tests and benchmarks: ``rate`` ``test.synthetic`` records/s."""

        def run(stop: threading.Event) -> None:
            interval = 1.0 / rate
            next_at = time.monotonic()
            while not stop.is_set():
                now = time.monotonic()
                if now < next_at:
                    stop.wait(next_at - now)
                    continue
                due = min(1000, int((now - next_at) / interval) + 1)
                try:
                    with self.outbox.transaction() as tx:
                        for _ in range(due):
                            tx.append("test.synthetic", iso_local(time.time()), {"n": self.outbox.head_seq + 1})
                except Exception as exc:  # OutboxFullError: keep trying later
                    log.warning("synthetic producer paused", extra={"error": str(exc)})
                    stop.wait(1.0)
                    continue
                next_at += due * interval

        return run

    def add_catch_up(self, provider: Callable[[], tuple[bool, int]]) -> None:
        """A source of backlog: ``provider()`` is (reading a backlog now, outbox seq its last
        backlog window ended at)."""
        self._catch_up.append(provider)

    def catching_up(self, now: float | None = None) -> bool:
        """What the heartbeat's ``catching_up`` says: a capture reads a backlog, the records of a
        backlog are not all acknowledged by the hub yet, or records wait longer than
        :data:`CATCH_UP_LAG_S` (the hub holds this department's time rules meanwhile)."""
        busy, upto = False, 0
        for provider in self._catch_up:
            active, seq = provider()
            busy, upto = busy or active, max(upto, seq)
        stats = self.outbox.stats()
        wall = time.time() if now is None else now
        old = stats.oldest_created is not None and wall - stats.oldest_created > CATCH_UP_LAG_S
        return busy or stats.acked_seq < upto or old

    def health_extra(self) -> dict[str, Any]:
        return {"site": self.config.site_id}

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)
        if self.cameras is not None:
            self.cameras.stop()
        self.uplink.stop()
        if self.witness is not None:
            self.witness.close()
        if self.auditor is not None:
            self.auditor.witness.close()
        self.outbox.close()
