"""A whole deployment on one machine, as real processes: a Mosquitto broker, the hub, N agents.

Used by ``make demo``, the fault tests and the benchmarks. Every process can be stopped, killed
(SIGKILL) and restarted on its own; ports are free ports chosen at set-up.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from hub.broker import MosquittoBroker, TlsListener
from hub.runtime import DB_FILE, hub_login
from provisioning import ca
from provisioning.broker_files import broker_dir, write_broker_files
from provisioning.hubkey import hub_public_key
from provisioning.identity import BrokerLogin, ClientTls, generate_key, public_key_bytes, write_bundle
from provisioning.registry import Registry
from simulator.catalogue import HALL

BROKER_NAMES = ("localhost", "127.0.0.1")


def free_port() -> int:
    """A TCP port nobody listens on right now (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``predicate`` until true; raise TimeoutError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Proc:
    """A child process with its output in a log file."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.popen = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None and self.popen.poll() is None else None

    @property
    def alive(self) -> bool:
        return self.pid is not None

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in a power cut of that process."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def stop(self, timeout: float = 20.0) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class LocalCluster:
    """Broker + hub + agents under ``root``. Call :meth:`setup` once, then start what you need."""

    def __init__(
        self,
        root: Path,
        agent_ids: list[str],
        site_id: str = "site1",
        port: int | None = None,
        uplink: dict[str, Any] | None = None,
        hub_args: list[str] | None = None,
        python: str = sys.executable,
        embedded_broker: bool = False,
        site_name: str = HALL,
        agent_names: dict[str, str] | None = None,
        tls: bool = True,
    ):
        self.root = Path(root).resolve()
        self.hub_dir = self.root / "hub"
        self.agent_ids = list(agent_ids)
        self.site_id = site_id
        self.site_name = site_name  # as the hall's sign says; the video wall shows it
        self.agent_names = agent_names or {}  # agent id → name (default: the id)
        self.port = port or free_port()
        self.http_port = free_port()
        self.uplink = uplink or {}
        self.hub_args = hub_args or []
        self.python = python
        self.embedded_broker = embedded_broker
        #: Agents use the broker's mutual-TLS listener (``localhost:tls_port``, certificates of the hub
        #: CA); the hub keeps its password login on ``127.0.0.1:port``, as in production.
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.broker: MosquittoBroker | None = None
        self.hub: Proc | None = None
        self.agents: dict[str, Proc] = {}

    # -- set-up ---------------------------------------------------------------------------------

    def setup(self) -> None:
        self.hub_dir.mkdir(parents=True, exist_ok=True)
        registry = Registry(self.hub_dir / DB_FILE)
        if self.site_id not in {s.site_id for s in registry.sites()}:
            registry.add_site(self.site_id, self.site_name)
        known = {a.agent_id for a in registry.agents()}
        for agent_id in self.agent_ids:
            if agent_id in known:
                continue
            key = generate_key()
            password = registry.add_agent(agent_id, self.site_id, public_key_bytes(key),
                                          self.agent_names.get(agent_id, agent_id))
            client_tls = None
            if self.tls_port is not None:
                tls_key = ca.new_tls_key()
                cert = ca.client_cert(self.hub_dir, tls_key.public_key(), agent_id)
                client_tls = ClientTls(ca.ca_file(self.hub_dir).read_bytes(), ca.cert_pem(cert), ca.key_pem(tls_key))
            if self.tls_port is not None:
                registry.record_certificate(agent_id, cert.serial_number, cert.not_valid_after_utc)
            bundle = write_bundle(
                self.agent_dir(agent_id), agent_id=agent_id, site_id=self.site_id, key=key,
                broker=BrokerLogin(*self._agent_broker(), agent_id, password),
                hub_public_key=hub_public_key(self.hub_dir), tls=client_tls,
            )
            cfg = yaml.safe_load(bundle.config_file.read_text())
            if self.uplink:
                cfg["uplink"] = self.uplink
            # The attack tests log in as an agent on the hub's loopback (password) listener.
            cfg["broker"]["password"] = password
            bundle.config_file.write_text(yaml.safe_dump(cfg, allow_unicode=True))
        hub_login(self.hub_dir, registry)
        write_broker_files(registry, broker_dir(self.hub_dir))

    def _agent_broker(self) -> tuple[str, int]:
        """Where agents connect: the TLS listener by its certificate name, or the plain port."""
        return ("localhost", self.tls_port) if self.tls_port is not None else ("127.0.0.1", self.port)

    def set_port(self, port: int) -> None:
        """Point every agent bundle at a new broker port (the demo picks a free one each run); with
        TLS the agents' TLS port is chosen afresh too."""
        self.port = port
        if self.tls:
            self.tls_port = free_port()
        for agent_id in self.agent_ids:
            path = self.agent_dir(agent_id) / "agent.yaml"
            cfg = yaml.safe_load(path.read_text())
            if cfg["broker"].get("ca_file"):
                cfg["broker"]["host"], cfg["broker"]["port"] = self._agent_broker()
            else:  # a bundle made before the cluster used TLS
                cfg["broker"]["host"], cfg["broker"]["port"] = "127.0.0.1", port
            path.write_text(yaml.safe_dump(cfg, allow_unicode=True))

    def tls_listener(self) -> TlsListener | None:
        """The broker's agent listener on 127.0.0.1 (certificate for localhost)."""
        if self.tls_port is None:
            return None
        server = ca.broker_server_cert(self.hub_dir, list(BROKER_NAMES))
        crl = ca.write_crl(self.hub_dir, Registry(self.hub_dir / DB_FILE).revoked_serials())
        return TlsListener(self.tls_port, ca.ca_file(self.hub_dir), server.cert, server.key, host="127.0.0.1",
                           crlfile=crl)

    def tls_hub_args(self) -> list[str]:
        """``xiaoneng-hub run`` options for the same listener when the hub runs the broker."""
        if self.tls_port is None:
            return []
        names = [arg for name in BROKER_NAMES for arg in ("--broker-name", name)]
        return ["--mqtt-tls-port", str(self.tls_port), "--mqtt-tls-host", "127.0.0.1", *names]

    def agent_dir(self, agent_id: str) -> Path:
        return self.root / "agents" / agent_id

    # -- processes ------------------------------------------------------------------------------

    def start_broker(self) -> None:
        d = broker_dir(self.hub_dir)
        if self.broker is None:
            self.broker = MosquittoBroker(
                self.hub_dir, port=self.port, password_file=d / "passwd", acl_file=d / "acl",
                tls=self.tls_listener(),
            )
        self.broker.start()

    def kill_broker(self) -> None:
        assert self.broker is not None
        self.broker.kill()

    def start_hub(self) -> None:
        self.hub = Proc(
            "hub",
            [self.python, "-m", "hub.cli", "run", "--data", str(self.hub_dir),
             "--broker", "embedded" if self.embedded_broker else "external",
             "--mqtt-port", str(self.port), "--http-port", str(self.http_port),
             *(self.tls_hub_args() if self.embedded_broker else []), *self.hub_args],
            self.root / "logs" / "hub.log",
        )
        self.hub.start()
        wait_for(lambda: self._hub_ready(), 30, f"the hub to connect (log: {self.hub.log_path})")

    def _hub_ready(self) -> bool:
        assert self.hub is not None
        if not self.hub.alive:
            raise RuntimeError(f"hub exited:\n{self.hub.tail()}")
        return "hub connected to broker" in self.hub.tail(200)

    def start_agent(self, agent_id: str, synthetic_rate: float = 0.0) -> Proc:
        argv = [self.python, "-m", "agent.cli", "run", "--config", str(self.agent_dir(agent_id) / "agent.yaml")]
        if synthetic_rate:
            argv += ["--synthetic-rate", str(synthetic_rate)]
        proc = Proc(f"agent-{agent_id}", argv, self.root / "logs" / f"agent-{agent_id}.log")
        proc.start()
        self.agents[agent_id] = proc
        return proc

    def drain_all(self, timeout: float = 120.0) -> None:
        """Stop every agent's producer (SIGTERM), restart it without one, wait until all is stored."""
        for agent_id in self.agent_ids:
            if agent_id in self.agents:
                self.agents[agent_id].stop()
            self.start_agent(agent_id)
        for agent_id in self.agent_ids:
            proc = self.agents[agent_id]
            wait_for(partial(self.drained, agent_id), timeout, f"agent {agent_id} to drain:\n{proc.tail()}")

    def stop_all(self) -> None:
        for proc in self.agents.values():
            proc.stop()
        if self.hub is not None:
            self.hub.stop()
        if self.broker is not None:
            self.broker.stop()

    # -- looking inside -------------------------------------------------------------------------

    def hub_db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.hub_dir / DB_FILE}?mode=ro", uri=True, timeout=10)
        return conn

    def outbox_meta(self, agent_id: str) -> dict[str, str]:
        path = self.agent_dir(agent_id) / "data" / "outbox.sqlite"
        if not path.exists():
            return {}
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            meta["depth"] = str(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
            return meta
        except sqlite3.OperationalError:
            return {}
        finally:
            conn.close()

    def stored_head(self, agent_id: str, stream_id: str) -> int:
        conn = self.hub_db()
        try:
            row = conn.execute(
                "SELECT head_seq FROM streams WHERE agent_id = ? AND stream_id = ?", (agent_id, stream_id)
            ).fetchone()
            return int(row[0]) if row else 0
        except sqlite3.OperationalError:
            return 0
        finally:
            conn.close()

    def drained(self, agent_id: str) -> bool:
        """Everything the agent ever appended is stored at the hub and pruned from its outbox."""
        meta = self.outbox_meta(agent_id)
        if not meta:
            return False
        head = int(meta["head_seq"])
        return self.stored_head(agent_id, meta["stream_id"]) == head and meta["depth"] == "0"

    def audit(self) -> dict[str, int]:
        """Count what a fault run must never produce: lost, duplicated or reordered records."""
        conn = self.hub_db()
        sent = stored = lost = duplicates = reordered = 0
        try:
            for agent_id in self.agent_ids:
                meta = self.outbox_meta(agent_id)
                if not meta:
                    continue
                head = int(meta["head_seq"])
                sent += head
                rows = conn.execute(
                    "SELECT seq FROM records WHERE agent_id = ? AND stream_id = ? ORDER BY id",
                    (agent_id, meta["stream_id"]),
                ).fetchall()
                seqs = [int(r[0]) for r in rows]
                stored += len(seqs)
                duplicates += len(seqs) - len(set(seqs))
                lost += len(set(range(1, head + 1)) - set(seqs))
                reordered += sum(1 for a, b in zip(seqs, seqs[1:]) if b != a + 1)
        finally:
            conn.close()
        return {"sent": sent, "stored": stored, "lost": lost, "duplicates": duplicates, "reordered": reordered}
