"""Delivery through a real Mosquitto, with real processes killed by SIGKILL.

Every test ends the same way: the producers stop, each agent drains its outbox, and then nothing
may be lost, nothing duplicated, nothing out of order, and ``xiaoneng-hub verify`` must be clean.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.cluster import LocalCluster, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

AGENTS = ["a1", "a2"]
RATE = 150.0
FAST = {"ack_timeout": 3.0, "heartbeat_interval": 2.0, "backoff_initial": 0.2, "backoff_max": 2.0}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = LocalCluster(tmp_path, AGENTS, uplink=FAST)
    c.setup()
    c.start_broker()
    c.start_hub()
    for agent in AGENTS:
        c.start_agent(agent, synthetic_rate=RATE)
    try:
        yield c
    finally:
        c.stop_all()


def stored(c: LocalCluster) -> int:
    conn = c.hub_db()
    try:
        return int(conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])
    finally:
        conn.close()


def depth(c: LocalCluster, agent: str) -> int:
    return int(c.outbox_meta(agent).get("depth", "0"))


def grows_by(c: LocalCluster, n: int, what: str) -> None:
    start = stored(c)
    wait_for(lambda: stored(c) >= start + n, 60, what)


def piles_up(c: LocalCluster, n: int) -> None:
    wait_for(lambda: all(depth(c, a) >= n for a in AGENTS), 60, f"{n} records to pile up in every outbox")


def finish(c: LocalCluster) -> dict[str, int]:
    """Stop the producers, drain every outbox, and audit the hub's store."""
    c.drain_all()
    audit = c.audit()
    assert audit["sent"] > 0
    assert (audit["lost"], audit["duplicates"], audit["reordered"]) == (0, 0, 0), audit
    assert audit["stored"] == audit["sent"]
    out = subprocess.run(
        [sys.executable, "-m", "hub.cli", "verify", "--data", str(c.hub_dir), "--json"],
        capture_output=True, text=True, timeout=120,
    )
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["ok"], report["problems"][:5]
    assert report["records"] == audit["stored"]
    return audit


def test_records_flow_and_acks_prune_the_outbox(cluster: LocalCluster) -> None:
    grows_by(cluster, 300, "records to reach the hub")
    audit = finish(cluster)
    assert all(depth(cluster, a) == 0 for a in AGENTS)
    out = subprocess.run([sys.executable, "-m", "hub.cli", "agents", "--data", str(cluster.hub_dir), "--json"],
                         capture_output=True, text=True, check=True)
    agents = {a["agent"]: a for a in json.loads(out.stdout)}
    assert set(agents) == set(AGENTS)
    assert all(agents[a]["online"] and agents[a]["records"] > 0 for a in AGENTS), agents
    assert sum(agents[a]["records"] for a in AGENTS) == audit["stored"]


def test_broker_killed_and_restarted_mid_stream(cluster: LocalCluster) -> None:
    grows_by(cluster, 200, "records before the fault")
    cluster.kill_broker()
    piles_up(cluster, 100)
    cluster.start_broker()
    grows_by(cluster, 200, "delivery to resume after the broker restart")
    finish(cluster)


def test_hub_killed_mid_ingest_and_restarted(cluster: LocalCluster) -> None:
    grows_by(cluster, 200, "records before the fault")
    assert cluster.hub is not None
    cluster.hub.kill()
    piles_up(cluster, 100)
    cluster.start_hub()
    grows_by(cluster, 200, "delivery to resume after the hub restart")
    finish(cluster)


def test_agent_killed_mid_send_and_restarted(cluster: LocalCluster) -> None:
    grows_by(cluster, 200, "records before the fault")
    cluster.agents["a1"].kill()
    cluster.start_agent("a1", synthetic_rate=RATE)
    grows_by(cluster, 200, "delivery after the agent restart")
    finish(cluster)


def test_link_down_for_a_while_then_several_fault_cycles(cluster: LocalCluster) -> None:
    rng = random.Random(7)
    for cycle in range(4):
        grows_by(cluster, 100, f"records before fault cycle {cycle}")
        fault = rng.choice(["broker", "hub", "agent"]) if cycle else "broker"
        if fault == "broker":
            cluster.kill_broker()
            piles_up(cluster, 50)
            cluster.start_broker()
        elif fault == "hub":
            assert cluster.hub is not None
            cluster.hub.kill()
            piles_up(cluster, 50)
            cluster.start_hub()
        else:
            victim = rng.choice(AGENTS)
            cluster.agents[victim].kill()
            cluster.start_agent(victim, synthetic_rate=RATE)
    finish(cluster)


def test_dead_agent_shows_offline_within_30_s(cluster: LocalCluster) -> None:
    def online(agent: str) -> bool | None:
        conn = cluster.hub_db()
        try:
            row = conn.execute("SELECT online FROM agent_link WHERE agent_id = ?", (agent,)).fetchone()
        finally:
            conn.close()
        return None if row is None else bool(row[0])

    wait_for(lambda: online("a1") is True and online("a2") is True, 30, "both agents to show online")
    cluster.agents["a1"].kill()
    wait_for(lambda: online("a1") is False, 30, "a1 to show offline after SIGKILL")
    assert online("a2") is True
