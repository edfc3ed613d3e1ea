"""``make demo``: the whole product on one machine, on embedded defaults.

A hub (SQLite store, its own Mosquitto with per-agent passwords and ACL, the web UI), one simulated
approval database per department (SQLite; most in the simulator's reference schema, some as the
national exchange tables or Flowable history tables so every mapping profile runs), one agent per
department capturing its database, the city's 12345 hotline / complaints system (complaints and
information-disclosure requests, schema ``complaints``) with an agent of its own, 90 days of
history, then a live flow. A status line shows the hub's figures until Ctrl-C.

The complaints system gets its own agent rather than tables in a department's database: in a city
it is a separate system run by the 12345 hotline centre for every department (the complaints name
the department they are about), on its own server, so a department's agent could not reach it.

    python -m simulator.demo --data demo-data
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

import yaml

from shared.timefmt import SHANGHAI
from simulator.catalogue import build_catalogue
from simulator.cluster import LocalCluster, free_port, wait_for
from simulator.db import connect
from simulator.engine import Simulator, initialise
from simulator.settle import ImportWatch

REPO = Path(__file__).resolve().parent.parent
PROFILES = REPO / "firmware_configs" / "profiles"
SCHEMAS = {3: "exchange", 4: "flowable"}  # department index % 5 → schema; the rest: reference
COMPLAINTS_AGENT = "ts12345-01"
COMPLAINTS_NAME = "明州市12345热线 投诉与信息公开系统 采集端"


def schema_for(index: int) -> str:
    return SCHEMAS.get(index % 5, "reference")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def say(text: str) -> None:
    print(text, flush=True)


def make_department(path: str, schema: str, code: str, agent_config: str, days: int, now: str) -> str:
    """One department's database (or, with schema ``complaints``, the complaints system of the
    comma-separated departments ``code``): schema, the agent's capture triggers, then ``days`` of
    history (a worker process of :meth:`Demo.make_databases`); returns a problem in words, or ""."""
    db = connect(f"sqlite:///{path}", create=True)
    try:
        initialise(db, schema, seed=1, departments=code.split(","))
    finally:
        db.close()
    out = subprocess.run([sys.executable, "-m", "agent.cli", "capture", "install", "--config", agent_config],
                         capture_output=True, text=True)
    if out.returncode:
        return f"capture install failed for {code}:\n{out.stdout}{out.stderr}"
    db = connect(f"sqlite:///{path}")
    try:
        Simulator.open(db).backfill(days, datetime.fromisoformat(now))  # the simulator's realistic default rate
    finally:
        db.close()
    return ""


class Demo:
    def __init__(self, root: Path, departments: int, days: int, rate: str, http_port: int | None):
        self.root = root.resolve()
        self.state_file = self.root / "demo.json"
        state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        catalogue = build_catalogue(1, departments)
        self.depts = [d.code for d in catalogue.departments]
        self.names = {d.code: d.name for d in catalogue.departments}
        self.dept_agents = [f"{code.lower()}-01" for code in self.depts]
        self.agent_ids = [*self.dept_agents, COMPLAINTS_AGENT]
        self.days = days
        self.rate = rate
        mqtt = state.get("mqtt_port")
        self.cluster = LocalCluster(self.root, self.agent_ids, site_id="city-hall", embedded_broker=True,
                                    port=mqtt if mqtt and port_free(mqtt) else free_port(),
                                    agent_names={**{a: f"{self.names[c]} 采集端" for c, a
                                                    in zip(self.depts, self.dept_agents, strict=True)},
                                                 COMPLAINTS_AGENT: COMPLAINTS_NAME})
        web = http_port or state.get("http_port") or 8080
        self.cluster.http_port = web if port_free(web) else free_port()
        self.fresh = not state
        self.stop = threading.Event()
        self.sims: list[threading.Thread] = []
        self.watcher: ImportWatch | None = None

    # -- set-up -----------------------------------------------------------------------------------

    def db_path(self, code: str) -> Path:
        return self.root / "departments" / f"{code}.sqlite"

    @property
    def complaints_db(self) -> Path:
        return self.root / "complaints" / "12345.sqlite"

    def setup(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.cluster.setup()
        self.cluster.set_port(self.cluster.port)
        for i, (code, agent_id) in enumerate(zip(self.depts, self.dept_agents, strict=True)):
            path = self.agent_dir_config(agent_id)
            cfg = yaml.safe_load(path.read_text())
            cfg["capture"] = [{"name": "approval", "profile": str(PROFILES / f"{schema_for(i)}.yaml"),
                               "database": f"sqlite:///{self.db_path(code)}"}]
            camera = REPO / "firmware_configs" / "cameras" / f"{code.lower()}-cam1.yaml"
            if camera.exists():  # the department's own camera over its numbered windows
                cfg["cameras"] = [str(camera)]
            cfg["site_id"] = f"hall-{code.lower()}"
            path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))
        path = self.agent_dir_config(COMPLAINTS_AGENT)
        cfg = yaml.safe_load(path.read_text())
        cfg["capture"] = [{"name": "complaints", "profile": str(PROFILES / "complaints.yaml"),
                           "database": f"sqlite:///{self.complaints_db}"}]
        cfg["site_id"] = "city-12345"
        path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))
        if self.fresh:
            self.make_databases()
        self.state_file.write_text(json.dumps({"mqtt_port": self.cluster.port, "http_port": self.cluster.http_port}))

    def agent_dir_config(self, agent_id: str) -> Path:
        return self.cluster.agent_dir(agent_id) / "agent.yaml"

    def make_databases(self) -> None:
        """Create each department's database, install capture triggers, then write the history —
        so the history reaches the hub through the same capture path as live changes. Departments
        are written in parallel processes (one per core): 20 departments took 47 s one by one."""
        now = datetime.now(SHANGHAI)
        say(f"创建 {len(self.depts)} 个部门业务库和 12345 投诉系统库并回填 {self.days} 天历史 / creating "
            f"department databases, the complaints system and {self.days} days of history …")
        t0 = time.monotonic()
        jobs = [(str(self.db_path(code)), schema_for(i), code, str(self.agent_dir_config(self.dept_agents[i])),
                 self.days, now.isoformat()) for i, code in enumerate(self.depts)]
        jobs.append((str(self.complaints_db), "complaints", ",".join(self.depts),
                     str(self.agent_dir_config(COMPLAINTS_AGENT)), self.days, now.isoformat()))
        self.db_path(self.depts[0]).parent.mkdir(parents=True, exist_ok=True)
        self.complaints_db.parent.mkdir(parents=True, exist_ok=True)
        with ProcessPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
            for problem in pool.map(make_department, *zip(*jobs, strict=True)):
                if problem:
                    raise SystemExit(problem)
        say(f"  完成 / done in {time.monotonic() - t0:.0f} s")

    def _rate(self) -> float | None:
        if not self.rate:
            return None
        value, _, unit = self.rate.partition("/")
        per = {"min": 1.0, "h": 1 / 60, "s": 60.0}.get(unit or "min", 1.0)
        return float(value) * per / max(1, len(self.depts))

    def logins(self) -> dict[str, str]:
        path = self.root / "logins.json"
        if path.exists():
            return dict(json.loads(path.read_text()))
        logins = {"admin": secrets.token_urlsafe(9), "monitor": secrets.token_urlsafe(9)}
        for user, password in logins.items():
            subprocess.run(
                [sys.executable, "-m", "hub.cli", "user", "add", "--data", str(self.cluster.hub_dir),
                 "--username", user, "--role", user, "--password", password,
                 "--display-name", {"admin": "系统管理员", "monitor": "监控室值班员"}[user]],
                check=True, capture_output=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(logins, fh)
        return logins

    # -- running ----------------------------------------------------------------------------------

    def import_watch(self, started: float) -> ImportWatch:
        """Watches for the end of the history import (see :mod:`simulator.settle`)."""
        outboxes = {a: self.cluster.agent_dir(a) / "data" / "outbox.sqlite" for a in self.agent_ids}
        return ImportWatch(self.cluster.hub_dir / "hub.sqlite", outboxes, started)

    def start(self) -> None:
        self.watcher = self.import_watch(time.monotonic())
        self.cluster.start_hub()
        logins = self.logins()
        for agent_id in self.agent_ids:
            self.cluster.start_agent(agent_id)
        for code in self.depts:
            t = threading.Thread(target=self._simulate, args=(self.db_path(code), self._rate()),
                                 name=f"sim-{code}", daemon=True)
            t.start()
            self.sims.append(t)
        # the complaints system at its own modest rate (a few complaints per department a month)
        t = threading.Thread(target=self._simulate, args=(self.complaints_db, None), name="sim-12345",
                             daemon=True)
        t.start()
        self.sims.append(t)
        url = f"http://127.0.0.1:{self.cluster.http_port}/"
        say("")
        say(f"监察中心已启动 / hub running:  {url}")
        say(f"  管理员 admin:    admin / {logins['admin']}")
        say(f"  监控室 monitor:  monitor / {logins['monitor']}")
        say(f"  MQTT 127.0.0.1:{self.cluster.port}   数据 data: {self.root}   日志 logs: {self.root / 'logs'}")
        say("  Ctrl-C 停止 / to stop")
        say("")

    def _simulate(self, path: Path, rate: float | None) -> None:
        db = connect(f"sqlite:///{path}")
        try:
            sim = Simulator.open(db, rate_per_min=rate, office_hours=False)
            sim.run(lambda: datetime.now(SHANGHAI), lambda seconds: None if self.stop.wait(seconds) else None,
                    stop=self.stop.is_set)
        except Exception as exc:  # the demo goes on with the other departments
            say(f"\n模拟器 {path.stem} 停止 / simulator {path.stem} stopped: {exc}")
        finally:
            db.close()

    def status(self) -> str:
        try:
            conn = sqlite3.connect(f"file:{self.cluster.hub_dir / 'hub.sqlite'}?mode=ro", uri=True, timeout=2)
        except sqlite3.Error:
            return "…"
        try:
            records = conn.execute("SELECT COALESCE(MAX(id), 0) FROM records").fetchone()[0]
            online = conn.execute("SELECT COUNT(*) FROM agent_link WHERE online = 1").fetchone()[0]
            quarantined = conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]
            parts = [f"记录 records {records}", f"在线代理 online {online}/{len(self.agent_ids)}",
                     f"隔离 quarantined {quarantined}"]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "cases" in tables:
                parts.append(f"办件 cases {conn.execute('SELECT COUNT(*) FROM cases').fetchone()[0]}")
            if "cards" in tables:
                rows = dict(conn.execute("SELECT CASE WHEN state = 'withdrawn' THEN 'withdrawn' ELSE level END, "
                                         "COUNT(*) FROM cards GROUP BY 1").fetchall())
                withdrawn = rows.pop("withdrawn", 0)
                parts.append("牌 cards " + " ".join(f"{k}:{v}" for k, v in sorted(rows.items()))
                             + f" (撤销 withdrawn {withdrawn})")
            depth = sum(int(self.cluster.outbox_meta(a).get("depth", "0") or 0) for a in self.agent_ids)
            parts.append(f"待发 backlog {depth}")
            return " | ".join(parts)
        except sqlite3.Error:
            return "…"
        finally:
            conn.close()

    def watch(self) -> None:
        interactive = sys.stdout.isatty()
        while not self.stop.wait(2.0):
            watcher = self.watcher
            if watcher is not None and watcher.finished is None \
                    and watcher.look(time.monotonic(), time.time()):
                end = "\n" if interactive else ""
                say(f"{end}{watcher.state.line(watcher.seconds)}")
            line = f"{datetime.now(SHANGHAI):%H:%M:%S} {self.status()}"
            if interactive:
                print("\r" + line[:200].ljust(120), end="", flush=True)
            else:
                print(line, flush=True)
            dead = [p.name for p in [self.cluster.hub, *self.cluster.agents.values()] if p and not p.alive]
            if dead:
                say(f"\n进程退出 / process exited: {', '.join(dead)} — see {self.root / 'logs'}")
                self.stop.set()

    def shutdown(self) -> None:
        self.stop.set()
        for t in self.sims:
            t.join(10)
        say("\n正在停止 / stopping …")
        self.cluster.stop_all()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="demo-data", type=Path, help="where the demo keeps everything")
    ap.add_argument("--departments", type=int, default=20, help="how many departments (1-20)")
    ap.add_argument("--days", type=int, default=90, help="days of history on the first run")
    ap.add_argument("--rate", default="6/min", help="live cases per minute, city-wide (history uses a "
                    "realistic ~420 cases per working day)")
    ap.add_argument("--http-port", type=int, default=None, help="web UI port (default 8080 if free)")
    ap.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = ap.parse_args(argv)
    demo = Demo(args.data, args.departments, args.days, args.rate, args.http_port)
    signal.signal(signal.SIGTERM, lambda *_: demo.stop.set())
    try:
        demo.setup()
        demo.start()
        wait_for(lambda: demo.stop.is_set() or demo.status().startswith("记录 records")
                 and " 0/" not in demo.status(), 60, "agents to come online")
        if args.duration:
            timer = threading.Timer(args.duration, demo.stop.set)
            timer.daemon = True  # Ctrl-C before the duration must not wait for it
            timer.start()
        demo.watch()
    except KeyboardInterrupt:
        pass
    finally:
        demo.shutdown()


if __name__ == "__main__":
    main()
