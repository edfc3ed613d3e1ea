"""agent.configsync: a pushed bundle is checked (signature, target, version), validated against the
live database, applied atomically with capture restarted, and rolled back when capture fails."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.config import load_agent_config
from agent.configsync import CONFIG_DIR, ConfigSync, effective_config
from agent.runtime import Agent
from agent.sources import CaptureGroup
from provisioning.identity import BrokerLogin, generate_key, write_bundle
from shared.configbundle import ConfigBundle, sign_bundle
from tests.mapping.capture_support import PROFILES, Department

HUB = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
AT = "2026-12-03T18:00:00+00:00"
PROFILE = (PROFILES / "reference.yaml").read_text(encoding="utf-8")


def _hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


@pytest.fixture(scope="module")
def department(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dept") / "dept.sqlite"
    Department.create(f"sqlite:///{path}", "reference", days=1).db.close()
    return path


@pytest.fixture
def rig(tmp_path: Path, department: Path) -> Any:
    bundle = write_bundle(tmp_path / "agent", agent_id="hall-01", site_id="s1", key=generate_key(),
                          broker=BrokerLogin("127.0.0.1", 1, "hall-01", "pw"), hub_public_key=bytes.fromhex(_hex(HUB)))
    agent = Agent(load_agent_config(bundle.config_file))
    group = CaptureGroup(agent)
    group.start(agent.config)
    sync = ConfigSync(agent.base_config, HUB.public_key(), group.start, group.failures, watch_s=4, confirm_s=0.5)
    yield agent, group, sync
    group.stop_all()
    agent.stop()


def make(version: int, db: Path, *, key: Ed25519PrivateKey = HUB, target: tuple[str, str] = ("agent", "hall-01"),
         profile: str = PROFILE, mode: str = "watermark") -> bytes:
    settings = {"capture": [{"name": "dept", "profile": "reference.yaml", "database": f"sqlite:///{db}",
                             "mode": mode}]}
    files = {"settings.yaml": yaml.safe_dump(settings), "reference.yaml": profile}
    return sign_bundle(ConfigBundle(target[0], target[1], version, AT, files), key).to_bytes()


def wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_applied_restarts_capture_and_survives_a_restart(rig: Any, department: Path) -> None:
    agent, group, sync = rig
    assert group.runners == []
    assert sync.handle(make(1, department)) == "applied"
    assert sync.health() == {"config_version": 1}
    assert [r.name for r in group.runners] == ["dept"]
    wait(lambda: agent.outbox.head_seq > 0, 30, "records captured under the pushed configuration")
    root = agent.config.path(agent.config.data_dir) / CONFIG_DIR
    assert (root / "current").resolve() == (root / "v1").resolve()
    # The agent restarted later runs with agent.yaml + the applied bundle.
    cfg, error = effective_config(agent.base_config)
    assert error == "" and cfg.capture[0]["profile"] == str((root / "v1" / "reference.yaml").resolve())
    # The same retained message again (reconnect): nothing happens.
    assert sync.handle(make(1, department)) == "ignored"
    # The same entry and profile again (a new version for another reason): that source keeps running.
    runner = group.runners[0]
    assert sync.handle(make(2, department)) == "applied"
    assert group.runners == [runner]
    assert sync.handle(make(3, department, profile=PROFILE + "\n# changed\n")) == "applied"
    assert group.runners[0] is not runner
    state = json.loads((root / "state.json").read_text())
    assert state["applied"] == 3 and state["seen"] == 3


def test_forged_foreign_downgraded_refused(rig: Any, department: Path) -> None:
    _, group, sync = rig
    assert sync.handle(make(5, department, key=OTHER)) == "refused"
    assert "does not verify" in sync.health()["config_error"]
    assert sync.handle(make(5, department, target=("agent", "hall-02"))) == "refused"
    assert sync.handle(make(5, department, target=("site", "s2"))) == "refused"
    assert sync.handle(make(5, department, target=("site", "s1"))) == "applied"
    assert sync.handle(make(4, department)) == "refused"
    health = sync.health()
    assert health["config_version"] == 5 and "not newer than version 5" in health["config_error"]
    assert [r.name for r in group.runners] == ["dept"]


def test_bad_profile_not_applied(rig: Any, department: Path, tmp_path: Path) -> None:
    _, group, sync = rig
    assert sync.handle(make(1, department)) == "applied"
    broken = PROFILE.replace("appr_case:\n    key: id", "appr_case:\n    key: no_such_column")
    assert broken != PROFILE
    assert sync.handle(make(2, department, profile=broken)) == "invalid"
    health = sync.health()
    assert health["config_version"] == 1 and "version 2 not applied" in health["config_error"]
    assert "no_such_column" in health["config_error"]
    assert sync.handle(make(3, tmp_path / "missing.sqlite")) == "invalid"
    assert "cannot connect" in sync.health()["config_error"]
    root = sync.root
    assert (root / "current").resolve() == (root / "v1").resolve() and not (root / "v2").exists()


def test_capture_failing_after_apply_rolled_back(rig: Any, department: Path, tmp_path: Path) -> None:
    agent, group, sync = rig
    assert sync.handle(make(1, department)) == "applied"
    # A database the profile validates against, where trigger capture then cannot work: the
    # department already has an object of the name trigger capture needs for its change table.
    other = tmp_path / "other.sqlite"
    other.write_bytes(department.read_bytes())
    with closing(sqlite3.connect(other)) as conn, conn:
        conn.execute("CREATE VIEW xn_capture_change AS SELECT 1 AS unrelated")
    assert sync.handle(make(2, other, mode="trigger")) == "rolled_back"
    health = sync.health()
    assert health["config_version"] == 1
    assert health["config_error"].startswith("version 2 rolled back to 1: capture failed after applying: dept:")
    assert (sync.root / "current").resolve() == (sync.root / "v1").resolve()
    assert group.runners[0].database == f"sqlite:///{department}"
    wait(lambda: group.runners[0].state == "ok", 30, "capture under the previous configuration")
    # The rolled-back version is not retried when its retained message comes again.
    assert sync.handle(make(2, other, mode="trigger")) == "ignored"


def test_older_folders_pruned_and_bad_state_file_tolerated(rig: Any, department: Path) -> None:
    _, _, sync = rig
    for version in (1, 2, 3):
        assert sync.handle(make(version, department)) == "applied"
    assert sorted(d.name for d in sync.root.glob("v*")) == ["v2", "v3"]
    (sync.root / "state.json").write_text('{"applied": "x"}')
    assert ConfigSync(sync.base, HUB.public_key(), sync.restart, sync.failures).state.applied == 0


def test_a_newer_bundle_ends_the_watch(rig: Any, department: Path) -> None:
    _, _, sync = rig
    sync.offer(make(2, department))
    t0 = time.monotonic()
    assert sync.handle(make(1, department)) == "applied"
    assert time.monotonic() - t0 < sync.watch_s
    assert sync.handle(sync._inbox.get_nowait()) == "applied"
    assert sync.health() == {"config_version": 2} and sync.state.previous == 1
