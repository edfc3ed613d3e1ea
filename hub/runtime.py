"""The running hub: its data directory, its own broker (by default), the ingest service."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from hub.broker import MosquittoBroker, TlsListener
from hub.enroll import EnrolService
from hub.enroll_server import EnrolServer
from hub.ledger_service import LedgerService
from hub.notify.service import NotifyService, start_notifier
from hub.service import BrokerLogin, IngestConfig, IngestService
from hub.store import Store
from hub.supervision.service import SupervisorService, start_supervision
from hub.webserver import WebOptions, WebServer
from hub.webtls import default_names
from hub.witness import RolledBack, startup_check
from provisioning import ca
from provisioning.broker_files import PID_FILE, broker_dir, reload_broker, running_broker_pid, write_broker_files
from provisioning.hubkey import KEY_FILE, hub_public_key, load_or_create_key
from provisioning.registry import Registry
from shared.errors import ConfigError

log = logging.getLogger("xiaoneng.hub")

DB_FILE = "hub.sqlite"
LOGIN_FILE = "hub-mqtt.json"
HUB_USER = "hub"


@dataclass(frozen=True)
class HubOptions:
    data_dir: Path
    embedded_broker: bool = True
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1884
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    name: str = "xiaoneng-hub"
    client_id: str = "xn-hub"
    ingest: IngestConfig = IngestConfig()
    http_host: str = "127.0.0.1"
    http_port: int | None = 8080  # None: no web server (tests of ingest alone)
    web: WebOptions = WebOptions()  # HTTPS and reverse-proxy settings of the web UI
    #: Run the supervision engine in this process. An extra ingest-only worker (several hubs on one
    #: store behind a shared subscription, DESIGN.md §4.5) runs without it; so does the ingest bench.
    supervision: bool = True
    #: Start even when the store is behind the newest checkpoint this hub published (docs/ledger.md).
    allow_rollback: bool = False
    #: The agents' listener of the embedded broker: mutual TLS with hub-CA certificates (docs/network.md).
    mqtt_tls_port: int | None = None
    mqtt_tls_host: str = "0.0.0.0"  # noqa: S104 - certificates only; the password listener stays on mqtt_host
    #: Names and addresses the broker's certificate carries (the agents' broker.host must be one).
    broker_names: tuple[str, ...] = ()
    #: ``POST /api/enroll`` on its own HTTPS port (needs web TLS and mqtt_tls_port).
    enroll_port: int | None = None
    enroll_host: str = "0.0.0.0"  # noqa: S104 - the one-time token is the credential
    #: The broker host enrolled agents are told (default: the host name they reached the hub by).
    broker_public_host: str | None = None


def hub_login(data_dir: Path, registry: Registry) -> tuple[str, str]:
    """The hub's own broker login, created (and registered) on first use."""
    path = data_dir / LOGIN_FILE
    users = {u.username for u in registry.service_users()}
    if path.exists() and HUB_USER in users:
        data = json.loads(path.read_text())
        return str(data["username"]), str(data["password"])
    password = registry.set_service_user(HUB_USER)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"username": HUB_USER, "password": password}, fh)
    return HUB_USER, password


def stop_leftover_broker(pid_file: Path, timeout: float = 15.0) -> None:
    """A hub that was killed leaves its Mosquitto running; the pid file under our own data
    directory (checked to name a live ``mosquitto``) identifies it. Stop it so we can start ours."""
    pid = running_broker_pid(pid_file)
    if pid is None:
        return
    log.warning("stopping the broker a previous hub run left behind", extra={"pid": pid})
    proc = psutil.Process(pid)
    proc.terminate()
    try:
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def start_video(data_dir: Path, ingest: IngestService) -> Any:
    """The video relay (hub/video), or None when aiortc (the ``video`` extra) is not installed."""
    try:
        from hub.video.service import start_relay
    except ImportError as exc:
        log.warning("video relay disabled: the video extra is not installed", extra={"error": str(exc)})
        return None
    return start_relay(data_dir, ingest)


class Hub:
    def __init__(self, options: HubOptions):
        self.options = options
        self.data_dir = options.data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.registry = Registry(self.data_dir / DB_FILE)
        self.key = load_or_create_key(self.data_dir / KEY_FILE)
        self.broker: MosquittoBroker | None = None
        self.store: Store | None = None
        self.ingest: IngestService | None = None
        self.ledger: LedgerService | None = None
        self.web: WebServer | None = None
        self.video: Any = None  # hub.video.relay.VideoRelay, when the video extra is installed
        self.supervision: SupervisorService | None = None
        self.notifier: NotifyService | None = None
        self.enrol: EnrolServer | None = None

    def start(self) -> None:
        """Start every part; if one fails, stop those already started (the broker above all) and raise."""
        try:
            self._start()
        except BaseException:
            log.error("the hub failed to start; stopping the parts already started")
            self.stop(best_effort=True)
            raise

    def _start(self) -> None:
        o = self.options
        self._check_rollback()  # before anything starts: a rolled-back store must not sign or serve
        self._check_enrolment()
        if o.embedded_broker:
            username, password = hub_login(self.data_dir, self.registry)
            files = write_broker_files(self.registry, broker_dir(self.data_dir))
            self.broker = MosquittoBroker(
                self.data_dir, host=o.mqtt_host, port=o.mqtt_port,
                password_file=files.password_file, acl_file=files.acl_file, supervise=True,
                tls=self._tls_listener(),
            )
            stop_leftover_broker(self.broker.pid_file)
            self.broker.start()
        else:
            if not o.mqtt_username or not o.mqtt_password:
                username, password = hub_login(self.data_dir, self.registry)
            else:
                username, password = o.mqtt_username, o.mqtt_password
        self.store = Store(self.data_dir / DB_FILE)
        self.ingest = IngestService(
            self.store, self.registry.public_key, self.key,
            BrokerLogin(o.mqtt_host, o.mqtt_port, username, password, client_id=o.client_id),
            o.ingest,
        )
        self.ledger = LedgerService(self.ingest, self.data_dir, self.data_dir / DB_FILE)
        self.ledger.attach()
        self.ledger.start()
        self.ingest.start()
        self.video = start_video(self.data_dir, self.ingest)
        if o.supervision:
            self.supervision = start_supervision(self.data_dir, self.ingest)
            self.notifier = start_notifier(self.data_dir, self.supervision)  # cards, 督办, the monthly report
        if o.http_port is not None:
            self.web = WebServer(self.data_dir, o.http_host, o.http_port, self.ingest, supervision=self.supervision,
                                 options=o.web)
            if self.video is not None:
                from hub.video.service import attach

                attach(self.web.app, self.video)
            from hub.configpush import PushLogin
            from hub.configpush import attach as attach_config_push

            attach_config_push(self.web.app, PushLogin(o.mqtt_host, o.mqtt_port, username, password))
            from hub.enroll import EnrolEndpoint
            from hub.enroll import attach as attach_enrolment

            attach_enrolment(self.web.app, EnrolEndpoint(o.enroll_port, o.web.tls.cert if o.web.tls else None,
                                                         o.broker_public_host))
            self.web.start()
        if o.enroll_port is not None:
            self._start_enrolment(o.enroll_port)
        log.info("hub running", extra={"data": str(self.data_dir), "mqtt": f"{o.mqtt_host}:{o.mqtt_port}",
                                       "mqtt_tls": o.mqtt_tls_port,
                                       "enroll": self.enrol.port if self.enrol is not None else None,
                                       "http": self.web.url if self.web is not None else None})

    def _tls_listener(self) -> TlsListener | None:
        o = self.options
        if o.mqtt_tls_port is None:
            return None
        server = ca.broker_server_cert(self.data_dir, list(o.broker_names) or default_names(o.mqtt_tls_host))
        crl = ca.write_crl(self.data_dir, self.registry.revoked_serials())
        return TlsListener(o.mqtt_tls_port, ca.ca_file(self.data_dir), server.cert, server.key, host=o.mqtt_tls_host,
                           crlfile=crl)

    def refresh_broker(self) -> None:
        """Rewrite the broker's password/ACL files from the registry; the running broker reloads them
        (SIGHUP: connected agents stay connected)."""
        files = write_broker_files(self.registry, broker_dir(self.data_dir))
        if self.broker is not None and self.broker.running:
            self.broker.reload()
        else:
            reload_broker(files.password_file.parent / PID_FILE)

    def _check_enrolment(self) -> None:
        o = self.options
        if o.enroll_port is None:
            return
        if o.web.tls is None:
            raise ConfigError("--enroll-port needs HTTPS (--tls-self-issued or --tls-cert/--tls-key): the token pins "
                              "the hub's certificate")
        if o.mqtt_tls_port is None or not o.embedded_broker:
            raise ConfigError("--enroll-port needs the embedded broker with --mqtt-tls-port: enrolled agents "
                              "connect with TLS certificates")

    def _start_enrolment(self, port: int) -> None:
        o = self.options
        assert o.web.tls is not None and o.mqtt_tls_port is not None  # _check_enrolment
        service = EnrolService(self.data_dir, self.registry, broker_port=o.mqtt_tls_port,
                               hub_public_key=hub_public_key(self.data_dir), refresh_broker=self.refresh_broker,
                               broker_host=o.broker_public_host)
        self.enrol = EnrolServer(service, o.enroll_host, port, o.web.tls)
        self.enrol.start()

    def _check_rollback(self) -> None:
        """Refuse a store behind the newest checkpoint this hub published (hub.witness)."""
        try:
            startup_check(self.data_dir, self.data_dir / DB_FILE, self.key.public_key())
        except RolledBack as exc:
            if not self.options.allow_rollback:
                raise ConfigError(str(exc)) from None
            log.error("starting on a rolled-back store (--allow-rollback)", extra={"problem": str(exc)})

    def stop(self, *, best_effort: bool = False) -> None:
        """Stop what runs, in order; ``best_effort`` (a failed start) goes on past a part that fails to stop,
        so that the broker started first is never left running."""
        for name, step in self._stop_steps():
            if not best_effort:
                step()
                continue
            try:
                step()
            except Exception:
                log.exception("could not stop a part of the hub", extra={"part": name})

    def _stop_steps(self) -> list[tuple[str, Callable[[], None]]]:
        steps: list[tuple[str, Callable[[], None]]] = []
        if self.enrol is not None:
            steps.append(("enrol", self.enrol.stop))
        if self.web is not None:
            steps.append(("web", self.web.stop))
        if self.video is not None:
            steps.append(("video", self.video.stop))  # tells the agents to stop streaming, before the broker link goes
        if self.notifier is not None:
            steps.append(("notifier", self.notifier.stop))
        if self.supervision is not None:
            steps.append(("supervision", self.supervision.stop))
        if self.ingest is not None:
            steps += [("ingest", self.ingest.stop), ("checkpoint", self.ingest.checkpoint)]
        if self.ledger is not None:
            steps.append(("ledger", self.ledger.stop))
        if self.store is not None:
            steps.append(("store", self.store.close))
        if self.broker is not None:
            steps.append(("broker", self.broker.stop))
        return steps
