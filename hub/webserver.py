"""Serving the web UI from the hub process: the Flask app on cheroot, fed by ingest.

Why cheroot (cheroot 11.1 and waitress 3.0 tried on this machine, 2026-12-03):

* it is a production HTTP/1.1 server in pure Python that runs *inside* the hub process, beside
  ingest and the supervision engine, whose event bus feeds the live-update streams. gunicorn is a
  process manager of its own: its master forks the worker processes that run the app, and those
  would not share that bus (nor the ingest counters the metrics read);
* it has TLS built in (the standard library's ``ssl`` through its builtin adapter), so
  ``--tls-cert/--tls-key`` need no reverse proxy. waitress has no TLS at all;
* streamed responses are written as they are yielded: a Server-Sent Events frame reached the
  client 1 ms after the app yielded it (waitress 3.0 also streams promptly, it is not buffering
  that ruled it out);
* ``stop()`` is prompt: the listening socket closes at once, idle workers end, and a worker still
  in a request is given :data:`SHUTDOWN_TIMEOUT_S` before its socket is shut down.

cheroot's worker pool does not grow: each open live stream (SSE) holds one worker, so the pool is
``sse_max_clients`` + :data:`REQUEST_THREADS` workers, which keeps :data:`REQUEST_THREADS` free for
pages and API calls even when every stream slot is taken (216 idle workers measured: 4 MB, started
in 17 ms).

What cheroot does not do by itself, added here (:class:`_TlsAdapter`, :meth:`_Server.process_conn`,
:class:`_Gate`):

* its builtin TLS adapter completes the handshake in the one thread that accepts connections, so a
  single client that connects and sends nothing stalled every other HTTPS client for the socket
  timeout (measured: 9.8 s per idle connection). Here the handshake runs in a worker instead;
* a new connection went straight to a worker and held it until the client spoke (browsers open
  spare connections ahead of need). Here it waits in the selector until its first bytes arrive;
* a connection in its TLS handshake or request head (line and headers) holds a worker; one that
  trickles bytes (slowloris) would hold it for ever. Here that phase has a deadline of
  :data:`HEAD_DEADLINE_S` in all, and one client address may have at most
  :data:`HEAD_PHASE_PER_ADDRESS` connections in it at once (more are closed at once).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cheroot import wsgi
from cheroot.server import HTTPConnection, HTTPRequest
from cheroot.ssl.builtin import BuiltinSSLAdapter

from hub.desk.service import Desk
from hub.service import IngestService
from hub.supervision.metrics import supervision_collector
from hub.supervision.queries import SupervisionProvider
from hub.supervision.service import SupervisorService
from hub.web.app import create_app, shutdown
from hub.web.blueprints.desk import attach as attach_desk
from hub.web.config import WebConfig
from hub.web.events import EventBus
from hub.web.metrics import REGISTRY, Family
from hub.web.proxy import LOOPBACK
from hub.webtls import TlsFiles, check_tls_files
from shared.errors import XiaonengError
from shared.timefmt import SHANGHAI

log = logging.getLogger("xiaoneng.hub.web")

SECRET_FILE = "web-secret"  # noqa: S105 - a file name, not a secret
SERVER_NAME = "xiaoneng"  # the Server header: no product version, no Python version
REQUEST_THREADS = 32  # workers kept for pages and API calls beside the live streams
SHUTDOWN_TIMEOUT_S = 3  # how long stop() lets a request in progress finish
SOCKET_TIMEOUT_S = 10  # a client that sends nothing (or reads nothing) for this long is dropped
MAX_HEADER_BYTES = 64 * 1024  # request line and headers; bodies are limited by the app (1 MiB)
HEAD_DEADLINE_S = 10.0  # TLS handshake + request line + headers of one request, in all
HEAD_PHASE_PER_ADDRESS = 16  # connections of one client address in that phase at once
LISTEN_BACKLOG = 128  # connections waiting for accept(): a room of browsers reconnecting at once (cheroot's default: 5)


def web_secret(data_dir: Path) -> str:
    """The session-signing secret, made once and kept (0600) so logins survive restarts."""
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret


def open_desk(data_dir: Path, ingest: IngestService) -> Desk | None:
    """The desk of complaints and disclosure requests (hub.desk), entering records through ``ingest``;
    None (logged: the pages then say the desk is not running) if its identity cannot be used."""
    try:
        return Desk.open(data_dir, ingest, ingest.store.head, lambda: datetime.now(SHANGHAI))
    except XiaonengError as exc:
        log.error("the desk (complaints, disclosure requests) is not running", extra={"problem": str(exc)})
        return None


def ingest_collector(ingest: IngestService) -> list[Family]:
    """Prometheus families from the ingest service's counters, computed at scrape time."""
    counters = dict(ingest.counters)
    batches = Family("xiaoneng_ingest_batches_total", "Record batches received, by outcome", "counter")
    for kind in ("store", "duplicate", "gap", "quarantine"):
        batches.add(counters.get(f"batches_{kind}", 0), outcome=kind)
    quarantined = Family("xiaoneng_ingest_quarantined_total", "Batches quarantined since start, by reason",
                         "counter")
    for key, value in sorted(counters.items()):
        if key.startswith("quarantine_") and key != "quarantine_suppressed":
            quarantined.add(value, reason=key.removeprefix("quarantine_"))
    rejected = Family("xiaoneng_ingest_rejected_total",
                      "Messages refused before parsing or by their schema, by topic kind and reason", "counter")
    errors = Family("xiaoneng_ingest_errors_total", "Exceptions caught at a boundary of the ingest service", "counter")
    for key, value in sorted(counters.items()):
        if key.startswith("rejected_"):
            kind, _, reason = key.removeprefix("rejected_").partition("_")
            rejected.add(value, topic=kind, reason=reason)
        elif key.startswith("errors_"):
            errors.add(value, boundary=key.removeprefix("errors_"))
    hostile = [
        Family(f"xiaoneng_ingest_{key}_total", text, "counter").add(counters.get(key, 0))
        for key, text in (
            ("loop_restarts", "MQTT network threads found dead and restarted"),
            ("quarantine_suppressed", "Quarantines counted but not stored (over the per-agent limit)"),
            ("flood_dropped", "Record batches dropped because the sending agent's queue was full"),
            ("flood_alerts", "Alerts naming a flooding agent"),
            ("pongs_suppressed", "Pings not answered (more than one per agent per interval)"),
        )
    ]
    return [
        rejected,
        errors,
        *hostile,
        Family("xiaoneng_mqtt_loop_alive", "1 while the hub's MQTT network threads run", "gauge").add(
            1 if ingest.loop_alive() else 0),
        Family("xiaoneng_ingest_records_total", "Records stored since start", "counter").add(
            counters.get("records_stored", 0)),
        batches,
        quarantined,
        Family("xiaoneng_ingest_backlog", "Messages received but not yet processed", "gauge").add(ingest.backlog()),
        Family("xiaoneng_ledger_size", "Leaves in the Merkle ledger", "gauge").add(ingest.store.frontier.size),
        Family("xiaoneng_broker_connected", "1 while the hub is connected to the broker", "gauge").add(
            1 if ingest.connected else 0),
    ]


def gate_collector(gate: _Gate) -> list[Family]:
    """Connections the web server cut in their TLS handshake or request head, by reason."""
    cut = Family("xiaoneng_web_connections_cut_total",
                 "Connections closed in their TLS handshake or request head, by reason", "counter")
    cut.add(gate.reaped, reason="deadline")
    cut.add(gate.refused, reason="per_address")
    return [cut]


class _Gate:
    """Connections in their TLS handshake or request head: a deadline each, a cap per client address.

    A reaper thread shuts down the socket of a connection past its deadline; the worker reading it
    then fails its read and is free again.
    """

    def __init__(self, deadline_s: float = HEAD_DEADLINE_S, per_address: int = HEAD_PHASE_PER_ADDRESS) -> None:
        self.deadline_s = deadline_s
        self.per_address = per_address
        self.reaped = 0  # connections cut at their deadline
        self.refused = 0  # connections closed because their address had too many in the phase
        self._lock = threading.Lock()
        self._watched: dict[int, tuple[float, socket.socket, str]] = {}
        self._by_address: Counter[str] = Counter()
        self._keys = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._reap, name="xn-web-reaper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    def enter(self, sock: socket.socket, address: str) -> int | None:
        """Start watching ``sock``; None if its address already has its share of connections in the phase."""
        with self._lock:
            if self._by_address[address] >= self.per_address:
                self.refused += 1
                return None
            self._by_address[address] += 1
            key = next(self._keys)
            self._watched[key] = (time.monotonic() + self.deadline_s, sock, address)
            return key

    def in_phase(self) -> int:
        """How many connections are in their handshake or request head now."""
        with self._lock:
            return len(self._watched)

    def leave(self, key: int) -> None:
        with self._lock:
            entry = self._watched.pop(key, None)
            if entry is not None:
                self._by_address[entry[2]] -= 1
                if self._by_address[entry[2]] <= 0:
                    del self._by_address[entry[2]]

    def _reap(self) -> None:
        while not self._stop.wait(0.25):
            now = time.monotonic()
            with self._lock:
                overdue = [(k, e) for k, e in self._watched.items() if e[0] <= now]
                for key, (_deadline, sock, address) in overdue:
                    self._watched[key] = (float("inf"), sock, address)  # cut once; leave() still counts it out
            for _key, (_deadline, sock, address) in overdue:
                self.reaped += 1
                log.debug("web server: cut a connection still in its request head", extra={"address": address})
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the raw socket, under any TLS wrapper


class _Request(HTTPRequest):
    def parse_request(self) -> None:
        gate: _Gate = self.server.gate
        key = gate.enter(self.conn.socket, str(self.conn.remote_addr or ""))
        if key is None:
            return  # not ready: cheroot closes the connection
        try:
            super().parse_request()
        except OSError:  # the connection broke (or the gate cut it) mid-head: close it, nothing to answer
            self.ready = False
            self.close_connection = True
        finally:
            gate.leave(key)


_NOT_TLS = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 41\r\n\r\n"
            b"This port speaks HTTPS: use https:// URLs")


class _Connection(HTTPConnection):
    RequestHandlerClass = _Request
    handshaken = False
    waited = False  # parked until its first bytes arrive (see _Server.process_conn)

    def communicate(self) -> bool:
        sock = self.socket
        if isinstance(sock, ssl.SSLSocket) and not self.handshaken:
            gate: _Gate = self.server.gate
            key = gate.enter(sock, str(self.remote_addr or ""))
            if key is None:
                return False
            try:
                sock.do_handshake()
            except ssl.SSLError as exc:
                if "http request" in str(exc).lower():
                    with contextlib.suppress(OSError):
                        socket.socket.sendall(sock, _NOT_TLS)  # plain bytes: no TLS session exists
                return False
            except OSError:
                return False
            finally:
                gate.leave(key)
            self.handshaken = True
        return bool(super().communicate())  # type: ignore[no-untyped-call]


class _TlsAdapter(BuiltinSSLAdapter):
    """cheroot's builtin adapter, the handshake left to the worker (:meth:`_Connection.communicate`)."""

    def wrap(self, sock: socket.socket) -> tuple[ssl.SSLSocket, dict[str, str]]:
        wrapped = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return wrapped, {"wsgi.url_scheme": "https", "HTTPS": "on"}


class _Server(wsgi.Server):
    """cheroot's WSGI server: the gate above, and its messages in the hub's log instead of on stderr."""

    ConnectionClass = _Connection

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = _Gate()

    def process_conn(self, conn: _Connection) -> None:
        """A new connection waits in the selector, like an idle kept-alive one, until it has sent something.

        cheroot hands a new connection straight to a worker, where it blocks until the client speaks:
        browsers open spare connections ahead of need, and an idle one held a worker for
        ``SOCKET_TIMEOUT_S``. Parked, it costs a file descriptor, and cheroot closes it after
        ``SOCKET_TIMEOUT_S`` of silence.
        """
        if not conn.waited:
            conn.waited = True
            self._connections.put(conn)  # type: ignore[attr-defined]  # cheroot's ConnectionManager
            return
        super().process_conn(conn)

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        log.log(level, "web server: %s", msg, exc_info=traceback)


class AppServer:
    """One WSGI application on cheroot: plain HTTP, or HTTPS with ``tls`` (PEM certificate and key).

    ``port`` 0 picks a free port (read :attr:`port` after construction). The socket is bound in
    the constructor, so an address in use fails here, before :meth:`start`.
    """

    def __init__(self, app: Any, host: str, port: int, *, tls: TlsFiles | None = None,
                 threads: int = REQUEST_THREADS, head_deadline_s: float = HEAD_DEADLINE_S,
                 head_per_address: int = HEAD_PHASE_PER_ADDRESS) -> None:
        self.host = host
        self.tls = tls
        self._server = _Server((host, port), app, numthreads=max(1, threads), server_name=SERVER_NAME,
                               timeout=SOCKET_TIMEOUT_S, shutdown_timeout=SHUTDOWN_TIMEOUT_S,
                               request_queue_size=LISTEN_BACKLOG)
        self._server.software = SERVER_NAME  # SERVER_SOFTWARE in the WSGI environ
        self._server.gate.deadline_s = head_deadline_s
        self._server.gate.per_address = head_per_address
        self._server.max_request_header_size = MAX_HEADER_BYTES
        if tls is not None:
            check_tls_files(tls)
            self._server.ssl_adapter = _TlsAdapter(str(tls.cert), str(tls.key))
        self._server.prepare()  # binds and listens
        self.port = int(self._server.bind_addr[1])
        self._thread: threading.Thread | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}/"

    @property
    def gate(self) -> _Gate:
        return self._server.gate

    def start(self) -> None:
        self._server.gate.start()
        self._thread = threading.Thread(target=self._server.serve, name="xn-web", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, let requests in progress finish (:data:`SHUTDOWN_TIMEOUT_S` at most), join."""
        self._server.stop()
        if self._thread is not None:
            self._thread.join(SHUTDOWN_TIMEOUT_S + SOCKET_TIMEOUT_S)
        self._server.gate.stop()


@dataclass(frozen=True, slots=True)
class WebOptions:
    """How the hub serves its web UI beyond host and port (``xiaoneng-hub run --tls-… --trust-proxy``).

    ``tls`` serves HTTPS (the session cookie is then ``Secure`` and responses carry HSTS);
    ``trust_proxy`` takes the client address and scheme from the ``X-Forwarded-For`` /
    ``X-Forwarded-Proto`` headers of a reverse proxy at one of ``proxy_networks``
    (docs/deployment-web.md).
    """

    tls: TlsFiles | None = None
    trust_proxy: bool = False
    proxy_networks: str = LOOPBACK


class WebServer:
    """The hub's web UI: the Flask app fed by ingest (and supervision), served by :class:`AppServer`."""

    def __init__(self, data_dir: Path, host: str, port: int, ingest: IngestService,
                 supervision: SupervisorService | None = None, options: WebOptions = WebOptions()):
        self.bus = EventBus()
        config = WebConfig(database=data_dir / "hub.sqlite", secret_key=web_secret(data_dir),
                           trust_proxy=options.trust_proxy, proxy_networks=options.proxy_networks)
        provider = SupervisionProvider(supervision) if supervision is not None else None
        self.app = create_app(config, bus=self.bus, metrics=REGISTRY, supervision=provider)
        # bound first: a port in use or an unusable certificate fails before anything is wired
        self._server = AppServer(self.app, host, port, tls=options.tls,
                                 threads=config.sse_max_clients + REQUEST_THREADS)
        self.port = self._server.port
        REGISTRY.add_collector(lambda: ingest_collector(ingest), key="ingest")
        REGISTRY.add_collector(lambda: gate_collector(self._server.gate), key="web_gate")
        if supervision is not None:
            supervision.listeners.append(self.bus.publish)
            REGISTRY.add_collector(lambda: supervision_collector(supervision), key="supervision")
        ingest.listeners.append(self._forward)
        # One desk per store: the hub that runs the supervision (an ingest-only worker on the same store
        # would append to the same stream from another process, and fork it).
        self.desk = open_desk(data_dir, ingest) if supervision is not None else None
        if self.desk is not None:
            attach_desk(self.app, self.desk)

    @property
    def url(self) -> str:
        return self._server.url

    def _forward(self, kind: str, data: dict[str, object]) -> None:
        self.bus.publish(kind, data)

    def start(self) -> None:
        self._server.start()
        log.info("web UI listening", extra={"url": self._server.url})

    def stop(self) -> None:
        shutdown(self.app)  # ends the live streams first, so their workers are free to stop
        self._server.stop()
