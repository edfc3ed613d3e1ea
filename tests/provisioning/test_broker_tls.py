"""The broker's TLS listener against the real Mosquitto: mutual TLS with hub-CA certificates, the
certificate's name as the username (so the ACL applies), and refusals a telecom engineer can read."""

from __future__ import annotations

import queue
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.link import BrokerAddress, BrokerTls, LinkDown, MqttLink
from hub.broker import MosquittoBroker, TlsListener
from provisioning import broker_files, ca, identity
from provisioning.registry import Registry
from shared import topics
from tests.support.ports import free_port

pytestmark = pytest.mark.broker


@dataclass
class Env:
    data: Path
    broker: MosquittoBroker
    hub_password: str

    @property
    def tls_port(self) -> int:
        assert self.broker.tls is not None
        return self.broker.tls.port


def client_files(data: Path, out: Path, agent_id: str) -> BrokerTls:
    out.mkdir(parents=True, exist_ok=True)
    key = ca.new_tls_key()
    cert = ca.client_cert(data, key.public_key(), agent_id)
    (out / "ca.pem").write_bytes(ca.ca_file(data).read_bytes())
    (out / "cert.pem").write_bytes(ca.cert_pem(cert))
    (out / "key.pem").write_bytes(ca.key_pem(key))
    return BrokerTls(str(out / "ca.pem"), str(out / "cert.pem"), str(out / "key.pem"))


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[Env]:
    data = tmp_path / "data"
    data.mkdir()
    registry = Registry(data / "hub.sqlite", password_iterations=1000)
    registry.add_site("s1", "大厅")
    for agent in ("a1", "a2"):
        registry.add_agent(agent, "s1", identity.public_key_bytes(identity.generate_key()))
    hub_password = registry.set_service_user("hub")
    files = broker_files.write_broker_files(registry, broker_files.broker_dir(data))
    server = ca.broker_server_cert(data, ["localhost"])
    tls = TlsListener(free_port(), ca.ca_file(data), server.cert, server.key, host="127.0.0.1")
    broker = MosquittoBroker(data, port=free_port(), password_file=files.password_file,
                             acl_file=files.acl_file, tls=tls, persistence=False)
    broker.start()
    try:
        yield Env(data, broker, hub_password)
    finally:
        broker.stop()


def _link(address: BrokerAddress, received: queue.Queue[tuple[str, bytes]] | None = None,
          subscriptions: list[str] | None = None) -> MqttLink:
    inbox = received if received is not None else queue.Queue()
    return MqttLink(address, f"c-{address.username}-{id(inbox)}", subscriptions or [],
                    lambda t, p: inbox.put((t, p)), lambda reason: None)


def test_config_has_a_mutual_tls_listener(tmp_path: Path) -> None:
    listener = TlsListener(8883, tmp_path / "ca.pem", tmp_path / "s.pem", tmp_path / "s.key",
                           crlfile=tmp_path / "crl.pem")
    lines = listener.config_lines()
    assert f"crlfile {tmp_path / 'crl.pem'}" in lines
    assert lines[0] == "listener 8883 0.0.0.0"
    for expected in ("require_certificate true", "use_identity_as_username true", "tls_version tlsv1.2",
                     f"cafile {tmp_path / 'ca.pem'}"):
        assert expected in lines


def test_agent_certificate_is_its_username_and_the_acl_applies(env: Env, tmp_path: Path) -> None:
    hub_inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
    hub = _link(BrokerAddress("127.0.0.1", env.broker.port, "hub", env.hub_password), hub_inbox,
                [topics.ALL_RECORDS])
    hub.connect()
    a1 = _link(BrokerAddress("localhost", env.tls_port, "a1", "", tls=client_files(env.data, tmp_path / "a1", "a1")))
    try:
        a1.connect()
        a1.publish(topics.records("a2"), b"forged")  # the ACL of user a1 (its CN) refuses a2's topic
        a1.publish(topics.records("a1"), b"mine")
        topic, payload = hub_inbox.get(timeout=10)
        assert (topic, payload) == (topics.records("a1"), b"mine")
        assert hub_inbox.empty()
    finally:
        a1.close()
        hub.close()


def test_broker_of_another_ca_is_refused_by_the_agent(env: Env, tmp_path: Path) -> None:
    other = tmp_path / "other-hub"
    ca.load_or_create_ca(other)
    good = client_files(env.data, tmp_path / "a1", "a1")
    pinned_elsewhere = BrokerTls(str(ca.ca_file(other)), good.cert_file, good.key_file)
    link = _link(BrokerAddress("localhost", env.tls_port, "a1", "", tls=pinned_elsewhere))
    with pytest.raises(LinkDown, match="not the hub's"):
        link.connect()


def test_host_name_not_in_the_broker_certificate_is_refused(env: Env, tmp_path: Path) -> None:
    link = _link(BrokerAddress("127.0.0.1", env.tls_port, "a1", "",
                               tls=client_files(env.data, tmp_path / "a1", "a1")))
    with pytest.raises(LinkDown, match="not the hub's"):
        link.connect()


def test_client_certificate_of_another_ca_is_refused_by_the_broker(env: Env, tmp_path: Path) -> None:
    other = tmp_path / "other-hub"
    foreign = client_files(other, tmp_path / "foreign", "a1")
    forged = BrokerTls(str(ca.ca_file(env.data)), foreign.cert_file, foreign.key_file)
    link = _link(BrokerAddress("localhost", env.tls_port, "a1", "", tls=forged))
    with pytest.raises(LinkDown):
        link.connect()


def test_no_client_certificate_is_refused(env: Env) -> None:
    context = ssl.create_default_context(cafile=str(ca.ca_file(env.data)))
    import socket

    with socket.create_connection(("127.0.0.1", env.tls_port), timeout=5) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"\x10\x00")  # the server ends the handshake: no certificate
                if not tls.recv(1):
                    raise ConnectionResetError("closed without a certificate")


def test_password_login_is_not_offered_on_the_tls_port(env: Env) -> None:
    """The hub's password works on its loopback listener only; the TLS port wants a certificate."""
    link = _link(BrokerAddress("localhost", env.tls_port, "hub", env.hub_password))
    with pytest.raises(LinkDown):
        link.connect()


def test_provisioned_tls_bundle_connects_without_a_password(env: Env, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agent.config import load_agent_config
    from provisioning.cli import main

    out = tmp_path / "bundle"
    result = CliRunner().invoke(main, ["agent", "add", "--data", str(env.data), "--site", "s1", "--id", "a3",
                                       "--out", str(out), "--broker-host", "localhost",
                                       "--broker-port", str(env.tls_port), "--tls"])
    assert result.exit_code == 0, result.output
    assert "broker reloaded" in result.output
    assert (out / "agent-tls.key").stat().st_mode & 0o077 == 0
    cfg = load_agent_config(out / "agent.yaml")
    assert cfg.broker.password == "" and cfg.broker.ca_file == "hub-ca.pem"
    hub_inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
    hub = _link(BrokerAddress("127.0.0.1", env.broker.port, "hub", env.hub_password), hub_inbox,
                [topics.ALL_RECORDS])
    hub.connect()
    link = _link(cfg.broker_address())
    try:
        link.connect()
        deadline = time.monotonic() + 10  # the broker reloads its ACL asynchronously after the SIGHUP
        while True:
            link.publish(topics.records("a3"), b"provisioned")
            try:
                assert hub_inbox.get(timeout=0.2) == (topics.records("a3"), b"provisioned")
                break
            except queue.Empty:
                assert time.monotonic() < deadline, "the provisioned agent's record never reached the hub"
    finally:
        link.close()
        hub.close()
