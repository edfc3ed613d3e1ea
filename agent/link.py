"""The agent's transport: a thin paho-mqtt 2.x adapter behind a small interface.

The uplink owns all publishing; this adapter never queues on its own behalf. A fresh paho client is
made for every connection, so nothing paho kept in memory from a dead connection is replayed later:
durability lives in the outbox, not in paho's memory-only queue.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from shared.errors import XiaonengError


class LinkDown(XiaonengError):
    """The link to the broker is not up (or went down during the call)."""


class Link(Protocol):
    def connect(self) -> None: ...
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None: ...
    def close(self) -> None: ...
    @property
    def connected(self) -> bool: ...


@dataclass(frozen=True)
class BrokerTls:
    """Mutual TLS: the pinned hub CA (the broker's certificate must chain to it and name the host),
    the agent's client certificate and its key (PEM files)."""

    ca_file: str
    cert_file: str
    key_file: str


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str
    password: str
    keepalive: int = 10
    connect_timeout: float = 10.0
    tls: BrokerTls | None = None


class _ClosingSSLSocket(ssl.SSLSocket):
    """Closes itself when the handshake fails (paho drops the socket unclosed when it raises)."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def tls_context(tls: BrokerTls) -> ssl.SSLContext:
    """A client context that trusts only the pinned CA, checks the host name, and shows our certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED by default
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.sslsocket_class = _ClosingSSLSocket
    try:
        context.load_verify_locations(cafile=tls.ca_file)
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise LinkDown(f"cannot load the TLS files ({tls.ca_file}, {tls.cert_file}, {tls.key_file}): {exc}") from None
    return context


class MqttLink:
    """One MQTT connection at a time. ``on_message(topic, payload)`` and ``on_down(reason)`` are
    called from paho's network thread; keep them short (the uplink just queues an event)."""

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        subscriptions: list[str],
        on_message: Callable[[str, bytes], None],
        on_down: Callable[[str], None],
        will: tuple[str, bytes] | None = None,
    ):
        self.address = address
        self.client_id = client_id
        self.subscriptions = subscriptions
        self._on_message = on_message
        self._on_down = on_down
        self._will = will
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._error = ""

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def connect(self) -> None:
        """Open a new connection; raise LinkDown with the broker's reason if it fails."""
        self.close()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
        )
        if self.address.tls is not None:
            client.tls_set_context(tls_context(self.address.tls))
            client.username_pw_set(self.address.username)  # the broker takes the certificate's name
        else:
            client.username_pw_set(self.address.username, self.address.password)
        if self._will is not None:
            client.will_set(self._will[0], self._will[1], qos=1, retain=True)
        client.max_inflight_messages_set(64)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        self._error = ""
        self._connected.clear()
        ready = threading.Event()
        client.user_data_set(ready)
        try:
            client.connect(
                self.address.host, self.address.port, keepalive=self.address.keepalive,
                clean_start=True,
            )
        except ssl.SSLCertVerificationError as exc:
            raise LinkDown(
                f"broker {self.address.host}:{self.address.port} is not the hub's (its certificate does not "
                f"verify against the pinned CA or name this host): {exc.verify_message}"
            ) from None
        except ssl.SSLError as exc:
            raise LinkDown(f"TLS with broker {self.address.host}:{self.address.port} failed: {exc}") from None
        except OSError as exc:
            raise LinkDown(f"cannot reach broker {self.address.host}:{self.address.port}: {exc}") from None
        with self._lock:
            self._client = client
        client.loop_start()
        if not ready.wait(self.address.connect_timeout) or not self._connected.is_set():
            reason = self._error or "no answer from the broker"
            if self.address.tls is not None and reason == "Unspecified error":
                # TLS 1.3: the broker checks our certificate after our side of the handshake is done
                reason += (" (the broker closed the TLS connection: this agent's certificate is probably "
                           "expired, revoked or from another hub; run xiaoneng-agent rotate or enrol again)")
            self.close()
            raise LinkDown(f"broker {self.address.host}:{self.address.port} refused: {reason}")

    def _handle_connect(
        self, client: mqtt.Client, ready: threading.Event, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            self._error = str(reason)
            ready.set()
            return
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        self._connected.set()
        ready.set()

    def _handle_disconnect(
        self, client: mqtt.Client, ready: threading.Event, flags: Any, reason: Any, props: Any
    ) -> None:
        was_up = self._connected.is_set()
        self._connected.clear()
        self._error = self._error or str(reason)
        ready.set()
        if was_up:
            self._on_down(str(reason))

    def _handle_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._on_message(msg.topic, bytes(msg.payload))

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        with self._lock:
            client = self._client
        if client is None or not self._connected.is_set():
            raise LinkDown("not connected to the broker")
        info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_QUEUE_SIZE):
            raise LinkDown(f"publish failed: {mqtt.error_string(info.rc)}")

    def close(self) -> None:
        """Drop the connection (no offline status is sent: the broker's last will does that)."""
        with self._lock:
            client, self._client = self._client, None
        self._connected.clear()
        if client is not None:
            try:
                client.disconnect()
            finally:
                client.loop_stop()

    def close_gracefully(self, topic: str, payload: bytes) -> None:
        """Publish a last (retained) message, then disconnect."""
        with self._lock:
            client = self._client
        if client is not None and self._connected.is_set():
            info = client.publish(topic, payload, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError):
                pass
        self.close()
