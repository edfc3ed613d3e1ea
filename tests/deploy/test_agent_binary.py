"""The one-file agent (issue 12, item 1): built with PyInstaller, run where no Python is on PATH.

The database-capture build is made once for this module (``deploy/agent/build.py``, ~30–60 s) into a
temporary folder. It runs under ``env -i`` with a PATH of /usr/bin:/bin only (no virtual environment,
no PYTHONPATH), answers ``--version`` and every subcommand's ``--help``, installs its capture triggers
into a real PostgreSQL department database through the psycopg it carries, and delivers the
captured cases over a real Mosquitto to a real hub. The install script is tried in a staging root.
The same binary enrols by token and captures SQLite over mutual TLS, is refused by the broker (other
CA pinned, expired or revoked certificate), rotates its certificate without losing a record, and
applies a pushed configuration (a bad one not applied, a failing one rolled back).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from hub.engine.localtime import LOCAL_TZ
from hub.enroll import TokenStore
from provisioning import ca
from shared.version import VERSION
from simulator.cluster import LocalCluster, wait_for
from simulator.db import connect
from simulator.engine import Simulator, initialise
from tests.integration import test_configpush as configpush
from tests.mapping.capture_support import PROFILES, Department
from tests.simulator.servers import fresh_database
from tests.support.enrol_hub import Running, running_hub
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


# -- refusals and rotation with the binary, on a hub in this process (tests/support/enrol_hub.py) ---------


def _enrol_binary(built: dict[str, str], hub: Running, agent_id: str, hall: Path) -> Path:
    """`xiaoneng-agent enroll` of the one-file agent with a fresh token; its agent.yaml."""
    hall.mkdir(parents=True, exist_ok=True)
    done = run_binary(built["file"], "enroll", "--hub", hub.url, "--token", hub.token(agent_id),
                      "--out", str(hall / "etc"), cwd=hall)
    assert done.returncode == 0, done.stdout + done.stderr
    return hall / "etc" / "agent.yaml"


def _emit(built: dict[str, str], config: Path, case_id: str) -> None:
    done = run_binary(built["file"], "emit", "--config", str(config), "--type", "case.accepted",
                      "--body", json.dumps({"case_id": case_id}), cwd=config.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def _stored_case_ids(hub_dir: Path, agent_id: str) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(f"file:{hub_dir / 'hub.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("SELECT raw FROM records WHERE agent_id = ? AND type = 'case.accepted' ORDER BY seq",
                            (agent_id,)).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
    return [str(json.loads(bytes(raw))["body"]["case_id"]) for (raw,) in rows]


def _start(built: dict[str, str], config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([built["file"], "run", "--config", str(config)], env=CLEAN_ENV, cwd=config.parent,
                                stdout=out, stderr=subprocess.STDOUT)


def _stop(agent: subprocess.Popen[bytes]) -> None:
    agent.terminate()
    agent.wait(30)


@pytest.fixture
def enrol_hub(tmp_path: Path) -> Iterator[Running]:
    with running_hub(tmp_path) as hub:
        yield hub


def test_the_broker_refuses_the_binary_with_a_wrong_ca_an_expired_or_a_revoked_certificate(
        built: dict[str, str], enrol_hub: Running, tmp_path: Path) -> None:
    """As tests/provisioning/test_broker_tls.py and tests/hub/test_enroll.py assert of the Python agent:
    another CA pinned → "not the hub's"; an expired certificate → refused; revoked through the hub (CRL
    rewritten, broker reloaded) → refused with "revoked", and its records stay in its outbox. The binary's
    `audit` is the one-shot connection (exit 2 and the reason); `run` keeps retrying and logs the reason."""
    config = _enrol_binary(built, enrol_hub, "pc-20", tmp_path / "hall")
    _emit(built, config, "C-20-1")  # the outbox exists: `audit` has something to check
    log = tmp_path / "hall" / "agent.log"
    agent = _start(built, config, log)
    try:
        wait_for(lambda: _stored_case_ids(enrol_hub.data, "pc-20") == ["C-20-1"], 60,
                 f"the enrolled binary's record at the hub ({log})")
    finally:
        _stop(agent)
    audited = run_binary(built["file"], "audit", "--config", str(config), "--timeout", "10", cwd=tmp_path)
    assert audited.returncode == 0 and "audit OK" in audited.stdout, audited.stdout + audited.stderr

    # another CA pinned: the agent refuses the broker
    other = tmp_path / "other-hub"
    ca.load_or_create_ca(other)
    settings = yaml.safe_load(config.read_text())
    settings["broker"]["ca_file"] = str(ca.ca_file(other))
    wrong_ca = config.with_name("wrong-ca.yaml")
    wrong_ca.write_text(yaml.safe_dump(settings, allow_unicode=True))
    refused = run_binary(built["file"], "audit", "--config", str(wrong_ca), "--timeout", "5", cwd=tmp_path)
    said = refused.stdout + refused.stderr
    assert refused.returncode == 2 and "not the hub's" in said and "Traceback" not in said, said

    # an expired certificate of this hub (the machine was off while it ran out): the broker refuses it
    expired_dir = tmp_path / "expired"
    expired_config = _enrol_binary(built, enrol_hub, "pc-21", expired_dir)
    _emit(built, expired_config, "C-21-1")
    tls_key = load_pem_private_key((expired_dir / "etc" / "agent-tls.key").read_bytes(), password=None)
    assert isinstance(tls_key, ec.EllipticCurvePrivateKey)
    expired = ca.client_cert(enrol_hub.data, tls_key.public_key(), "pc-21", days=1,
                             now=datetime.now(UTC) - timedelta(days=2))
    (expired_dir / "etc" / "agent-tls.pem").write_bytes(ca.cert_pem(expired))
    refused = run_binary(built["file"], "audit", "--config", str(expired_config), "--timeout", "5", cwd=tmp_path)
    said = refused.stdout + refused.stderr
    assert refused.returncode == 2 and "refused" in said and "expired" in said and "Traceback" not in said, said

    # revoked through the hub: refused at the handshake within seconds
    enrol_hub.hub.registry.revoke("pc-20")
    enrol_hub.hub.refresh_broker()
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while True:
        refused = run_binary(built["file"], "audit", "--config", str(config), "--timeout", "5", cwd=tmp_path)
        said = refused.stdout + refused.stderr
        if refused.returncode == 2 or datetime.now(UTC) > deadline:
            break
    assert refused.returncode == 2 and "revoked" in said and "Traceback" not in said, said
    _emit(built, config, "C-20-2")
    agent = _start(built, config, log)
    try:
        wait_for(lambda: log.read_text().count("revoked") >= 1 and "connect failed" in log.read_text(), 30,
                 f"the revoked binary agent's refusal in its log ({log})")
    finally:
        _stop(agent)
    assert _stored_case_ids(enrol_hub.data, "pc-20") == ["C-20-1"]


def test_the_binary_rotates_its_certificate_and_loses_no_record(built: dict[str, str], enrol_hub: Running,
                                                                 tmp_path: Path) -> None:
    """`xiaoneng-agent rotate --force` while the agent runs and records keep coming: new key and
    certificate, and every record, before and after, is at the hub."""
    config = _enrol_binary(built, enrol_hub, "pc-30", tmp_path / "hall")
    etc = config.parent
    old_cert = x509.load_pem_x509_certificate((etc / "agent-tls.pem").read_bytes())
    old_key = (etc / "agent-tls.key").read_bytes()
    log = tmp_path / "hall" / "agent.log"
    agent = _start(built, config, log)
    try:
        for i in range(3):
            _emit(built, config, f"C-30-{i}")
        wait_for(lambda: len(_stored_case_ids(enrol_hub.data, "pc-30")) == 3, 60,
                 f"records before the rotation at the hub ({log})")
        not_due = run_binary(built["file"], "rotate", "--config", str(config), cwd=tmp_path)
        assert not_due.returncode == 0 and "not due" in not_due.stdout, not_due.stdout + not_due.stderr
        for i in range(3, 5):
            _emit(built, config, f"C-30-{i}")
        rotated = run_binary(built["file"], "rotate", "--config", str(config), "--force", cwd=tmp_path)
        assert rotated.returncode == 0 and "renewed" in rotated.stdout, rotated.stdout + rotated.stderr
        new_cert = x509.load_pem_x509_certificate((etc / "agent-tls.pem").read_bytes())
        assert new_cert.serial_number != old_cert.serial_number
        assert (etc / "agent-tls.key").read_bytes() != old_key
        _emit(built, config, "C-30-5")
    finally:
        _stop(agent)
    assert agent.returncode == 0, log.read_text()[-3000:]
    # the restarted agent logs in with the new certificate and sends what was left
    for i in range(6, 8):
        _emit(built, config, f"C-30-{i}")
    agent = _start(built, config, log)
    try:
        wait_for(lambda: len(_stored_case_ids(enrol_hub.data, "pc-30")) == 8, 60,
                 f"records after the rotation at the hub ({log})")
    finally:
        _stop(agent)
    assert _stored_case_ids(enrol_hub.data, "pc-30") == [f"C-30-{i}" for i in range(8)]
    outcomes = [row[3] for row in TokenStore(enrol_hub.data / "hub.sqlite").audit_rows() if row[2] == "pc-30"]
    assert outcomes == ["created", "enrolled", "renewed"]
    assert '"level": "error"' not in log.read_text()


@pytest.fixture
def push_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = LocalCluster(tmp_path, ["a1"], uplink=configpush.FAST)
    c.setup()
    path = c.agent_dir("a1") / "agent.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["config_watch_s"] = 8.0
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    c.start_broker()
    c.start_hub()
    try:
        yield c
    finally:
        c.stop_all()


def test_the_binary_applies_a_pushed_configuration_and_rolls_back_a_failing_one(
        built: dict[str, str], push_cluster: LocalCluster, tmp_path: Path) -> None:
    """`xiaoneng-hub config push` to the one-file agent (tests/integration/test_configpush.py's helpers):
    a good bundle is applied, reported in the heartbeat and captures; a profile that does not fit the
    database is not applied; one whose capture fails after applying is rolled back by the agent."""
    c = push_cluster
    db = tmp_path / "dept.sqlite"
    Department.create(f"sqlite:///{db}", "reference", days=1).db.close()
    log = tmp_path / "agent-binary.log"
    agent = _start(built, c.agent_dir("a1") / "agent.yaml", log)
    try:
        wait_for(lambda: configpush.link(c)[0] == 0, 30, f"the binary's first heartbeat ({log})")
        out = configpush.push(c, tmp_path, db, "--agent", "a1")
        assert out.returncode == 0 and "version 1" in out.stdout, out.stdout + out.stderr
        wait_for(lambda: configpush.link(c) == (1, None), 30, f"version 1 reported applied ({log})")
        wait_for(lambda: configpush.stored_cases(c) > 0, 60, f"records captured under the pushed configuration ({log})")
        broken = (PROFILES / "reference.yaml").read_text(encoding="utf-8").replace(
            "appr_case:\n    key: id", "appr_case:\n    key: no_such_column")
        out = configpush.push(c, tmp_path, db, "--agent", "a1", profile=broken)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: "version 2 not applied" in (configpush.link(c)[1] or ""), 30,
                 f"the bad profile refused ({log})")
        assert configpush.link(c)[0] == 1 and "no_such_column" in (configpush.link(c)[1] or "")
        other = tmp_path / "other.sqlite"
        other.write_bytes(db.read_bytes())
        with closing(sqlite3.connect(other)) as conn, conn:
            conn.execute("CREATE VIEW xn_capture_change AS SELECT 1 AS unrelated")
        out = configpush.push(c, tmp_path, other, "--agent", "a1", mode="trigger")
        assert out.returncode == 0, out.stderr
        wait_for(lambda: (configpush.link(c)[1] or "").startswith("version 3 rolled back to 1"), 60,
                 f"version 3 rolled back ({log})")
        assert configpush.link(c)[0] == 1
    finally:
        _stop(agent)
    assert agent.returncode == 0, log.read_text()[-3000:]
