"""The broker's files under ``DATA/broker/``: writing them from the registry, reloading the broker.

``hub.broker.MosquittoBroker`` points Mosquitto at the same paths (``password_file`` and
``acl_file`` arguments; its ``pid_file`` is ``DATA/broker/mosquitto.pid``).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

import psutil

from provisioning import ca
from provisioning.atomic import write_atomic
from provisioning.registry import Registry
from shared.errors import ProvisioningError

BROKER_DIR = "broker"
PASSWORD_FILE = "passwd"  # noqa: S105 - a file name, not a password
ACL_FILE = "acl"
PID_FILE = "mosquitto.pid"


@dataclass(frozen=True)
class BrokerFiles:
    """Where the generated files were written."""

    password_file: Path
    acl_file: Path


def broker_dir(data_dir: Path) -> Path:
    """``DATA/broker``."""
    return data_dir / BROKER_DIR


def write_broker_files(registry: Registry, directory: Path) -> BrokerFiles:
    """Write the password file (mode 0600) and ACL file (0644) into ``directory``, atomically; and,
    once the hub CA exists (``DATA/web-tls``, with ``directory`` = ``DATA/broker``), the CRL of the
    revoked agents' certificates (``DATA/broker/tls/crl.pem``), which the TLS listener checks."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProvisioningError(f"cannot create {directory}: {exc.strerror}") from None
    files = BrokerFiles(directory / PASSWORD_FILE, directory / ACL_FILE)
    # Both texts first, then both renames: a registry error leaves the old pair in place.
    password_text, acl_text = registry.password_file_text(), registry.acl_file_text()
    write_atomic(files.password_file, password_text, 0o600)
    write_atomic(files.acl_file, acl_text, 0o644)
    if ca.has_ca(directory.parent):
        ca.write_crl(directory.parent, registry.revoked_serials())
    return files


def running_broker_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` if it names a live ``mosquitto`` process, else None.

    A stale pid file (the broker was killed) may name an unrelated process by now; the process
    name check keeps us from signalling it.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE or proc.name() != "mosquitto":
            return None
    except psutil.Error:
        return None
    return pid


def reload_broker(pid_file: Path) -> int | None:
    """SIGHUP the running broker so it re-reads its password and ACL files.

    Mosquitto 2.0 then also disconnects clients whose login is gone. Returns the pid signalled, or
    None if no broker is running.
    """
    pid = running_broker_pid(pid_file)
    if pid is None:
        return None
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        return None
    except PermissionError:
        raise ProvisioningError(
            f"not allowed to signal the broker (pid {pid}); run as the broker's user or root"
        ) from None
    return pid
