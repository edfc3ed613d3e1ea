"""The witnessed ledger end to end: real Mosquitto, hub and agent processes (issue 11, finding 4).

A clean hub audits clean; then the newest records are deleted from the hub's database and everything
above them tidied away (stream heads, ledger nodes, checkpoints). ``xiaoneng-hub verify`` alone
still passes — but ``verify --witness`` with an exported checkpoint fails, the hub refuses to start
on the store, and ``xiaoneng-agent audit`` fails with a security alert the hub records.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from simulator.cluster import LocalCluster, wait_for
from tests.support.truncate import truncate_tail

pytestmark = [pytest.mark.broker, pytest.mark.slow]

FAST = {"ack_timeout": 3.0, "heartbeat_interval": 2.0, "backoff_initial": 0.2, "backoff_max": 2.0,
        "batch_records": 20}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = LocalCluster(tmp_path, ["a1"], uplink=FAST)
    c.setup()
    bundle = c.agent_dir("a1") / "agent.yaml"
    cfg = yaml.safe_load(bundle.read_text())
    cfg["audit_interval_s"] = 2.0  # the running agent audits by itself too
    bundle.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    c.start_broker()
    c.start_hub()
    c.start_agent("a1", synthetic_rate=100)
    try:
        yield c
    finally:
        c.stop_all()


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout)


def stored(c: LocalCluster) -> int:
    conn = c.hub_db()
    try:
        return int(conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])
    finally:
        conn.close()


def kept_size(c: LocalCluster) -> int:
    """The size of the newest hub checkpoint the running agent kept (0: none yet)."""
    conn = sqlite3.connect(f"file:{c.agent_dir('a1') / 'data' / 'outbox.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute("SELECT body FROM hub_checkpoints WHERE role = 'latest'").fetchone()
        return int(json.loads(row[0])["size"]) if row else 0
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def audit(c: LocalCluster) -> tuple[int, dict[str, object]]:
    out = cli("agent.cli", "audit", "--config", str(c.agent_dir("a1") / "agent.yaml"), "--full", "--json")
    assert out.stdout, out.stderr
    return out.returncode, json.loads(out.stdout)


def verify(c: LocalCluster, *extra: str) -> tuple[int, dict[str, object]]:
    out = cli("hub.cli", "verify", "--data", str(c.hub_dir), "--json", *extra)
    return out.returncode, json.loads(out.stdout)


def test_tail_truncation_is_caught_by_witnesses_start_up_and_the_agents_audit(
        cluster: LocalCluster, tmp_path: Path) -> None:
    c = cluster
    wait_for(lambda: stored(c) >= 300, 60, "records to reach the hub")
    c.drain_all()
    total = stored(c)
    wait_for(lambda: kept_size(c) >= total, 40, f"the agent to keep a checkpoint covering all {total} records")

    wait_for(lambda: "periodic audit of the hub's ledger: OK" in c.agents["a1"].tail(400), 30,
             "the running agent's own audit")
    code, clean = audit(c)
    assert code == 0 and clean["ok"], clean
    assert clean["records_checked"] == total and clean["records_pending"] == 0, clean
    assert "SECURITY" not in (c.root / "logs" / "agent-a1.log").read_text()
    witness = tmp_path / "witness" / "exported.json"
    out = cli("hub.cli", "checkpoint", "export", "--data", str(c.hub_dir), "-o", str(witness))
    assert out.returncode == 0, out.stderr
    assert json.loads(witness.read_text())["size"] == total

    c.agents["a1"].stop()
    assert c.hub is not None
    c.hub.stop()
    removed = truncate_tail(c.hub_dir / "hub.sqlite", 3)
    assert 0 < removed <= 60

    code, plain = verify(c)
    assert code == 0 and plain["ok"], "the tidy-up fools the store's own check"
    code, witnessed = verify(c, "--witness", str(witness.parent))
    problems = witnessed["problems"]
    assert code == 1 and isinstance(problems, list) and len(problems) == 1, witnessed
    assert "truncated" in problems[0] and f"has only {total - removed}" in problems[0], problems
    code, own = verify(c, "--witness", str(c.hub_dir / "witness"))  # published.json + what a1 reported
    problems = own["problems"]
    assert code == 1 and isinstance(problems, list) and own["witnesses"] == 2, own
    assert all("truncated" in str(p) for p in problems) and len(problems) == 2, problems
    assert any("agents/a1.json" in str(p) for p in problems), problems

    refused = cli("hub.cli", "run", "--data", str(c.hub_dir), "--broker", "external", "--mqtt-port", str(c.port),
                  "--http-port", "0", timeout=60)
    assert refused.returncode != 0
    assert "refusing to start" in refused.stderr and "--allow-rollback" in refused.stderr, refused.stderr

    c.hub_args = ["--allow-rollback"]
    c.start_hub()
    code, verdict = audit(c)
    problems = verdict["problems"]
    assert code == 1 and not verdict["ok"] and isinstance(problems, list), verdict
    assert any("truncated or rolled back" in str(p) for p in problems), problems
    assert sum("missing from its ledger" in str(p) for p in problems) == removed, problems

    def alerted() -> bool:
        conn = c.hub_db()
        try:
            return int(conn.execute("SELECT COUNT(*) FROM security_alerts WHERE agent_id = 'a1' AND kind = "
                                "'ledger.audit_failed'").fetchone()[0]) > 0
        finally:
            conn.close()

    wait_for(alerted, 30, "the hub to record the agent's security alert")

    agent = c.start_agent("a1")  # the running agent sees the smaller checkpoint and audits by itself
    wait_for(lambda: "SECURITY: hub ledger rolled back or forked" in agent.tail(400), 30,
             "the running agent to flag the smaller checkpoint")
    wait_for(lambda: "SECURITY: audit of the hub's ledger failed" in agent.tail(400), 30,
             "the running agent's own audit to fail")
