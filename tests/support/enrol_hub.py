"""A hub running in the test process with its enrolment endpoint (HTTPS) and mutual-TLS broker
listener, for the enrolment tests of the Python agent (tests/hub/test_enroll.py) and of the one-file
agent (tests/deploy/test_agent_binary.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from hub.enroll import TokenStore
from hub.runtime import Hub, HubOptions
from hub.webserver import WebOptions
from hub.webtls import TlsFiles, self_issued
from provisioning import ca
from tests.support.ports import free_port


@dataclass
class Running:
    hub: Hub
    data: Path
    url: str
    server_pem: Path

    def token(self, agent_id: str, ttl: timedelta = timedelta(hours=24)) -> str:
        token, _ = TokenStore(self.data / "hub.sqlite").create(
            "hall", agent_id, ca.leaf_fingerprint(self.server_pem), ttl, registry=self.hub.registry)
        return token.text()


@contextmanager
def running_hub(tmp_path: Path) -> Iterator[Running]:
    """The hub of site ``hall`` in ``tmp_path/hub``: tokens from :meth:`Running.token`, enrolment at
    ``Running.url`` (https://localhost:PORT), stopped on exit."""
    data = tmp_path / "hub"
    data.mkdir()
    tls: TlsFiles = self_issued(data, ["localhost", "127.0.0.1"])
    enroll_port = free_port()
    hub = Hub(HubOptions(data_dir=data, mqtt_port=free_port(), http_port=None, supervision=False,
                         web=WebOptions(tls=tls), mqtt_tls_port=free_port(), mqtt_tls_host="127.0.0.1",
                         broker_names=("localhost",), enroll_port=enroll_port, enroll_host="127.0.0.1"))
    hub.registry.add_site("hall", "市民中心")
    hub.start()
    try:
        yield Running(hub, data, f"https://localhost:{enroll_port}", tls.cert)
    finally:
        hub.stop()
