"""The one-file agent (issue 12, item 1): built with PyInstaller, run where no Python is on PATH.

The database-capture build is made once for this module (``deploy/agent/build.py``, ~30–60 s) into a
temporary folder. It runs under ``env -i`` with a PATH of /usr/bin:/bin only (no virtual environment,
no PYTHONPATH), answers ``--version`` and every subcommand's ``--help``, installs its capture triggers
into a real PostgreSQL department database through the psycopg it carries, and delivers the
captured cases over a real Mosquitto to a real hub. The install script is tried in a staging root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from hub.engine.localtime import LOCAL_TZ
from shared.version import VERSION
from simulator.cluster import LocalCluster, wait_for
from simulator.db import connect
from simulator.engine import Simulator, initialise
from tests.simulator.servers import fresh_database
from tests.support.required import need_tool

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
COMMANDS = ("audit", "capture", "emit", "run", "status", "validate-config")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    need_tool("objdump", "binutils")
    dist = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, str(ROOT / "deploy" / "agent" / "build.py"), "--variant", "db",
                           "--dist", str(dist)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, str] = json.loads(done.stdout)["db"]
    print(f"one-file agent: {result}")
    return result


def run_binary(binary: str, *args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, *args], env=CLEAN_ENV, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_the_binary_runs_without_python(built: dict[str, str], tmp_path: Path) -> None:
    binary = built["file"]
    assert Path(binary).stat().st_size < 60 * 2**20, "the database-capture build stays small"
    version = run_binary(binary, "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"xiaoneng-agent {VERSION}", version.stderr
    listing = run_binary(binary, "--help", cwd=tmp_path).stdout
    for command in COMMANDS:
        assert f"  {command} " in listing, listing
        helped = run_binary(binary, command, "--help", cwd=tmp_path)
        assert helped.returncode == 0 and "Usage:" in helped.stdout, (command, helped.stderr)
    # the glibc it needs is reported as a version number
    major, minor = (int(x) for x in built["glibc_required"].split("."))
    assert (major, minor) >= (2, 17)


def test_the_binary_says_what_is_wrong_with_a_config(built: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "agent.yaml"
    bad.write_text("agent_id: a1\nbroker: {host: 127.0.0.1}\n")
    done = run_binary(built["file"], "validate-config", str(bad), cwd=tmp_path)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and str(bad) in (done.stdout + done.stderr)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = LocalCluster(tmp_path, ["pg-01"], uplink={"ack_timeout": 3.0, "heartbeat_interval": 2.0,
                                                  "backoff_initial": 0.2, "backoff_max": 2.0})
    c.setup()
    try:
        yield c
    finally:
        c.stop_all()


def stored_cases(c: LocalCluster) -> int:
    conn = c.hub_db()
    try:
        return int(conn.execute("SELECT COUNT(*) FROM records WHERE type = 'case.accepted'").fetchone()[0])
    finally:
        conn.close()


def test_the_binary_captures_postgresql_into_the_hub(built: dict[str, str], cluster: LocalCluster,
                                                      tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        db = connect(url)
        try:
            initialise(db, "reference", seed=1, departments=["SCJG"])
        finally:
            db.close()
        config = cluster.agent_dir("pg-01") / "agent.yaml"
        cfg = yaml.safe_load(config.read_text())
        profile = ROOT / "firmware_configs" / "profiles" / "reference.yaml"
        cfg["capture"] = [{"name": "approval", "profile": str(profile), "database": url}]
        config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
        installed = run_binary(built["file"], "capture", "install", "--config", str(config), cwd=tmp_path)
        assert installed.returncode == 0, installed.stdout + installed.stderr
        checked = run_binary(built["file"], "validate-config", "--live", str(config), cwd=tmp_path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        db = connect(url)
        try:
            Simulator.open(db).backfill(2, datetime(2026, 11, 20, 17, 0, tzinfo=LOCAL_TZ))
            cases = int(db.query("SELECT COUNT(*) FROM appr_case")[0][0])
        finally:
            db.close()
        cluster.start_broker()
        cluster.start_hub()
        log = cluster.root / "logs" / "agent-binary.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            agent = subprocess.Popen([built["file"], "run", "--config", str(config)], env=CLEAN_ENV,
                                     cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        try:
            assert cases > 0
            wait_for(lambda: stored_cases(cluster) > 0 and cluster.drained("pg-01"), 120,
                     f"the one-file agent's captured cases at the hub ({log})")
        finally:
            agent.terminate()
            agent.wait(30)
        assert agent.returncode == 0, log.read_text()[-3000:]
        # every change the triggers logged became a record, and every record is stored at the hub
        assert cluster.outbox_meta("pg-01")["acked_seq"] == cluster.outbox_meta("pg-01")["head_seq"]
        assert '"level": "error"' not in log.read_text()


def test_the_install_script_in_a_staging_root(built: dict[str, str], tmp_path: Path) -> None:
    build = subprocess.run([sys.executable, "-c",
                            "import sys; sys.path.insert(0, sys.argv[1]); from deploy.agent.build import bundle; "
                            "from pathlib import Path; print(bundle('db', Path(sys.argv[2])))",
                            str(ROOT), str(Path(built["file"]).parent)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    tarball = Path(build.stdout.strip())
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    top = next((tmp_path / "unpacked").iterdir())
    assert sorted(p.name for p in top.iterdir()) == ["install.sh", "xiaoneng-agent", "xiaoneng-agent.service"]
    stage = tmp_path / "stage"
    done = subprocess.run(["sh", str(top / "install.sh"), "--root", str(stage)], capture_output=True, text=True,
                          env={**CLEAN_ENV}, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"xiaoneng-agent {VERSION}" in done.stdout
    exe = stage / "usr" / "local" / "bin" / "xiaoneng-agent"
    assert exe.exists() and os.access(exe, os.X_OK)
    unit = (stage / "etc" / "systemd" / "system" / "xiaoneng-agent.service").read_text()
    assert "ExecStart=/usr/local/bin/xiaoneng-agent run --config /etc/xiaoneng-agent/agent.yaml" in unit
    assert "User=xiaoneng" in unit
    assert (stage / "etc" / "xiaoneng-agent" / "data").is_dir()
    assert oct((stage / "etc" / "xiaoneng-agent").stat().st_mode & 0o777) == "0o750"


def test_the_capture_build_refuses_cameras_in_words(built: dict[str, str], cluster: LocalCluster,
                                                     tmp_path: Path) -> None:
    config = cluster.agent_dir("pg-01") / "agent.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["cameras"] = [str(ROOT / "firmware_configs" / "cameras" / "demo-hall-cam1.yaml")]
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    for args in (("validate-config", str(config)), ("run", "--config", str(config))):
        done = run_binary(built["file"], *args, cwd=tmp_path)
        said = done.stdout + done.stderr
        assert done.returncode != 0 and "Traceback" not in said, said
        assert "no video support" in said and "xiaoneng-agent-video" in said, said


def _stored_of(hub_dir: Path, agent_id: str, type_: str) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{hub_dir / 'hub.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM records WHERE agent_id = ? AND type = ?",
                                (agent_id, type_)).fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_the_binary_enrols_by_token_and_captures_sqlite_over_mutual_tls(built: dict[str, str],
                                                                         tmp_path: Path) -> None:
    """The hall's whole first day with the one-file agent: a token from the hub, `enroll` over HTTPS
    (keys made on the hall machine), a department SQLite database captured, cases at the hub over
    mutual TLS; the token is then spent."""
    from tests.support.ports import free_port

    enroll_port = free_port()
    cluster = LocalCluster(tmp_path / "hub-side", [], site_id="hall-scjg", embedded_broker=True,
                           hub_args=["--no-supervision", "--tls-self-issued", "--tls-name", "localhost",
                                     "--enroll-port", str(enroll_port), "--enroll-host", "127.0.0.1"])
    agent: subprocess.Popen[bytes] | None = None
    hall = tmp_path / "hall"
    hall.mkdir()
    try:
        cluster.setup()
        cluster.start_hub()
        created = subprocess.run([sys.executable, "-m", "hub.cli", "enroll", "create", "--data", str(cluster.hub_dir),
                                  "--site", "hall-scjg", "--agent", "scjg-01"], capture_output=True, text=True,
                                 timeout=60)
        assert created.returncode == 0, created.stderr
        token = next(line for line in created.stdout.splitlines() if line.startswith("xn1."))
        out = hall / "etc"
        url = f"https://localhost:{enroll_port}"
        enrolled = run_binary(built["file"], "enroll", "--hub", url, "--token", token, "--out", str(out), cwd=hall)
        assert enrolled.returncode == 0, enrolled.stdout + enrolled.stderr
        again = run_binary(built["file"], "enroll", "--hub", url, "--token", token, "--out", str(hall / "x"), cwd=hall)
        assert again.returncode != 0 and "token_used" in again.stdout + again.stderr
        # the department's database, as the hall has it
        db_file = hall / "scjg.sqlite"
        db = connect(f"sqlite:///{db_file}", create=True)
        try:
            initialise(db, "reference", seed=1, departments=["SCJG"])
        finally:
            db.close()
        config = out / "agent.yaml"
        cfg = yaml.safe_load(config.read_text())
        assert cfg["broker"]["port"] == cluster.tls_port and "password" not in cfg["broker"]
        cfg["capture"] = [{"name": "approval", "database": f"sqlite:///{db_file}",
                           "profile": str(ROOT / "firmware_configs" / "profiles" / "reference.yaml")}]
        config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
        installed = run_binary(built["file"], "capture", "install", "--config", str(config), cwd=hall)
        assert installed.returncode == 0, installed.stdout + installed.stderr
        db = connect(f"sqlite:///{db_file}")
        try:
            Simulator.open(db).backfill(1, datetime(2026, 11, 20, 17, 0, tzinfo=LOCAL_TZ))
        finally:
            db.close()
        with (hall / "agent.log").open("wb") as log:
            agent = subprocess.Popen([built["file"], "run", "--config", str(config)], env=CLEAN_ENV, cwd=hall,
                                     stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: _stored_of(cluster.hub_dir, "scjg-01", "case.accepted") > 0, 120,
                 f"cases captured by the enrolled one-file agent at the hub ({hall / 'agent.log'})")
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(30)
        cluster.stop_all()
    assert agent is not None and agent.returncode == 0, (hall / "agent.log").read_text()[-3000:]
