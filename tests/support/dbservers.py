"""Throwaway PostgreSQL and MariaDB servers for the suite, when none answers at the configured URL.

On this machine kind the two servers are already running (127.0.0.1:5432 and :3306) and are used.
On a fresh Debian machine nothing listens there: ``make test`` has installed Debian's
``postgresql`` and ``mariadb-server`` packages (``scripts/system-deps.sh``), and the first test
that needs a server starts an instance of its own here: a new cluster in a temporary directory, on
a free port, bound to 127.0.0.1, trust / password-less root, without durability (``fsync=off``:
test data). It is stopped and its directory removed when the test session ends (``atexit``).

PostgreSQL and MariaDB refuse to run as root; as root the server runs as the packages' own system
users (``postgres``, ``mysql``) through ``runuser``.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port

START_TIMEOUT_S = 90.0


class ServerSetupError(RuntimeError):
    """A throwaway server could not be started; the message says why and what to install."""


@dataclass
class Throwaway:
    """A running throwaway server: its admin URL, and how to stop it."""

    url: str
    root: Path
    stop: Callable[[], None]


_running: dict[str, Throwaway] = {}


def throwaway(dialect: str) -> Throwaway:
    """The session's throwaway server of ``dialect`` ("postgresql" or "mysql"), started on first use."""
    if dialect not in _running:
        start = {"postgresql": _start_postgres, "mysql": _start_mariadb}[dialect]
        server = start()
        _running[dialect] = server
        atexit.register(_stop, dialect)
    return _running[dialect]


def _stop(dialect: str) -> None:
    server = _running.pop(dialect, None)
    if server is None:
        return
    try:
        server.stop()
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


def _as_user(user: str, root: Path) -> list[str]:
    """The command prefix that runs a server as ``user`` when we are root (it refuses root)."""
    if os.getuid() != 0:
        return []
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ServerSetupError(f"system user {user!r} is missing (it comes with the Debian server package)") from None
    for path in [root, *root.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", user, "--"]


def _run(cmd: list[str], what: str, log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=START_TIMEOUT_S, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-1500:]
        raise ServerSetupError(f"{what} failed (exit {done.returncode}): {tail}")


def _wait(probe: Callable[[], None], what: str, log: Path, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not alive():
            raise ServerSetupError(f"{what} exited while starting: {log.read_text(errors='replace')[-1500:]}")
        try:
            probe()
            return
        except Exception as exc:  # noqa: BLE001 - not accepting connections yet
            last = exc
        time.sleep(0.2)  # polling a starting server, with a deadline
    raise ServerSetupError(f"{what} did not accept connections within {START_TIMEOUT_S:.0f} s ({last})")


def _postgres_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise ServerSetupError("PostgreSQL server programs are not installed (Debian package postgresql)")
    return Path(found[-1]).parent


def _start_postgres() -> Throwaway:
    bindir = _postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="xn-test-pg-"))
    data, log = root / "data", root / "server.log"
    log.touch()
    port = free_port()
    prefix = _as_user("postgres", root)
    _run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
          "--locale=C", "--no-sync"], "initdb", log)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off " \
              "-c full_page_writes=off -c max_connections=200"
    _run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60",
          "start"], "pg_ctl start", log)

    def stop() -> None:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60, check=False)

    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        _wait(lambda: _probe_postgres(port), "PostgreSQL", log, lambda: (data / "postmaster.pid").exists())
    except BaseException:
        stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return Throwaway(url, root, stop)


def _probe_postgres(port: int) -> None:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2):
        pass


def _start_mariadb() -> Throwaway:
    server = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if not Path(server).exists() or install is None:
        raise ServerSetupError("MariaDB server programs are not installed (Debian package mariadb-server)")
    root = Path(tempfile.mkdtemp(prefix="xn-test-mariadb-"))
    data, log = root / "data", root / "server.log"
    data.mkdir()
    log.touch()
    port = free_port()
    prefix = _as_user("mysql", root)
    user = ["--user=mysql"] if prefix else []
    _run([*prefix, install, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
          "--skip-test-db", "--skip-name-resolve", *user], "mariadb-install-db", log)
    process = subprocess.Popen(
        [*prefix, server, "--no-defaults", f"--datadir={data}", f"--port={port}", "--bind-address=127.0.0.1",
         f"--socket={root / 'mysqld.sock'}", f"--pid-file={root / 'mysqld.pid'}", f"--log-error={log}",
         "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=0",
         "--max-connections=200", *user],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    url = f"mysql://root@127.0.0.1:{port}/test"
    try:
        _wait(lambda: _probe_mariadb(port), "MariaDB", log, lambda: process.poll() is None)
    except BaseException:
        stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return Throwaway(url, root, stop)


def _probe_mariadb(port: int) -> None:
    import pymysql

    pymysql.connect(host="127.0.0.1", port=port, user="root", connect_timeout=2).close()
