"""Enrolment by one-time token: the token, its store and rate limit, and the whole path on a real hub —
token → keys made by the agent → certificate → records at the hub over mutual TLS."""

from __future__ import annotations

import json
import os
import pwd
import queue
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from agent.config import load_agent_config
from agent.enroll import EnrolFailed, due_at, enrol, rotate
from agent.link import LinkDown, MqttLink
from hub.auth import connect, create_user, ensure_schema
from hub.enroll import EnrolRefused, RateLimit, TokenStore, parse_ttl
from hub.runtime import Hub, HubOptions
from hub.webserver import WebOptions
from hub.webtls import self_issued
from provisioning import ca
from provisioning.identity import load_key
from provisioning.registry import Registry
from shared.enrolment import EnrolmentToken, parse_token
from shared.errors import ConfigError
from shared.topics import records
from tests.support.enrol_hub import Running, running_hub
from tests.support.ports import free_port
from tests.support.wait import wait_until
from tests.web.conftest import FAST, login, page_csrf

PIN = "ab" * 32


def test_token_text_round_trip_and_damage() -> None:
    token = EnrolmentToken(b"s" * 16, PIN)
    text = token.text()
    assert text.startswith("xn1.") and len(text) < 80
    assert parse_token(f"  {text[:30]}\n{text[30:]} ") == token  # pasted over two lines
    for bad in ("", "xn1.abc", "xn2." + text[4:], text[:-3], text.replace(".", "!", 1)):
        with pytest.raises(ConfigError):
            parse_token(bad)


def test_ttl() -> None:
    assert parse_ttl("24h") == timedelta(hours=24)
    assert parse_ttl("30m") == timedelta(minutes=30)
    for bad in ("0m", "31d", "soon"):
        with pytest.raises(ConfigError):
            parse_ttl(bad)


def _store(tmp_path: Path) -> tuple[TokenStore, list[datetime]]:
    now = [datetime(2026, 12, 3, 10, 0, tzinfo=UTC)]
    registry = Registry(tmp_path / "hub.sqlite", password_iterations=1000)
    registry.add_site("s1", "大厅")
    return TokenStore(tmp_path / "hub.sqlite", clock=lambda: now[0]), now


def test_token_is_single_use_and_expires(tmp_path: Path) -> None:
    store, now = _store(tmp_path)
    token, expires = store.create("s1", "a1", PIN, timedelta(hours=1))
    assert expires == now[0] + timedelta(hours=1)
    assert store.consume(token.secret, "10.0.0.5") == ("s1", "a1", False)
    with pytest.raises(EnrolRefused, match="already used") as used:
        store.consume(token.secret, "10.0.0.6")
    assert used.value.code == "token_used"
    late, _ = store.create("s1", "a2", PIN, timedelta(hours=1))
    now[0] += timedelta(hours=1, seconds=1)
    with pytest.raises(EnrolRefused, match="expired") as expired:
        store.consume(late.secret, "10.0.0.5")
    assert expired.value.code == "token_expired"
    with pytest.raises(EnrolRefused, match="unknown") as forged:
        store.consume(b"f" * 16, "10.0.0.5")
    assert forged.value.code == "token_unknown"
    with sqlite3.connect(tmp_path / "hub.sqlite") as conn:
        stored = {row[0] for row in conn.execute("SELECT secret_hash FROM enrol_tokens")}
    assert token.secret.hex() not in stored and token.secret_hash in stored  # only the hash is kept


def test_token_for_unknown_site_or_existing_agent_is_refused(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    registry = Registry(tmp_path / "hub.sqlite")
    registry.add_agent("taken", "s1", b"k" * 32)
    with pytest.raises(Exception, match="not registered"):
        store.create("nowhere", "a1", PIN, registry=registry)
    with pytest.raises(Exception, match="already exists"):
        store.create("s1", "taken", PIN, registry=registry)


def test_rate_limit_per_address_and_overall() -> None:
    clock = [0.0]
    limit = RateLimit(per_address=3, overall=5, window_s=60, monotonic=lambda: clock[0])
    for _ in range(3):
        limit.check("10.0.0.1")
    with pytest.raises(EnrolRefused) as refused:
        limit.check("10.0.0.1")
    assert refused.value.status == 429 and refused.value.retry_after == 61
    limit.check("10.0.0.2")
    limit.check("10.0.0.3")
    with pytest.raises(EnrolRefused):
        limit.check("10.0.0.4")  # 5 in the window from every address together
    clock[0] = 61.0
    limit.check("10.0.0.1")


# -- the whole path on a real hub ------------------------------------------------------------------


@pytest.fixture()
def running(tmp_path: Path) -> Iterator[Running]:
    with running_hub(tmp_path) as hub:
        yield hub


def _stored(data: Path, agent_id: str) -> int:
    with sqlite3.connect(f"file:{data / 'hub.sqlite'}?mode=ro", uri=True, timeout=10) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM records WHERE agent_id = ?", (agent_id,)).fetchone()[0])


def test_enrolled_agent_delivers_over_mutual_tls(running: Running, tmp_path: Path) -> None:
    out = tmp_path / "hall-pc"
    result = enrol(running.url, running.token("pc-01"), out)
    assert (result.agent_id, result.site_id) == ("pc-01", "hall")
    for private in ("agent.key", "agent-tls.key", "agent.yaml"):
        assert (out / private).stat().st_mode & 0o077 == 0, private
    cfg = load_agent_config(out / "agent.yaml")
    assert cfg.broker.ca_file and not cfg.broker.password  # no password anywhere: the certificate logs in
    assert cfg.hub_public_key == running.hub.key.public_key().public_bytes_raw().hex()
    registered = running.hub.registry.agent("pc-01")
    assert registered is not None
    assert registered.public_key == load_key(out / "agent.key").public_key().public_bytes_raw()
    assert yaml.safe_load((out / "agent.yaml").read_text())["broker"]["host"] == "localhost"
    log = tmp_path / "agent.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", "--config", str(out / "agent.yaml"),
                                 "--synthetic-rate", "20"], stdout=fh, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _stored(running.data, "pc-01") >= 10, 60, message="records of the enrolled agent at the hub")
    finally:
        proc.terminate()
        proc.wait(20)
    broker_log = (running.data / "broker" / "mosquitto.log").read_text()
    assert "as pc-01" in broker_log or "u'pc-01'" in broker_log, broker_log[-2000:]
    audit = TokenStore(running.data / "hub.sqlite").audit_rows()
    assert [row[3] for row in audit] == ["created", "enrolled"]


def test_replayed_forged_and_expired_tokens_are_refused(running: Running, tmp_path: Path) -> None:
    token = running.token("pc-02")
    enrol(running.url, token, tmp_path / "first")
    with pytest.raises(EnrolFailed, match="already used"):
        enrol(running.url, token, tmp_path / "replay")
    forged = EnrolmentToken(b"x" * 16, parse_token(token).fingerprint).text()
    with pytest.raises(EnrolFailed, match="unknown enrolment token"):
        enrol(running.url, forged, tmp_path / "forged")
    store = TokenStore(running.data / "hub.sqlite", clock=lambda: datetime.now(UTC) - timedelta(hours=2))
    stale, _ = store.create("hall", "pc-03", parse_token(token).fingerprint, timedelta(hours=1))
    with pytest.raises(EnrolFailed, match="expired"):
        enrol(running.url, stale.text(), tmp_path / "stale")
    assert running.hub.registry.agent("pc-03") is None
    # A second attempt of the same machine with a new token keeps its keys (made once, here).
    key_before = (tmp_path / "stale" / "agent.key").read_bytes()
    enrol(running.url, running.token("pc-03"), tmp_path / "stale")
    assert (tmp_path / "stale" / "agent.key").read_bytes() == key_before


def test_wrong_pin_sends_nothing(running: Running, tmp_path: Path) -> None:
    token = parse_token(running.token("pc-04"))
    other_pin = EnrolmentToken(token.secret, "00" * 32).text()
    with pytest.raises(EnrolFailed, match="not the hub that issued this token"):
        enrol(running.url, other_pin, tmp_path / "out")
    enrol(running.url, token.text(), tmp_path / "out2")  # the token was not spent on the impostor check


def test_enrolment_reloads_the_broker_without_dropping_agents(running: Running, tmp_path: Path) -> None:
    enrol(running.url, running.token("pc-05"), tmp_path / "a")
    cfg = load_agent_config(tmp_path / "a" / "agent.yaml")
    downs: queue.Queue[str] = queue.Queue()
    link = MqttLink(cfg.broker_address(), "xn-agent-pc-05", [], lambda t, p: None, downs.put)
    link.connect()
    try:
        enrol(running.url, running.token("pc-06"), tmp_path / "b")
        second = load_agent_config(tmp_path / "b" / "agent.yaml")
        other = MqttLink(second.broker_address(), "xn-agent-pc-06", [], lambda t, p: None, lambda r: None)
        other.connect()  # the new login works at once (the broker reloaded its ACL)
        other.publish(records("pc-06"), b"{}")
        other.close()
        assert link.connected and downs.empty()
    finally:
        link.close()


def test_commands_for_the_administrator_and_the_it_person(running: Running, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agent.cli import main as agent_main
    from hub.cli import main as hub_main

    created = CliRunner().invoke(hub_main, ["enroll", "create", "--data", str(running.data), "--site", "hall",
                                            "--agent", "pc-09", "--ttl", "2h", "--hub-url", running.url])
    assert created.exit_code == 0, created.output
    token = next(line for line in created.output.splitlines() if line.startswith("xn1."))
    assert f"xiaoneng-agent enroll --hub {running.url} --token {token}" in created.output
    out = tmp_path / "pc-09"
    user = "nobody" if os.geteuid() == 0 else None  # enrolled by root, the files go to the service account
    done = CliRunner().invoke(agent_main, ["enroll", "--hub", running.url, "--token", token, "--out", str(out),
                                           *(["--user", user] if user else [])])
    assert done.exit_code == 0, done.output
    assert "enrolled: agent pc-09, site hall" in done.output
    owner = (out / "agent-tls.key").stat().st_uid
    if user:
        assert owner == pwd.getpwnam(user).pw_uid
    not_due = CliRunner().invoke(agent_main, ["rotate", "--config", str(out / "agent.yaml")])
    assert not_due.exit_code == 0 and "not due" in not_due.output, not_due.output
    rotated = CliRunner().invoke(agent_main, ["rotate", "--config", str(out / "agent.yaml"), "--force"])
    assert rotated.exit_code == 0 and "renewed" in rotated.output, rotated.output
    assert (out / "agent-tls.key").stat().st_uid == owner  # a root timer's rotation keeps the owner
    again = CliRunner().invoke(agent_main, ["enroll", "--hub", running.url, "--token", token,
                                            "--out", str(tmp_path / "again")])
    assert again.exit_code == 1 and "token_used" in again.output and "已使用" in again.output
    taken = CliRunner().invoke(hub_main, ["enroll", "create", "--data", str(running.data), "--site", "hall",
                                          "--agent", "pc-09"])
    assert taken.exit_code == 1 and "already exists" in taken.output
    log = CliRunner().invoke(hub_main, ["enroll", "log", "--data", str(running.data)])
    assert [line.split("\t")[3] for line in log.output.splitlines()] == ["created", "enrolled", "renewed",
                                                                          "token_used"]


def test_revoked_agent_is_refused_by_the_broker_within_seconds(running: Running, tmp_path: Path) -> None:
    """Revocation rewrites the CRL and reloads the broker (SIGHUP): the revoked certificate is refused at
    the handshake, its open connection ends, and the other agents stay connected."""
    enrol(running.url, running.token("pc-07"), tmp_path / "a")
    enrol(running.url, running.token("pc-08"), tmp_path / "b")
    revoked_cfg = load_agent_config(tmp_path / "a" / "agent.yaml")
    other_cfg = load_agent_config(tmp_path / "b" / "agent.yaml")
    downs: queue.Queue[str] = queue.Queue()
    other = MqttLink(other_cfg.broker_address(), "xn-agent-pc-08", [], lambda t, p: None, downs.put)
    other.connect()
    link = MqttLink(revoked_cfg.broker_address(), "xn-agent-pc-07", [], lambda t, p: None, lambda r: None)
    link.connect()
    link.close()
    try:
        revoked_at = time.monotonic()
        running.hub.registry.revoke("pc-07")
        running.hub.refresh_broker()
        refused = ""
        while not refused:
            try:
                link.connect()
                link.close()
            except LinkDown as exc:
                refused = str(exc)
            assert time.monotonic() - revoked_at < 10, "the revoked certificate is still accepted after 10 s"
        assert "revoked" in refused
        assert other.connected and downs.empty()
    finally:
        link.close()
        other.close()


def test_rotate_renews_at_two_thirds_signed_by_the_agent_key(running: Running, tmp_path: Path) -> None:
    enrol(running.url, running.token("pc-10"), tmp_path / "a")
    config = tmp_path / "a" / "agent.yaml"
    old_cert = x509.load_pem_x509_certificate((tmp_path / "a" / "agent-tls.pem").read_bytes())
    old_key = (tmp_path / "a" / "agent-tls.key").read_bytes()
    early = rotate(config)
    assert not early.renewed and early.due_at == due_at(old_cert)
    with pytest.raises(EnrolFailed, match="clock_skew"):  # a machine whose clock is ahead is told so
        rotate(config, now=early.due_at + timedelta(minutes=1))
    done = rotate(config, force=True)
    assert done.renewed
    new_cert = x509.load_pem_x509_certificate((tmp_path / "a" / "agent-tls.pem").read_bytes())
    assert new_cert.serial_number != old_cert.serial_number
    assert (tmp_path / "a" / "agent-tls.key").read_bytes() != old_key
    cfg = load_agent_config(config)
    link = MqttLink(cfg.broker_address(), "xn-agent-pc-10", [], lambda t, p: None, lambda r: None)
    link.connect()  # the broker takes the new certificate
    link.close()
    outcomes = [row[3] for row in TokenStore(running.data / "hub.sqlite").audit_rows() if row[2] == "pc-10"]
    assert outcomes == ["created", "enrolled", "clock_skew", "renewed"]


def test_expired_certificate_is_refused_and_reenrolment_keeps_key_and_outbox(running: Running, tmp_path: Path) -> None:
    out = tmp_path / "a"
    enrol(running.url, running.token("pc-11"), out)
    config = out / "agent.yaml"
    settings = yaml.safe_load(config.read_text())
    settings["capture"] = [{"name": "approval", "profile": "p.yaml", "database": "sqlite:///x"}]
    config.write_text(yaml.safe_dump(settings))
    (out / "data").mkdir()
    (out / "data" / "outbox.sqlite").write_bytes(b"records not yet delivered")
    signing_key = (out / "agent.key").read_bytes()
    # The certificate ran out while the hall machine was switched off.
    tls_key = load_pem_private_key((out / "agent-tls.key").read_bytes(), password=None)
    assert isinstance(tls_key, ec.EllipticCurvePrivateKey)
    expired = ca.client_cert(running.data, tls_key.public_key(), "pc-11", days=1,
                             now=datetime.now(UTC) - timedelta(days=2))
    (out / "agent-tls.pem").write_bytes(ca.cert_pem(expired))
    address = load_agent_config(config).broker_address()
    with pytest.raises(LinkDown):
        MqttLink(address, "xn-agent-pc-11", [], lambda t, p: None, lambda r: None).connect()
    with pytest.raises(EnrolFailed, match="re-enrolment token"):
        rotate(config)
    with pytest.raises(Exception, match="already exists"):
        running.token("pc-11")  # an ordinary token cannot take over an existing agent
    token, _ = TokenStore(running.data / "hub.sqlite").create(
        "hall", "pc-11", ca.leaf_fingerprint(running.server_pem), registry=running.hub.registry, reenrol=True)
    with pytest.raises(EnrolFailed, match="key_mismatch"):  # another machine cannot use it
        enrol(running.url, token.text(), tmp_path / "impostor")
    token, _ = TokenStore(running.data / "hub.sqlite").create(
        "hall", "pc-11", ca.leaf_fingerprint(running.server_pem), registry=running.hub.registry, reenrol=True)
    enrol(running.url, token.text(), out, again=True)
    assert (out / "agent.key").read_bytes() == signing_key
    assert (out / "data" / "outbox.sqlite").read_bytes() == b"records not yet delivered"
    assert yaml.safe_load(config.read_text())["capture"] == settings["capture"]
    link = MqttLink(load_agent_config(config).broker_address(), "xn-agent-pc-11", [], lambda t, p: None,
                    lambda r: None)
    link.connect()
    link.close()


def test_a_malformed_request_does_not_spend_the_token(running: Running, tmp_path: Path) -> None:
    import http.client
    import ssl

    token = running.token("pc-12")
    context = ssl.create_default_context(cafile=str(ca.ca_file(running.data)))
    conn = http.client.HTTPSConnection("localhost", int(running.url.rsplit(":", 1)[1]), context=context, timeout=10)
    try:
        conn.request("POST", "/api/enroll", body=json.dumps({"token": token, "public_key": "00" * 32,
                                                             "csr": "not a CSR"}),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 400 and answer["error"] == "bad_request" and "CSR" in answer["message"]
    enrol(running.url, token, tmp_path / "a")  # still valid


def test_enrolment_needs_https_and_the_tls_listener(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    for options, problem in (
        (HubOptions(data_dir=data, mqtt_port=free_port(), http_port=None, enroll_port=free_port(),
                    mqtt_tls_port=free_port()), "needs HTTPS"),
        (HubOptions(data_dir=data, mqtt_port=free_port(), http_port=None, enroll_port=free_port(),
                    web=WebOptions(tls=self_issued(data, ["localhost"]))),
         "needs the embedded broker with --mqtt-tls-port"),
    ):
        hub = Hub(options)
        with pytest.raises(ConfigError, match=problem):
            hub.start()
        hub.stop()


def test_hub_command_line_to_records_over_tls(tmp_path: Path) -> None:
    """`xiaoneng-hub run --tls-self-issued --mqtt-tls-port --enroll-port`, `enroll create`, `xiaoneng-agent
    enroll` and `run`, all as processes: the first record reaches the hub's store."""
    from simulator.cluster import LocalCluster

    enroll_port = free_port()
    cluster = LocalCluster(tmp_path, [], site_id="hall", embedded_broker=True,
                           hub_args=["--no-supervision", "--tls-self-issued", "--tls-name", "localhost",
                                     "--enroll-port", str(enroll_port), "--enroll-host", "127.0.0.1"])
    agent: subprocess.Popen[bytes] | None = None
    try:
        cluster.setup()
        cluster.start_hub()
        url = f"https://localhost:{enroll_port}"
        created = subprocess.run([sys.executable, "-m", "hub.cli", "enroll", "create", "--data", str(cluster.hub_dir),
                                  "--site", "hall", "--agent", "pc-20"], capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        token = next(line for line in created.stdout.splitlines() if line.startswith("xn1."))
        out = tmp_path / "hall-pc"
        enrolled = subprocess.run([sys.executable, "-m", "agent.cli", "enroll", "--hub", url, "--token", token,
                                   "--out", str(out)], capture_output=True, text=True, timeout=60)
        assert enrolled.returncode == 0, enrolled.stderr
        with open(tmp_path / "agent.log", "wb") as log:
            agent = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", "--config", str(out / "agent.yaml"),
                                      "--synthetic-rate", "10"], stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: _stored(cluster.hub_dir, "pc-20") >= 1, 60, message="the enrolled agent's first record")
        assert cluster.tls_port is not None
        assert yaml.safe_load((out / "agent.yaml").read_text())["broker"]["port"] == cluster.tls_port
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(20)
        cluster.stop_all()


def test_a_token_issued_on_the_devices_page_enrols_an_agent(tmp_path: Path) -> None:
    """The web UI of a running hub (HTTPS, enrolment port) issues the token; the command it shows enrols
    the hall machine, whose records reach the hub over mutual TLS (the browser test does this in Chromium)."""
    data = tmp_path / "hub"
    data.mkdir()
    tls = self_issued(data, ["localhost", "127.0.0.1"])
    hub = Hub(HubOptions(data_dir=data, mqtt_port=free_port(), http_port=free_port(), supervision=False,
                         web=WebOptions(tls=tls), mqtt_tls_port=free_port(), mqtt_tls_host="127.0.0.1",
                         broker_names=("localhost",), enroll_port=free_port(), enroll_host="127.0.0.1"))
    hub.registry.add_site("hall", "市民中心")
    with closing(connect(data / "hub.sqlite")) as conn:
        ensure_schema(conn)
        create_user(conn, "admin1", "web admin password 1", "admin", params=FAST)
    hub.start()
    try:
        assert hub.web is not None and hub.enrol is not None
        client = hub.web.app.test_client()
        client.environ_base.update({"wsgi.url_scheme": "https", "HTTP_REFERER": "https://localhost/devices"})
        assert login(client, "admin1", "web admin password 1").status_code == 302
        html = client.post("/devices/enrol", base_url="https://localhost", data={
            "site": "hall", "agent": "pc-30", "ttl": "1h", "csrf_token": page_csrf(client)}).get_data(as_text=True)
        shown = re.search(r'<pre class="enrol-command" id="enrol-command">([^<]+)</pre>', html)
        assert shown, html[-2000:]
        argv = shlex.split(shown.group(1))
        hub_url, token = argv[argv.index("--hub") + 1], argv[argv.index("--token") + 1]
        assert hub_url == f"https://localhost:{hub.enrol.port}"
        result = enrol(hub_url, token, tmp_path / "hall-pc")
        assert (result.agent_id, result.site_id) == ("pc-30", "hall")
        with open(tmp_path / "agent.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", "--config",
                                     str(tmp_path / "hall-pc" / "agent.yaml"), "--synthetic-rate", "10"],
                                    stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: _stored(data, "pc-30") >= 1, 60, message="the first record of the agent enrolled")
        finally:
            proc.terminate()
            proc.wait(20)
        audit = TokenStore(data / "hub.sqlite").audit_rows()
        assert [(row[1], row[3]) for row in audit] == [("web:admin1", "created"), ("127.0.0.1", "enrolled")]
    finally:
        hub.stop()
