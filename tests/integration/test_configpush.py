"""Signed configuration pushed from the hub end to end (issue 12, item 4): real Mosquitto, hub and
agent processes, ``xiaoneng-hub config push`` on the command line.

A pushed bundle (settings + mapping profile) starts capture on a running agent, whose heartbeat
reports the applied version to the hub; a bundle signed with another key is refused; a bundle whose
profile does not fit the live database is not applied; one whose capture fails after applying is
rolled back by the agent itself — each reported in the hub's ``agent_link``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from shared import topics
from shared.configbundle import ConfigBundle, sign_bundle
from simulator.cluster import LocalCluster, wait_for
from tests.mapping.capture_support import PROFILES, Department

pytestmark = [pytest.mark.broker, pytest.mark.slow]

FAST = {"ack_timeout": 3.0, "heartbeat_interval": 1.0, "backoff_initial": 0.2, "backoff_max": 2.0}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = LocalCluster(tmp_path, ["a1", "a2"], uplink=FAST)
    c.setup()
    path = c.agent_dir("a1") / "agent.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["config_watch_s"] = 8.0
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    c.start_broker()
    c.start_hub()
    c.start_agent("a1")
    try:
        yield c
    finally:
        c.stop_all()


def link(c: LocalCluster) -> tuple[int | None, str | None]:
    with closing(c.hub_db()) as conn:
        row = conn.execute("SELECT config_version, config_error FROM agent_link WHERE agent_id = 'a1'").fetchone()
    return (None, None) if row is None else (row[0], row[1])


def stored_cases(c: LocalCluster) -> int:
    with closing(c.hub_db()) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM records WHERE type LIKE 'case.%'").fetchone()[0])


def push(c: LocalCluster, tmp: Path, db: Path, *extra: str, profile: str | None = None,
         mode: str = "watermark") -> subprocess.CompletedProcess[str]:
    d = tmp / f"bundle-{len(list(tmp.glob('bundle-*')))}"
    d.mkdir()
    (d / "settings.yaml").write_text(yaml.safe_dump({"capture": [
        {"name": "dept", "profile": "reference.yaml", "database": f"sqlite:///{db}", "mode": mode}]}))
    (d / "reference.yaml").write_text(profile or (PROFILES / "reference.yaml").read_text(encoding="utf-8"),
                                      encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "hub.cli", "config", "push", "--data", str(c.hub_dir),
                           "--mqtt-port", str(c.port), *extra, str(d / "settings.yaml"), str(d / "reference.yaml")],
                          capture_output=True, text=True, timeout=60)


def test_pushed_applied_reported_forged_refused_bad_not_applied_failing_rolled_back(
        cluster: LocalCluster, tmp_path: Path) -> None:
    c = cluster
    db = tmp_path / "dept.sqlite"
    Department.create(f"sqlite:///{db}", "reference", days=1).db.close()
    wait_for(lambda: link(c)[0] == 0, 30, "the agent's first heartbeat (config_version 0)")

    out = push(c, tmp_path, db, "--agent", "a1")
    assert out.returncode == 0, out.stderr
    assert "version 1" in out.stdout
    wait_for(lambda: link(c) == (1, None), 30, f"version 1 reported applied:\n{c.agents['a1'].tail()}")
    wait_for(lambda: stored_cases(c) > 0, 60, "records captured under the pushed configuration")
    with closing(c.hub_db()) as conn:
        assert conn.execute("SELECT version FROM config_pushes WHERE agent_id = 'a1'").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM config_push_log").fetchone()[0] == 1

    # Signed with another key, published with the hub's own login: refused.
    forged = sign_bundle(ConfigBundle("agent", "a1", 50, "2026-12-03T18:00:00+00:00", {"settings.yaml": "{}\n"}),
                         Ed25519PrivateKey.generate()).to_bytes()
    login = json.loads((c.hub_dir / "hub-mqtt.json").read_text())
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-forger", protocol=mqtt.MQTTv5)
    client.username_pw_set(login["username"], login["password"])
    client.connect("127.0.0.1", c.port)
    client.loop_start()
    client.publish(topics.config("a1"), forged, qos=1, retain=True).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()
    wait_for(lambda: "does not verify" in (link(c)[1] or ""), 30, "the forged bundle refused")
    assert link(c)[0] == 1
    wait_for(lambda: alerts(c) == ["config.refused"], 30, "the security alert at the hub")

    # A downgrade is refused by the hub's command already.
    out = push(c, tmp_path, db, "--agent", "a1", "--version", "1")
    assert out.returncode != 0 and "not newer" in out.stderr

    # A profile that does not fit the live database: not applied.
    broken = (PROFILES / "reference.yaml").read_text(encoding="utf-8").replace(
        "appr_case:\n    key: id", "appr_case:\n    key: no_such_column")
    out = push(c, tmp_path, db, "--site", "site1", profile=broken)
    assert out.returncode == 0, out.stderr
    assert "a1, a2" in out.stdout
    wait_for(lambda: "version 2 not applied" in (link(c)[1] or ""), 30, "the bad profile refused")
    assert link(c)[0] == 1 and "no_such_column" in (link(c)[1] or "")

    # Capture fails after applying: the agent rolls back to version 1 by itself.
    other = tmp_path / "other.sqlite"
    other.write_bytes(db.read_bytes())
    with closing(sqlite3.connect(other)) as conn, conn:
        conn.execute("CREATE VIEW xn_capture_change AS SELECT 1 AS unrelated")
    out = push(c, tmp_path, other, "--agent", "a1", mode="trigger")
    assert out.returncode == 0, out.stderr
    wait_for(lambda: (link(c)[1] or "").startswith("version 3 rolled back to 1"), 60,
             f"version 3 rolled back:\n{c.agents['a1'].tail()}")
    assert link(c)[0] == 1

    # The page's drift: pushed 3, applied 1.
    with closing(c.hub_db()) as conn:
        assert conn.execute("SELECT version FROM config_pushes WHERE agent_id = 'a1'").fetchone()[0] == 3

    # Restarted, the agent runs agent.yaml + version 1 again; the retained version 3 is not retried.
    c.agents["a1"].stop()
    applied_logs = c.agents["a1"].log_path.read_text().count("configuration applied")
    before = last_heartbeat(c)
    c.start_agent("a1")
    wait_for(lambda: last_heartbeat(c) != before and link(c)[0] == 1 and '"dept"' in health_json(c), 30,
             f"the restarted agent capturing under version 1:\n{c.agents['a1'].tail()}")
    assert "rolled back" in (link(c)[1] or "")
    assert c.agents["a1"].log_path.read_text().count("configuration applied") == applied_logs


def alerts(c: LocalCluster) -> list[str]:
    with closing(c.hub_db()) as conn:
        return [str(r[0]) for r in conn.execute("SELECT kind FROM security_alerts WHERE agent_id = 'a1'")]


def last_heartbeat(c: LocalCluster) -> str:
    with closing(c.hub_db()) as conn:
        return str(conn.execute("SELECT last_heartbeat_at FROM agent_link WHERE agent_id = 'a1'").fetchone()[0])


def health_json(c: LocalCluster) -> str:
    with closing(c.hub_db()) as conn:
        row = conn.execute("SELECT health_json FROM agent_link WHERE agent_id = 'a1'").fetchone()
    return str(row[0]) if row and row[0] else ""
