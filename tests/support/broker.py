"""A real Mosquitto for tests, with registry-made credentials and ACL, plus a small MQTT probe.

Typical use (the broker is stopped and every probe closed when the block ends)::

    with start_test_broker(tmp_path, agents=("a1", "a2")) as tb:
        hub = tb.probe("hub")                   # connected paho client, MQTT 5, as the hub user
        hub.subscribe(topics.ALL_RECORDS)
        a1 = tb.probe("a1")
        assert a1.publish(topics.records("a1"), b"x") == 0
        hub.wait_for(topics.records("a1"))

    # fault tests: same port, same persistence file
    tb.kill(); tb.start()                       # crash (SIGKILL) and start again
    tb.restart()                                # clean stop (SIGTERM, saves) and start

``tb.hub`` / ``tb.agents[id]`` hold the logins (for code under test that connects by itself),
``tb.keys[id]`` the agents' Ed25519 private keys, ``tb.registry`` the registry (its DB is
``tb.data_dir / "hub.sqlite"``, as the hub's would be).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hub.broker import MosquittoBroker
from provisioning import broker_files, identity
from provisioning.registry import Registry
from tests.support.ports import free_port
from tests.support.wait import wait_until

SESSION_NEVER_EXPIRES = 0xFFFFFFFF


@dataclass(frozen=True)
class Login:
    """A broker username and password."""

    username: str
    password: str


@dataclass(frozen=True)
class Received:
    """One message a probe received."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


class Probe:
    """A paho-mqtt 2 client (``CallbackAPIVersion.VERSION2``) that records what happens to it.

    Every wait polls with a deadline (``timeout``) and fails with AssertionError. paho reconnects
    by itself after a drop (every 1-2 s) unless ``reconnect=False``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        login: Login | None,
        *,
        client_id: str = "",
        clean_start: bool = True,
        protocol: MQTTProtocolVersion = mqtt.MQTTv5,
        will: tuple[str, bytes, int, bool] | None = None,
        reconnect: bool = True,
    ) -> None:
        self.host, self.port = host, port
        self.reconnect = reconnect
        self.clean_start = clean_start
        self.protocol = protocol
        kwargs: dict[str, Any] = {}
        if protocol != mqtt.MQTTv5:
            kwargs["clean_session"] = clean_start
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **kwargs
        )
        if login is not None:
            self.client.username_pw_set(login.username, login.password)
        if will is not None:
            self.client.will_set(*will)
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._connack: list[ReasonCode] = []
        self._subacks: dict[int, list[ReasonCode]] = {}
        self._pubacks: dict[int, ReasonCode] = {}
        self._connected = threading.Event()
        self.disconnects = 0
        self.session_present = False
        """The last CONNACK's session-present flag (the broker still had this client's session)."""
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.reconnect_delay_set(1, 2)
        self._started = False

    # -- actions -------------------------------------------------------------------------------

    def connect(self, timeout: float = 10.0) -> ReasonCode:
        """Connect and wait for CONNACK; returns its reason code (0 = accepted).

        A refused client does not retry (the probe disconnects itself).
        """
        n = len(self._connack)
        if self.protocol == mqtt.MQTTv5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            if not self.clean_start:
                properties.SessionExpiryInterval = SESSION_NEVER_EXPIRES
            self.client.connect(
                self.host,
                self.port,
                keepalive=30,
                clean_start=self.clean_start,
                properties=properties,
            )
        else:
            self.client.connect(self.host, self.port, keepalive=30)
        if not self._started:
            self.client.loop_start()
            self._started = True
        wait_until(lambda: len(self._connack) > n, timeout, message="no CONNACK from the broker")
        return self._connack[-1]

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 10.0) -> list[ReasonCode]:
        """Subscribe and wait for SUBACK; returns its reason codes (granted QoS, or >= 0x80)."""
        result, mid = self.client.subscribe(topic, qos)
        assert result == mqtt.MQTT_ERR_SUCCESS, f"subscribe {topic!r} not sent: {result}"
        assert mid is not None
        wait_until(lambda: mid in self._subacks, timeout, message=f"no SUBACK for {topic!r}")
        return self._subacks[mid]

    def publish(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, timeout: float = 10.0
    ) -> int | None:
        """Publish; for QoS 1/2 wait for the broker's acknowledgement and return its reason code
        (MQTT 5: 0 accepted, 16 no subscribers, 135 not authorised). QoS 0 returns None."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish to {topic!r} not sent: {info.rc}"
        if qos == 0:
            return None
        wait_until(lambda: info.mid in self._pubacks, timeout, message=f"no PUBACK for {topic!r}")
        return self._pubacks[info.mid].value

    def close(self) -> None:
        """Disconnect and stop the network thread (safe to call twice)."""
        if self._started:
            self.client.disconnect()
            self.client.loop_stop()
            self._started = False

    # -- observations --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True between an accepted CONNACK and the next disconnect."""
        return self._connected.is_set()

    def received(self, topic: str | None = None) -> list[Received]:
        """A snapshot of the messages received (on ``topic`` only, if given), in arrival order."""
        with self._lock:
            return [m for m in self._messages if topic is None or m.topic == topic]

    def wait_for(self, topic: str, payload: bytes | None = None, timeout: float = 10.0) -> Received:
        """Wait for a message on ``topic`` (with ``payload``, if given) and return the first one."""

        def found() -> Received | None:
            for m in self.received(topic):
                if payload is None or m.payload == payload:
                    return m
            return None

        message = wait_until(
            found, timeout, message=f"no message on {topic!r} (payload {payload!r})"
        )
        assert message is not None
        return message

    # -- paho callbacks (VERSION2 signatures) ---------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        if rc.is_failure:
            client.disconnect()  # stop paho from retrying a refused login
        else:
            self.session_present = bool(flags.session_present)
            self._connected.set()
        with self._lock:
            self._connack.append(rc)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        self._connected.clear()
        with self._lock:
            self.disconnects += 1
        if not self.reconnect:
            client.disconnect()  # ends paho's loop thread instead of reconnecting

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self._messages.append(
                Received(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain))
            )

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, codes: list[ReasonCode], props: Any
    ) -> None:
        with self._lock:
            self._subacks[mid] = list(codes)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, rc: ReasonCode, props: Any
    ) -> None:
        with self._lock:
            self._pubacks[mid] = rc


class RunningBroker:
    """A real Mosquitto on a free port of 127.0.0.1 whose logins and ACL come from a Registry.

    Made by ``start_test_broker``; use it as a context manager (or call ``close()``).
    """

    def __init__(
        self, data_dir: Path, registry: Registry, broker: MosquittoBroker, hub: Login
    ) -> None:
        self.data_dir = data_dir
        self.registry = registry
        self.broker = broker
        self.hub = hub
        self.agents: dict[str, Login] = {}
        self.keys: dict[str, Ed25519PrivateKey] = {}
        self._probes: list[Probe] = []

    @property
    def host(self) -> str:
        """Where the broker listens."""
        return self.broker.host

    @property
    def port(self) -> int:
        """Its port (the same across ``kill()``/``start()``/``restart()``)."""
        return self.broker.port

    def login(self, who: str) -> Login:
        """The login of ``"hub"`` (the hub service user's name) or of an agent id."""
        return self.hub if who == self.hub.username else self.agents[who]

    def probe(self, who: str | Login | None, *, connect: bool = True, **options: Any) -> Probe:
        """A Probe logged in as ``who`` (a name for ``login()``, a Login, or None = anonymous),
        connected (and asserted accepted) unless ``connect=False``; closed by ``close()``."""
        login = self.login(who) if isinstance(who, str) else who
        probe = Probe(self.host, self.port, login, **options)
        self._probes.append(probe)
        if connect:
            rc = probe.connect()
            assert not rc.is_failure, f"{who} could not connect: {rc}"
        return probe

    def add_agent(self, agent_id: str, site_id: str = "site1") -> Login:
        """Register one more agent (new key), rewrite the broker files and reload the broker."""
        key = identity.generate_key()
        if site_id not in {s.site_id for s in self.registry.sites()}:
            self.registry.add_site(site_id, site_id)
        password = self.registry.add_agent(agent_id, site_id, identity.public_key_bytes(key))
        self.keys[agent_id] = key
        self.agents[agent_id] = Login(agent_id, password)
        self.write_files()
        if self.broker.running:
            self.broker.reload()
        return self.agents[agent_id]

    def revoke(self, agent_id: str) -> None:
        """Revoke an agent, rewrite the broker files and reload the broker (as the CLI does)."""
        self.registry.revoke(agent_id)
        self.write_files()
        if self.broker.running:
            self.broker.reload()

    def write_files(self) -> broker_files.BrokerFiles:
        """Rewrite DATA/broker/passwd and acl from the registry."""
        return broker_files.write_broker_files(
            self.registry, broker_files.broker_dir(self.data_dir)
        )

    def start(self) -> None:
        """Start the broker again on the same port (after ``kill()`` or ``stop()``)."""
        self.broker.start()

    def stop(self) -> None:
        """Stop the broker cleanly (SIGTERM: it saves its persistence file)."""
        self.broker.stop()

    def kill(self) -> None:
        """SIGKILL the broker (changes since its last autosave are lost)."""
        self.broker.kill()

    def restart(self) -> None:
        """``stop()`` then ``start()``, same port."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Close every probe made here, then stop the broker."""
        for probe in self._probes:
            probe.close()
        self._probes.clear()
        self.broker.stop()

    def __enter__(self) -> RunningBroker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def start_test_broker(
    tmp_path: Path,
    agents: Iterable[str] | Mapping[str, bytes] = ("a1", "a2"),
    *,
    hub_user: str = "hub",
    site_id: str = "site1",
    **broker_options: Any,
) -> RunningBroker:
    """Set up a registry in ``tmp_path/hub-data``, a hub service login and ``agents``, write the
    broker files and start a real Mosquitto on a free port. Returns it running.

    ``agents`` is a list of ids (keys are generated, see ``.keys``) or ``{id: raw public key}``.
    ``broker_options`` go to ``MosquittoBroker`` (e.g. ``autosave_interval=1``, ``supervise=True``).
    """
    data_dir = tmp_path / "hub-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    registry = Registry(data_dir / "hub.sqlite")
    registry.add_site(site_id, site_id)
    hub = Login(hub_user, registry.set_service_user(hub_user, "hub"))
    directory = broker_files.broker_dir(data_dir)
    broker = MosquittoBroker(
        data_dir,
        port=free_port(),
        password_file=directory / broker_files.PASSWORD_FILE,
        acl_file=directory / broker_files.ACL_FILE,
        **broker_options,
    )
    running = RunningBroker(data_dir, registry, broker, hub)
    given = dict(agents) if isinstance(agents, Mapping) else {a: None for a in agents}
    for agent_id, public_key in given.items():
        if public_key is None:
            key = identity.generate_key()
            running.keys[agent_id] = key
            public_key = identity.public_key_bytes(key)
        running.agents[agent_id] = Login(
            agent_id, registry.add_agent(agent_id, site_id, public_key)
        )
    running.write_files()
    broker.start()
    return running
