"""Serving the web UI from the hub process: the Flask app on a threaded WSGI server, fed by ingest.

Each open live-update stream (SSE) holds a thread, so the server is threaded; a monitoring room has
tens of browsers, not thousands.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from hub.service import IngestService
from hub.supervision.metrics import supervision_collector
from hub.supervision.queries import SupervisionProvider
from hub.supervision.service import SupervisorService
from hub.web.app import create_app, shutdown
from hub.web.config import WebConfig
from hub.web.events import EventBus
from hub.web.metrics import REGISTRY, Family

log = logging.getLogger("xiaoneng.hub.web")

SECRET_FILE = "web-secret"  # noqa: S105 - a file name, not a secret


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


def ingest_collector(ingest: IngestService) -> list[Family]:
    """Prometheus families from the ingest service's counters, computed at scrape time."""
    counters = dict(ingest.counters)
    batches = Family("xiaoneng_ingest_batches_total", "Record batches received, by outcome", "counter")
    for kind in ("store", "duplicate", "gap", "quarantine"):
        batches.add(counters.get(f"batches_{kind}", 0), outcome=kind)
    quarantined = Family("xiaoneng_ingest_quarantined_total", "Batches quarantined since start, by reason",
                         "counter")
    for key, value in sorted(counters.items()):
        if key.startswith("quarantine_"):
            quarantined.add(value, reason=key.removeprefix("quarantine_"))
    return [
        Family("xiaoneng_ingest_records_total", "Records stored since start", "counter").add(
            counters.get("records_stored", 0)),
        batches,
        quarantined,
        Family("xiaoneng_ingest_backlog", "Messages received but not yet processed", "gauge").add(ingest.backlog()),
        Family("xiaoneng_ledger_size", "Leaves in the Merkle ledger", "gauge").add(ingest.store.frontier.size),
        Family("xiaoneng_broker_connected", "1 while the hub is connected to the broker", "gauge").add(
            1 if ingest.connected else 0),
    ]


class WebServer:
    def __init__(self, data_dir: Path, host: str, port: int, ingest: IngestService,
                 supervision: SupervisorService | None = None):
        self.bus = EventBus()
        config = WebConfig(database=data_dir / "hub.sqlite", secret_key=web_secret(data_dir))
        provider = SupervisionProvider(supervision) if supervision is not None else None
        self.app = create_app(config, bus=self.bus, metrics=REGISTRY, supervision=provider)
        REGISTRY.add_collector(lambda: ingest_collector(ingest))
        if supervision is not None:
            supervision.listeners.append(self.bus.publish)
            REGISTRY.add_collector(lambda: supervision_collector(supervision))
        ingest.listeners.append(self._forward)
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True)
        self._thread: threading.Thread | None = None
        self.port = self._server.server_port

    def _forward(self, kind: str, data: dict[str, object]) -> None:
        self.bus.publish(kind, data)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="xn-web", daemon=True)
        self._thread.start()
        log.info("web UI listening", extra={"url": f"http://{self._server.host}:{self.port}/"})

    def stop(self) -> None:
        shutdown(self.app)
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(10)
