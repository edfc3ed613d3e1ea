"""hub.configpush (signing, targets, versions, the push log), the heartbeat's config fields and the
agent_link columns added to an older store."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.configpush import push, read_files
from hub.control import parse_health
from hub.store import Store
from provisioning.hubkey import hub_public_key
from provisioning.identity import generate_key, public_key_bytes
from provisioning.registry import Registry
from shared import topics
from shared.configbundle import parse_bundle
from shared.errors import ConfigError


@pytest.fixture
def data(tmp_path: Path) -> Path:
    registry = Registry(tmp_path / "hub.sqlite")
    registry.add_site("s1", "大厅一")
    registry.add_site("s2", "大厅二")
    for agent, site in (("a1", "s1"), ("a2", "s1"), ("b1", "s2"), ("gone", "s1")):
        registry.add_agent(agent, site, public_key_bytes(generate_key()))
    registry.revoke("gone")
    return tmp_path


FILES = {"settings.yaml": "log_level: INFO\n"}


def test_push_signs_targets_and_records(data: Path) -> None:
    sent: list[tuple[str, bytes]] = []
    result = push(data, "site", "s1", FILES, lambda t, p: sent.append((t, p)))
    assert result.agents == ["a1", "a2"] and result.version == 1
    assert [t for t, _ in sent] == [topics.config("a1"), topics.config("a2")]
    key = Ed25519PublicKey.from_public_bytes(hub_public_key(data))
    bundle = parse_bundle(sent[0][1], key)
    assert (bundle.target_kind, bundle.target_id, bundle.version, bundle.files) == ("site", "s1", 1, FILES)
    assert push(data, "agent", "a1", FILES, lambda t, p: None).version == 2
    assert push(data, "agent", "b1", FILES, lambda t, p: None).version == 1
    with closing(sqlite3.connect(data / "hub.sqlite")) as conn:
        assert dict(conn.execute("SELECT agent_id, version FROM config_pushes")) == {"a1": 2, "a2": 1, "b1": 1}
        log = conn.execute("SELECT target, version, agents, files FROM config_push_log ORDER BY id").fetchall()
    assert log[0] == ("site s1", 1, json.dumps(["a1", "a2"]), json.dumps(["settings.yaml"]))


def test_downgrade_and_unknown_targets_refused(data: Path) -> None:
    push(data, "agent", "a1", FILES, lambda t, p: None, version=5)
    with pytest.raises(ConfigError, match="not newer"):
        push(data, "agent", "a1", FILES, lambda t, p: None, version=5)
    with pytest.raises(ConfigError, match="no active agent 'gone'"):
        push(data, "agent", "gone", FILES, lambda t, p: None)
    with pytest.raises(ConfigError, match="site 's9' has no active agent"):
        push(data, "site", "s9", FILES, lambda t, p: None)
    # An agent that reports a higher applied version (the hub's table was lost): the next is above it.
    Store(data / "hub.sqlite").close()
    with closing(sqlite3.connect(data / "hub.sqlite")) as conn, conn:
        conn.execute("INSERT INTO agent_link(agent_id, config_version) VALUES ('a2', 9)")
    assert push(data, "site", "s1", FILES, lambda t, p: None).version == 10


def test_read_files_names(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "p.yaml").write_text("a: 1\n")
    (tmp_path / "x" / "p.yaml").write_text("a: 2\n")
    assert read_files([tmp_path / "p.yaml"]) == {"p.yaml": "a: 1\n"}
    with pytest.raises(ConfigError, match="two files are named p.yaml"):
        read_files([tmp_path / "p.yaml", tmp_path / "x" / "p.yaml"])


def test_heartbeat_config_fields() -> None:
    h = parse_health(json.dumps({"config_version": 3, "config_error": "x" * 2000}).encode())
    assert h.numbers["config_version"] == 3 and h.config_error == "x" * 500
    assert parse_health(b"{}").config_error is None


def test_older_store_gains_the_config_columns(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE agent_link (agent_id TEXT PRIMARY KEY, online INTEGER NOT NULL DEFAULT 0, "
                     "status_at TEXT, last_heartbeat_at TEXT, rtt_ms INTEGER, reconnects INTEGER, "
                     "outbox_depth INTEGER, oldest_unacked_s INTEGER, acked_seq INTEGER, cdc_lag_s INTEGER, "
                     "source_health TEXT, degraded TEXT, health_json TEXT)")
        conn.execute("INSERT INTO agent_link(agent_id, online) VALUES ('a1', 1)")
    store = Store(db)
    store.update_link("a1", {"config_version": 4, "config_error": "version 5 rolled back to 4"})
    store.close()
    Store(db).close()  # a second start adds nothing twice
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT online, config_version, config_error FROM agent_link").fetchone() == (
            1, 4, "version 5 rolled back to 4")
