"""The production server (cheroot) on a free port: HTTP and HTTPS, headers, cookies, SSE, shutdown, proxy."""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import ssl
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.auth import connect
from hub.cli import main as hub_cli
from hub.web.app import create_app, shutdown
from hub.web.events import EventBus
from hub.web.metrics import Registry
from hub.webserver import SERVER_NAME, AppServer, gate_collector
from hub.webtls import TlsFiles, check_tls_files, self_issued
from shared.errors import ConfigError
from tests.support.wait import wait_until
from tests.web.conftest import FAST, PASSWORD, USERS, FakeClock, Hub

DEADLINE_S = 5.0
BANNERS = re.compile(rb"werkzeug|python|cheroot|flask", re.I)


def make_cert(directory: Path, names: tuple[str, ...] = ("127.0.0.1", "localhost"), *,
              days: int = 30) -> TlsFiles:
    """A self-signed server certificate made here with ``cryptography`` (also its own trust anchor)."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days)).add_extension(x509.SubjectAlternativeName(sans), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return files


@dataclass
class Served:
    """A hub app behind a real server, and a way to talk to it."""

    hub: Hub
    server: AppServer
    cafile: Path | None

    def connection(self, timeout: float = DEADLINE_S) -> http.client.HTTPConnection:
        if self.cafile is None:
            return http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        context = ssl.create_default_context(cafile=str(self.cafile))
        return http.client.HTTPSConnection("127.0.0.1", self.server.port, timeout=timeout, context=context)

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response, response.read()
        finally:
            conn.close()

    def login(self, username: str = USERS["monitor"], password: str = PASSWORD,
              headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, str]:
        """Sign in through the form; returns the POST's response and the session cookie pair."""
        page, html = self.request("GET", "/login", headers=headers)
        token = re.search(rb'name="csrf_token" value="([^"]+)"', html)
        assert page.status == 200 and token, html[:300]
        cookie = session_cookie(page)
        body = urlencode({"username": username, "password": password, "csrf_token": token.group(1).decode()})
        # as a browser does: the page's address as Referer (checked over HTTPS by the CSRF protection)
        https = self.cafile is not None or (headers or {}).get("X-Forwarded-Proto") == "https"
        referer = f"{'https' if https else 'http'}://127.0.0.1:{self.server.port}/login"
        response, _ = self.request("POST", "/login", body=body, headers={
            **(headers or {}), "Cookie": cookie.split(";")[0], "Content-Type": "application/x-www-form-urlencoded",
            "Referer": referer})
        return response, session_cookie(response)


def session_cookie(response: http.client.HTTPResponse) -> str:
    cookies = [c for c in response.headers.get_all("Set-Cookie") or [] if c.startswith("xn_session=")]
    assert cookies, f"no session cookie in {response.status} {dict(response.headers)}"
    return cookies[-1]


def flags(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


def _app(hub: Hub, **config: object):  # type: ignore[no-untyped-def]
    return create_app({"database": str(hub.db), "secret_key": "test-secret-key-0123456789", "sse_heartbeat_s": 0.2,
                       **config}, bus=EventBus(), metrics=Registry(), clock=hub.clock, scrypt=FAST, testing=True)


@pytest.fixture(params=["http", "https"])
def served(request: pytest.FixtureRequest, hub: Hub, tmp_path: Path) -> Iterator[Served]:
    tls = make_cert(tmp_path) if request.param == "https" else None
    server = AppServer(hub.app, "127.0.0.1", 0, tls=tls)
    server.start()
    yield Served(hub, server, tls.cert if tls else None)
    shutdown(hub.app)
    server.stop()


def test_no_version_banner_anywhere(served: Served) -> None:
    for method, path in (("GET", "/login"), ("GET", "/nothing-here"), ("HEAD", "/login"), ("GET", "/api/v1/me"),
                         ("GET", "/static/css/app.css")):
        response, body = served.request(method, path)
        assert response.getheader("Server") == SERVER_NAME, (method, path)
        raw_headers = str(response.headers).encode()
        assert not BANNERS.search(raw_headers), (method, path, raw_headers)
    # a request the server itself refuses (not the app) names no product either
    raw = socket.create_connection(("127.0.0.1", served.server.port), timeout=DEADLINE_S)
    if served.cafile is not None:
        raw = ssl.create_default_context(cafile=str(served.cafile)).wrap_socket(raw, server_hostname="127.0.0.1")
    with raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        answer = raw.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400") and not BANNERS.search(answer), answer


def test_session_cookie_is_secure_exactly_over_tls(served: Served) -> None:
    response, cookie = served.login()
    assert response.status == 302 and response.getheader("Location") == "/overview"
    over_tls = served.cafile is not None
    assert {"httponly", "path", "samesite"} <= flags(cookie)
    assert ("secure" in flags(cookie)) is over_tls, cookie
    page, _ = served.request("GET", "/overview", headers={"Cookie": cookie.split(";")[0]})
    assert page.status == 200
    assert (page.getheader("Strict-Transport-Security") == "max-age=31536000") is over_tls
    if not over_tls:
        assert page.getheader("Strict-Transport-Security") is None
    language, _ = served.request("GET", "/login?lang=en")
    lang_cookie = next(c for c in language.headers.get_all("Set-Cookie") or [] if c.startswith("xn_lang="))
    assert ("secure" in flags(lang_cookie)) is over_tls


def test_head_login_through_the_server_is_no_attempt(served: Served) -> None:
    for _ in range(20):
        response, body = served.request("HEAD", "/login")
        assert response.status == 200 and body == b""
    with served.hub.conn() as conn:
        assert conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM login_failures").fetchone()[0] == 0
    response, _ = served.login()
    assert response.status == 302


def test_sse_event_arrives_through_the_server_while_the_stream_stays_open(served: Served) -> None:
    _, cookie = served.login(USERS["admin"])
    conn = served.connection()
    try:
        conn.request("GET", "/api/v1/stream", headers={"Cookie": cookie.split(";")[0], "Accept": "text/event-stream"})
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Content-Type", "").startswith("text/event-stream")
        assert response.getheader("Server") == SERVER_NAME
        assert response.readline().startswith(b"retry: 3000"), "the first frame comes before any event"
        deadline = time.monotonic() + DEADLINE_S
        while served.hub.bus.subscriber_count == 0:
            assert time.monotonic() < deadline, "the stream never subscribed"
            time.sleep(0.01)
        published = time.monotonic()
        served.hub.bus.publish("card.raised", {"card_id": "K-77", "dept_code": "D01"})
        seen = b""
        while b"K-77" not in seen:
            line = response.readline()
            assert line, f"stream ended before the event: {seen!r}"
            seen += line
            assert time.monotonic() < deadline, seen
        latency = time.monotonic() - published
        assert b"event: card.raised" in seen and latency < 2.0, (latency, seen)
    finally:
        conn.close()


def test_stop_is_prompt_with_live_streams_open(served: Served) -> None:
    _, cookie = served.login(USERS["admin"])
    streams = []
    try:
        for _ in range(3):
            conn = served.connection()
            streams.append(conn)
            conn.request("GET", "/api/v1/stream", headers={"Cookie": cookie.split(";")[0]})
        responses = [conn.getresponse() for conn in streams]
        assert [r.status for r in responses] == [200, 200, 200]
        deadline = time.monotonic() + DEADLINE_S
        while served.hub.bus.subscriber_count < 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        started = time.monotonic()
        shutdown(served.hub.app)
        served.server.stop()
        took = time.monotonic() - started
        assert took < 4.0, f"stop took {took:.2f} s"
        for response in responses:
            assert b"event: stream.closed" in response.read()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", served.server.port), timeout=1).close()
    finally:
        for conn in streams:
            conn.close()


def test_plain_http_to_the_tls_port_gets_nothing_of_the_app(hub: Hub, tmp_path: Path) -> None:
    server = AppServer(hub.app, "127.0.0.1", 0, tls=make_cert(tmp_path))
    server.start()
    try:
        answer = b""
        with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE_S) as raw:
            raw.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            try:
                while chunk := raw.recv(65536):
                    answer += chunk
            except ConnectionResetError:
                pass  # the TLS handshake failed: the server drops the connection
        assert b"csrf_token" not in answer and b"Set-Cookie" not in answer, answer[:200]
        assert answer.startswith(b"HTTP/1.1 400") and b"use https://" in answer, answer[:200]
        served = Served(hub, server, server.tls.cert if server.tls else None)
        assert served.request("GET", "/login")[0].status == 200, "the server still serves TLS clients"
    finally:
        server.stop()


def test_unusable_certificates_are_refused_with_the_reason(tmp_path: Path) -> None:
    good = make_cert(tmp_path)
    (tmp_path / "other").mkdir()
    other = make_cert(tmp_path / "other")
    with pytest.raises(ConfigError, match="cannot be used together"):
        check_tls_files(TlsFiles(good.cert, other.key))
    with pytest.raises(ConfigError, match="does not exist"):
        check_tls_files(TlsFiles(tmp_path / "missing.pem", good.key))
    old = tmp_path / "old"
    old.mkdir()
    expired = make_cert(old, days=-1)
    with pytest.raises(ConfigError, match="expired"):
        check_tls_files(expired)


def test_self_issued_certificate_is_trusted_through_the_hub_ca(hub: Hub, tmp_path: Path) -> None:
    files = self_issued(tmp_path, ["localhost", "127.0.0.1"])
    tls_dir = tmp_path / "web-tls"
    for private in ("ca.key", "server.key"):
        assert stat.S_IMODE((tls_dir / private).stat().st_mode) == 0o600
    server = AppServer(hub.app, "127.0.0.1", 0, tls=files)
    server.start()
    try:
        context = ssl.create_default_context(cafile=str(tls_dir / "ca.pem"))  # what a browser gets imported
        for host in ("localhost", "127.0.0.1"):
            conn = http.client.HTTPSConnection(host, server.port, timeout=DEADLINE_S, context=context)
            conn.request("GET", "/login")
            assert conn.getresponse().status == 200
            conn.close()
    finally:
        server.stop()
    before = files.cert.read_bytes(), (tls_dir / "ca.pem").read_bytes()
    assert self_issued(tmp_path, ["localhost", "127.0.0.1"]).cert.read_bytes() == before[0], "kept while current"
    self_issued(tmp_path, ["hub.example.internal"])
    assert files.cert.read_bytes() != before[0], "new names: a new server certificate"
    assert (tls_dir / "ca.pem").read_bytes() == before[1], "by the same CA the browsers already trust"
    later = datetime.now(UTC) + timedelta(days=380)
    self_issued(tmp_path, ["hub.example.internal"], now=later)
    renewed = x509.load_pem_x509_certificate(files.cert.read_bytes())
    assert renewed.not_valid_after_utc > later + timedelta(days=300), "renewed before it expires"


def test_cli_checks_the_tls_options_before_starting(tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(tmp_path / "data")
    only_cert = runner.invoke(hub_cli, ["run", "--data", data, "--tls-cert", str(tmp_path / "c.pem")])
    assert only_cert.exit_code == 2 and "--tls-cert and --tls-key go together" in only_cert.output
    missing = runner.invoke(hub_cli, ["run", "--data", data, "--tls-cert", str(tmp_path / "c.pem"),
                                      "--tls-key", str(tmp_path / "k.pem")])
    assert missing.exit_code == 1 and "does not exist" in missing.output
    both = runner.invoke(hub_cli, ["run", "--data", data, "--tls-self-issued", "--tls-cert", "a", "--tls-key", "b"])
    assert both.exit_code == 2 and "not both" in both.output
    proxy = runner.invoke(hub_cli, ["run", "--data", data, "--trust-proxy", "--proxy-address", "not-an-ip"])
    assert proxy.exit_code == 1 and "is not an IP address or network" in proxy.output
    assert "--tls-self-issued" in runner.invoke(hub_cli, ["run", "--help"]).output


@pytest.mark.parametrize("proxy_networks, honoured", [("127.0.0.1/32,::1/128", True), ("10.1.2.3", False)])
def test_forwarded_headers_only_from_the_trusted_proxy(hub: Hub, proxy_networks: str, honoured: bool) -> None:
    app = _app(hub, trust_proxy=True, proxy_networks=proxy_networks)
    server = AppServer(app, "127.0.0.1", 0)
    server.start()
    try:
        served = Served(hub, server, None)
        forwarded = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9", "X-Forwarded-Proto": "https"}
        response, cookie = served.login(headers=forwarded)
        assert response.status == 302
        assert ("secure" in flags(cookie)) is honoured
        assert (response.getheader("Strict-Transport-Security") is not None) is honoured
        with connect(hub.db) as conn:
            ip = conn.execute("SELECT detail FROM audit_log WHERE action = 'auth.login'").fetchone()[0]
        expected = "203.0.113.9" if honoured else "127.0.0.1"  # the proxy's own entry: the last one
        assert f'"ip": "{expected}"' in ip
    finally:
        shutdown(app)
        server.stop()


def test_many_live_streams_leave_workers_for_pages(tmp_path: Path) -> None:
    """Streams at their limit still leave REQUEST_THREADS workers: pages answer at once."""
    from hub.auth import create_user, ensure_schema
    from hub.webserver import REQUEST_THREADS

    db = tmp_path / "hub.sqlite"
    conn = connect(db)
    ensure_schema(conn)
    create_user(conn, "admin-user", PASSWORD, "admin", params=FAST, clock=FakeClock())
    conn.close()
    bus = EventBus()
    app = create_app({"database": str(db), "secret_key": "test-secret-key-0123456789", "sse_max_clients": 4,
                      "sse_heartbeat_s": 0.2}, bus=bus, metrics=Registry(), scrypt=FAST, testing=True)
    server = AppServer(app, "127.0.0.1", 0, threads=4 + REQUEST_THREADS)
    server.start()
    served = Served(Hub(app, db, FakeClock(), bus, Registry()), server, None)
    held = []
    try:
        _, cookie = served.login("admin-user")
        for _ in range(4):
            conn_ = served.connection()
            conn_.request("GET", "/api/v1/stream", headers={"Cookie": cookie.split(";")[0]})
            held.append((conn_, conn_.getresponse()))
        refused, _ = served.request("GET", "/api/v1/stream", headers={"Cookie": cookie.split(";")[0]})
        assert refused.status == 503, "beyond sse_max_clients"
        results: list[float] = []

        def fetch() -> None:
            started = time.monotonic()
            response, _ = served.request("GET", "/login")
            assert response.status == 200
            results.append(time.monotonic() - started)

        threads = [threading.Thread(target=fetch) for _ in range(REQUEST_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE_S)
        assert len(results) == REQUEST_THREADS and max(results) < 5.0, results
    finally:
        bus.close()
        server.stop()
        for conn_, _response in held:
            conn_.close()


def test_a_burst_of_reconnecting_streams_never_exceeds_the_limit(hub: Hub) -> None:
    """Ten browsers reconnecting at once to a hub that allows four streams: four get one, six a 503."""
    app = _app(hub, sse_max_clients=4)
    server = AppServer(app, "127.0.0.1", 0, threads=4 + 16)
    server.start()
    served = Served(hub, server, None)
    _, cookie = served.login(USERS["admin"])
    state = app.extensions["xiaoneng"]
    gate = threading.Barrier(10)
    statuses: list[int] = []
    conns: list[http.client.HTTPConnection] = []
    lock = threading.Lock()

    def reconnect() -> None:
        conn = served.connection()
        with lock:
            conns.append(conn)
        gate.wait(DEADLINE_S)
        conn.request("GET", "/api/v1/stream", headers={"Cookie": cookie.split(";")[0]})
        response = conn.getresponse()
        with lock:
            statuses.append(response.status)
        if response.status != 200:
            response.read()

    try:
        threads = [threading.Thread(target=reconnect) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE_S)
        assert sorted(statuses) == [200] * 4 + [503] * 6
        assert state.streams.open == 4
    finally:
        for conn in conns:
            conn.close()
        deadline = time.monotonic() + DEADLINE_S
        while state.streams.open and time.monotonic() < deadline:  # closed by the server as the clients go
            time.sleep(0.01)
        shutdown(app)
        server.stop()
    assert state.streams.open == 0, "every slot is given back"


def _plain_app(environ, start_response):  # type: ignore[no-untyped-def]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _timed_get(server: AppServer, cafile: Path | None) -> tuple[int, float]:
    started = time.monotonic()
    response, _ = Served(None, server, cafile).request("GET", "/")  # type: ignore[arg-type]
    return response.status, time.monotonic() - started


def test_a_client_that_connects_and_says_nothing_stalls_no_one(tmp_path: Path) -> None:
    """cheroot's own adapter shook hands in its accepting thread: one idle connection stalled HTTPS 10 s."""
    tls = make_cert(tmp_path)
    server = AppServer(_plain_app, "127.0.0.1", 0, tls=tls, threads=4)
    server.start()
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
    try:
        time.sleep(0.2)  # let the server accept them (a sleep only to make the bad case likely, not to sync)
        status, took = _timed_get(server, tls.cert)
        assert status == 200 and took < 5.0, took  # cheroot's own adapter: 9.8 s
    finally:
        for s in idle:
            s.close()
        server.stop()


def test_silent_connections_hold_no_worker(tmp_path: Path) -> None:
    """Ten connections that say nothing (a browser's spare ones) and a server of two workers: pages still flow."""
    server = AppServer(_plain_app, "127.0.0.1", 0, threads=2)
    server.start()
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(10)]
    try:
        for _ in range(5):
            status, took = _timed_get(server, None)
            assert status == 200 and took < 5.0, took  # without parking: 10 s per silent connection
        assert server.gate.reaped == 0 and server.gate.refused == 0
    finally:
        for s in idle:
            s.close()
        server.stop()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_trickled_request_head_is_cut_at_the_deadline(tmp_path: Path, scheme: str) -> None:
    tls = make_cert(tmp_path) if scheme == "https" else None
    server = AppServer(_plain_app, "127.0.0.1", 0, tls=tls, threads=2, head_deadline_s=1.0)
    server.start()
    context = ssl.create_default_context(cafile=str(tls.cert)) if tls else None
    slow: list[socket.socket] = []
    stop = threading.Event()
    try:
        for _ in range(2):  # both workers, each held by a slowloris sending a header every 0.2 s
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE_S)
            sock = context.wrap_socket(raw, server_hostname="127.0.0.1") if context else raw
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            slow.append(sock)

        def trickle() -> None:
            while not stop.wait(0.2):
                for sock in slow:
                    with contextlib.suppress(OSError):
                        sock.sendall(b"X-Slow: 1\r\n")

        dripper = threading.Thread(target=trickle)
        dripper.start()
        status, took = _timed_get(server, tls.cert if tls else None)
        assert status == 200 and took < 6.0, f"a page waited {took:.1f} s behind two slowloris"
        # the first cut frees the worker the page needed; the second follows within its own deadline
        wait_until(lambda: server.gate.reaped >= 2, timeout=DEADLINE_S, message="both slowloris cut")
        registry = Registry()
        registry.add_collector(lambda: gate_collector(server.gate))
        assert registry.value("xiaoneng_web_connections_cut_total", reason="deadline") >= 2
        for sock in slow:
            sock.settimeout(DEADLINE_S)
            with contextlib.suppress(OSError):
                assert sock.recv(100) == b"", "the slow connection was closed, not answered"
        stop.set()
        dripper.join(DEADLINE_S)
    finally:
        stop.set()
        for sock in slow:
            sock.close()
        server.stop()


def test_one_address_may_hold_only_a_few_connections_in_the_request_head(tmp_path: Path) -> None:
    server = AppServer(_plain_app, "127.0.0.1", 0, threads=12, head_per_address=3)
    server.start()
    slow = []
    try:
        for _ in range(8):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE_S)
            sock.sendall(b"GET / HTTP/1.1\r\n")
            slow.append(sock)
        deadline = time.monotonic() + DEADLINE_S
        while server.gate.refused < 5:
            assert time.monotonic() < deadline, f"refused {server.gate.refused}"
            time.sleep(0.01)
        closed = 0
        for sock in slow:
            sock.settimeout(0.5)
            try:
                closed += sock.recv(100) == b""
            except TimeoutError:
                pass  # still waiting for the rest of its head: one of the three allowed
        assert closed == 5
        for sock in slow:
            sock.close()
        deadline = time.monotonic() + DEADLINE_S
        while server.gate.in_phase():  # the workers reading the three notice their close in their own time
            assert time.monotonic() < deadline, f"{server.gate.in_phase()} still in the request head"
            time.sleep(0.01)
        assert _timed_get(server, None)[0] == 200
    finally:
        for sock in slow:
            sock.close()
        server.stop()


@pytest.mark.broker
@pytest.mark.slow
def test_hub_run_with_a_self_issued_certificate(tmp_path: Path) -> None:
    """``xiaoneng-hub run --tls-self-issued`` as a process: HTTPS the hub CA vouches for, and a prompt stop."""
    import os
    import signal
    import subprocess
    import sys

    from tests.support.ports import free_port
    from tests.support.required import need_tool

    need_tool("mosquitto", "mosquitto")
    data, http_port = tmp_path / "hub", free_port()
    argv = [sys.executable, "-m", "hub.cli", "run", "--data", str(data), "--mqtt-port", str(free_port()),
            "--http-port", str(http_port), "--tls-self-issued", "--no-supervision"]
    log = tmp_path / "hub.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=sink, env={**os.environ})
    try:
        ca = data / "web-tls" / "ca.pem"

        def answer() -> http.client.HTTPResponse | None:
            if proc.poll() is not None:
                raise AssertionError(f"the hub exited: {log.read_text(errors='replace')[-2000:]}")
            if not ca.exists():
                return None
            conn = http.client.HTTPSConnection("localhost", http_port, timeout=DEADLINE_S,
                                               context=ssl.create_default_context(cafile=str(ca)))
            try:
                conn.request("GET", "/login")
                response = conn.getresponse()
                response.read()
                return response
            except OSError:
                return None
            finally:
                conn.close()

        response = wait_until(answer, timeout=60, message="the hub never answered over HTTPS")
        assert response.status == 200 and response.getheader("Server") == SERVER_NAME
        assert "Secure" in (response.getheader("Set-Cookie") or "")
        assert response.getheader("Strict-Transport-Security") == "max-age=31536000"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
