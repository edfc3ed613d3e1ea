"""Writing the broker files and finding the broker to reload."""

from __future__ import annotations

import os
from pathlib import Path

from provisioning import broker_files
from provisioning.registry import Registry


def test_write_broker_files_atomically(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "hub.sqlite")
    reg.set_service_user("hub")
    files = broker_files.write_broker_files(reg, broker_files.broker_dir(tmp_path))
    assert files.password_file.read_text().startswith("hub:$7$")
    assert "user hub" in files.acl_file.read_text()
    assert sorted(p.name for p in files.password_file.parent.iterdir()) == ["acl", "passwd"]


def test_only_a_live_mosquitto_is_signalled(tmp_path: Path) -> None:
    pid_file = tmp_path / "mosquitto.pid"
    assert broker_files.reload_broker(pid_file) is None  # no pid file
    pid_file.write_text("garbage")
    assert broker_files.reload_broker(pid_file) is None
    pid_file.write_text(f"{os.getpid()}\n")  # a live process, but not mosquitto: never signalled
    assert broker_files.running_broker_pid(pid_file) is None
    assert broker_files.reload_broker(pid_file) is None
