"""Run a real Mosquitto for the hub: write its config, start it, wait until it accepts, stop it.

The config is rewritten at every start from the constructor's arguments::

    DATA/broker/mosquitto.conf   this config
    DATA/broker/mosquitto.log    the broker's log (timestamps), appended across restarts
    DATA/broker/mosquitto.out    its stdout/stderr (errors before the log file opens)
    DATA/broker/mosquitto.pid    written by Mosquitto, removed by it on a clean exit
    DATA/broker/mosquitto.db     persistence (sessions, queued QoS 1/2 messages, retained)

Traps this class handles: started as root, Mosquitto drops to user ``mosquitto`` unless the config
says ``user root`` (it then cannot read root-only files); ``listener 0`` is a unix socket, not a free
port, so the caller chooses the port; persistence is saved every ``autosave_interval`` seconds and
at a clean exit, so a SIGKILL loses what changed since the last save (the agent's outbox, not the
broker, is where durability lives).

With ``tls=TlsListener(...)`` the broker has a second listener for agents: TLS 1.2+, server
certificate from the hub CA (``provisioning.ca``), and a client certificate required, signed by the
same CA, whose Common Name becomes the username (``use_identity_as_username``) so the ACL file
applies to it as to a password login. The first listener (``host:port``, password logins) is then
meant for the hub's own connection on 127.0.0.1. ``reload()`` (SIGHUP) re-reads password and ACL
files without dropping other clients.

With ``supervise=True`` a thread restarts a broker that dies on its own, with exponential backoff;
``stop()`` ends the thread before the broker.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psutil

from shared.batch import MAX_BYTES
from shared.errors import ConfigError

log = logging.getLogger(__name__)

CONF_FILE = "mosquitto.conf"
LOG_FILE = "mosquitto.log"
OUT_FILE = "mosquitto.out"
PID_FILE = "mosquitto.pid"
DEBIAN_EXECUTABLE = "/usr/sbin/mosquitto"
BACKOFF_MIN = 0.5  # seconds before the supervisor's first restart; doubles per crash
BACKOFF_MAX = 30.0
#: Limits for every client (Mosquitto 2.0 has no per-client or per-listener form of these): an
#: agent's largest record batch is ``IngestConfig.max_payload`` (4 MiB) — a bigger packet gets its
#: sender disconnected at the broker, before the hub sees a byte of it.
MAX_PACKET_SIZE = MAX_BYTES + 64 * 1024
#: QoS 1 messages the broker sends a client before it acknowledges (MQTT 3 clients; an MQTT 5
#: client such as the hub asks for its own Receive Maximum, and is sent that many).
MAX_INFLIGHT_MESSAGES = 100
#: QoS 1 messages queued per client beyond those in flight, and their bytes: the hub's session
#: must hold every agent's batches while a flood is rejected (QoS 0 messages to a client whose
#: socket is that far behind are dropped: a flood sent with QoS 0 never pushes out a QoS 1 batch).
MAX_QUEUED_MESSAGES = 100_000
MAX_QUEUED_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class TlsListener:
    """The agents' listener: mutual TLS with certificates of the hub CA."""

    port: int
    cafile: Path
    certfile: Path
    keyfile: Path
    host: str = "0.0.0.0"  # noqa: S104 - agents reach it over the network; it takes certificates only
    #: Certificates listed here are refused at the handshake; re-read at every reload (SIGHUP).
    crlfile: Path | None = None

    def config_lines(self) -> list[str]:
        for path in (self.cafile, self.certfile, self.keyfile, *([self.crlfile] if self.crlfile else [])):
            if "\n" in str(path) or str(path) != str(path).strip():
                raise ConfigError(f"path {str(path)!r} cannot be written into a Mosquitto config")
        if not 0 < self.port < 65536:
            raise ConfigError(f"broker TLS port must be 1-65535, not {self.port}")
        return [
            f"listener {self.port} {self.host}",
            f"cafile {Path(self.cafile).resolve()}",
            f"certfile {Path(self.certfile).resolve()}",
            f"keyfile {Path(self.keyfile).resolve()}",
            "tls_version tlsv1.2",
            "require_certificate true",
            "use_identity_as_username true",
            *([f"crlfile {Path(self.crlfile).resolve()}"] if self.crlfile is not None else []),
        ]


class MosquittoBroker:
    """One Mosquitto process listening on ``host:port``, configured under ``data_dir/broker``.

    ``password_file`` and ``acl_file`` are required: this broker never allows anonymous clients.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int,
        password_file: Path,
        acl_file: Path,
        host: str = "127.0.0.1",
        executable: str = "mosquitto",
        persistence: bool = True,
        autosave_interval: int = 5,
        max_queued_messages: int = MAX_QUEUED_MESSAGES,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
        max_packet_size: int = MAX_PACKET_SIZE,
        max_inflight_messages: int = MAX_INFLIGHT_MESSAGES,
        extra_config: Sequence[str] = (),
        tls: TlsListener | None = None,
        supervise: bool = False,
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
    ) -> None:
        if not 0 < port < 65536:
            raise ConfigError(
                f"broker port must be 1-65535, not {port} (pick a free port yourself)"
            )
        if autosave_interval < 1:
            raise ConfigError(f"autosave_interval must be >= 1 second, not {autosave_interval}")
        self.data_dir = Path(data_dir).resolve()
        self.broker_dir = self.data_dir / "broker"
        self.host = host
        self.port = port
        self.password_file = Path(password_file).resolve()
        self.acl_file = Path(acl_file).resolve()
        self.executable = executable
        self.persistence = persistence
        self.autosave_interval = autosave_interval
        self.max_queued_messages = max_queued_messages
        self.max_queued_bytes = max_queued_bytes
        self.max_packet_size = max_packet_size
        self.max_inflight_messages = max_inflight_messages
        self.extra_config = tuple(extra_config)
        self.tls = tls
        self.supervise = supervise
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.restarts = 0
        """How many times the supervisor restarted the broker."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()
        self._stop_supervisor = threading.Event()
        self._supervisor: threading.Thread | None = None

    # -- paths ---------------------------------------------------------------------------------

    @property
    def conf_file(self) -> Path:
        """``DATA/broker/mosquitto.conf``."""
        return self.broker_dir / CONF_FILE

    @property
    def log_file(self) -> Path:
        """``DATA/broker/mosquitto.log``."""
        return self.broker_dir / LOG_FILE

    @property
    def pid_file(self) -> Path:
        """``DATA/broker/mosquitto.pid`` (what ``xiaoneng-provision`` signals to reload)."""
        return self.broker_dir / PID_FILE

    @property
    def persistence_file(self) -> Path:
        """``DATA/broker/mosquitto.db``."""
        return self.broker_dir / "mosquitto.db"

    # -- state ---------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The broker's pid while it runs, else None."""
        with self._lock:
            return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self.pid is not None

    # -- config --------------------------------------------------------------------------------

    def config_text(self) -> str:
        """The Mosquitto config this broker runs with."""
        for path in (self.password_file, self.acl_file, self.broker_dir):
            if "\n" in str(path) or str(path) != str(path).strip():
                raise ConfigError(f"path {str(path)!r} cannot be written into a Mosquitto config")
        lines = [
            "# Generated by hub.broker at every start; edits here are lost.",
            "per_listener_settings false",
            f"listener {self.port} {self.host}",
            "allow_anonymous false",
            f"password_file {self.password_file}",
            f"acl_file {self.acl_file}",
            f"pid_file {self.pid_file}",
            f"max_queued_messages {self.max_queued_messages}",
            f"max_queued_bytes {self.max_queued_bytes}",
            f"max_packet_size {self.max_packet_size}",
            f"max_inflight_messages {self.max_inflight_messages}",
            f"log_dest file {self.log_file}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        if self.persistence:
            lines += [
                "persistence true",
                f"persistence_location {self.broker_dir}/",
                "persistence_file mosquitto.db",
                f"autosave_interval {self.autosave_interval}",
            ]
        else:
            lines.append("persistence false")
        if os.geteuid() == 0:
            # Otherwise Mosquitto drops to user `mosquitto` and cannot read our root-owned files.
            lines.append("user root")
        if self.tls is not None:
            # Listener options follow their `listener` line; the global ones above stay global
            # (per_listener_settings false): one password file and ACL for both listeners.
            lines += self.tls.config_lines()
        lines += list(self.extra_config)
        return "\n".join(lines) + "\n"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Write the config, start Mosquitto and return once it accepts TCP connections.

        Raises ConfigError (with the tail of the broker's output) if it exits or does not listen
        within ``start_timeout``. Starts the supervisor thread if ``supervise`` is set.
        """
        with self._lock:
            if self.running:
                raise ConfigError(
                    f"the broker on port {self.port} is already running (pid {self.pid})"
                )
            self._spawn()
            if self.supervise and self._supervisor is None:
                self._stop_supervisor.clear()
                self._supervisor = threading.Thread(
                    target=self._supervise, name=f"mosquitto-supervisor-{self.port}", daemon=True
                )
                self._supervisor.start()

    def stop(self) -> None:
        """Stop the supervisor, then the broker: SIGTERM (it saves persistence), SIGKILL after
        ``stop_timeout``. Safe to call twice or when not running."""
        self._end_supervisor()
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is None:
                return
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    log.warning(
                        "mosquitto pid %d ignored SIGTERM for %.0f s; killing",
                        proc.pid,
                        self.stop_timeout,
                    )
                    proc.kill()
                    proc.wait()

    def kill(self) -> None:
        """SIGKILL the broker and reap it, as a crash would (for fault tests).

        Anything changed since the last autosave is lost. A supervised broker is restarted by its
        supervisor; otherwise call ``start()`` again (same port, same persistence file).
        """
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                raise ConfigError("the broker is not running; nothing to kill")
            proc.kill()
            proc.wait()

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads its config, password and ACL files and disconnects clients
        whose login is gone."""
        with self._lock:
            pid = self.pid
            if pid is None:
                raise ConfigError("the broker is not running; start() it before reload()")
            os.kill(pid, signal.SIGHUP)

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------------------

    def _resolve_executable(self) -> str:
        found = shutil.which(self.executable)
        if (
            found is None
            and self.executable == "mosquitto"
            and os.access(DEBIAN_EXECUTABLE, os.X_OK)
        ):
            found = DEBIAN_EXECUTABLE  # /usr/sbin is not on every user's PATH
        if found is None:
            raise ConfigError(
                f"Mosquitto executable {self.executable!r} not found; install it "
                "(apt-get install mosquitto, or `make system-deps`) or pass executable="
            )
        return found

    def _spawn(self) -> None:
        """Start the process and wait until it listens (caller holds the lock)."""
        executable = self._resolve_executable()
        self.broker_dir.mkdir(parents=True, exist_ok=True)
        self.conf_file.write_text(self.config_text(), encoding="utf-8")
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        out_offset = (
            (self.broker_dir / OUT_FILE).stat().st_size
            if (self.broker_dir / OUT_FILE).exists()
            else 0
        )
        with open(self.broker_dir / OUT_FILE, "ab") as out:
            proc = subprocess.Popen(
                [executable, "-c", str(self.conf_file)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C meant for the hub's terminal is not the broker's
            )
        self._proc = proc
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = proc.poll()
            if code is not None:
                self._proc = None
                raise ConfigError(
                    f"Mosquitto exited with status {code} while starting on {self.host}:{self.port} "
                    f"(is the port in use? are the password/ACL files readable?). Its output:\n"
                    + self._tail(log_offset, out_offset)
                )
            if self._listening(proc.pid) and self._accepts():
                log.info("mosquitto pid %d listening on %s:%d", proc.pid, self.host, self.port)
                return
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                self._proc = None
                raise ConfigError(
                    f"Mosquitto did not listen on {self.host}:{self.port} within "
                    f"{self.start_timeout:.0f} s; killed it. Its output:\n"
                    + self._tail(log_offset, out_offset)
                )
            time.sleep(0.02)

    def _listening(self, pid: int) -> bool:
        # Our own process must hold the listening socket: a connect alone could reach another
        # process that took the port between the caller choosing it and us starting.
        try:
            conns = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.Error:
            return False
        ports = {self.port} | ({self.tls.port} if self.tls is not None else set())
        listening = {c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN and c.laddr}
        return ports <= listening

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0):
                return True
        except OSError:
            return False

    def _tail(self, log_offset: int, out_offset: int, lines: int = 20) -> str:
        chunks: list[str] = []
        for path, offset in ((self.broker_dir / OUT_FILE, out_offset), (self.log_file, log_offset)):
            try:
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    text = fh.read().decode("utf-8", "replace")
            except OSError:
                continue
            chunks += text.splitlines()[-lines:]
        return "\n".join(chunks) or "(no output)"

    def _supervise(self) -> None:
        backoff = BACKOFF_MIN
        up_since = time.monotonic()
        while not self._stop_supervisor.wait(0.1):
            with self._lock:
                proc = self._proc
                if proc is None or proc.poll() is None:
                    if time.monotonic() - up_since > 60:
                        backoff = BACKOFF_MIN  # up a while: the next crash restarts quickly
                    continue
                log.warning("mosquitto pid %d died (status %s)", proc.pid, proc.returncode)
            if self._stop_supervisor.wait(backoff):
                return
            with self._lock:
                if self._stop_supervisor.is_set():
                    return
                try:
                    self._spawn()
                except ConfigError as exc:
                    log.error("mosquitto restart failed, retrying in %.1f s: %s", backoff, exc)
                    self._proc = proc  # still dead: the next round retries
                else:
                    self.restarts += 1
                    up_since = time.monotonic()
            backoff = min(backoff * 2, BACKOFF_MAX)

    def _end_supervisor(self) -> None:
        thread, self._supervisor = self._supervisor, None
        if thread is not None:
            self._stop_supervisor.set()
            thread.join()
