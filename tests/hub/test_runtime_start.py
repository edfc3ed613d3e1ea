"""A hub whose start fails part-way stops what it had started: no Mosquitto left behind."""

from __future__ import annotations

import socket
from pathlib import Path

import psutil
import pytest

from hub.runtime import Hub, HubOptions
from tests.support.ports import free_port
from tests.support.wait import wait_until

pytestmark = [pytest.mark.broker]


def _brokers_of(data: Path) -> list[int]:
    """Live mosquitto processes whose command line names a file under ``data``."""
    found = []
    for proc in psutil.process_iter(["pid", "name", "cmdline", "status"]):
        info = proc.info
        if info["status"] == psutil.STATUS_ZOMBIE or "mosquitto" not in (info["name"] or ""):
            continue
        if any(str(data) in part for part in info["cmdline"] or ()):
            found.append(info["pid"])
    return found


# cheroot's prepare() drops the socket of a failed bind without closing it (server.py, "self.socket = None"):
# a ResourceWarning from the library, not from the hub
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_failed_start_stops_the_broker_it_had_started(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        hub = Hub(HubOptions(data_dir=data, mqtt_port=free_port(), http_port=taken.getsockname()[1]))
        with pytest.raises(OSError):
            hub.start()  # the broker and ingest are up when the web port turns out to be taken
    finally:
        taken.close()
    assert hub.broker is not None and hub.store is not None  # it got that far
    wait_until(lambda: not _brokers_of(data), timeout=15, message="the broker the failed hub started still runs")
