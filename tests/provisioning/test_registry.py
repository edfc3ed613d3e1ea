"""The registry on real SQLite files."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from provisioning import identity, passwords
from provisioning.registry import Registry
from shared.errors import ProvisioningError

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _key() -> bytes:
    return identity.public_key_bytes(identity.generate_key())


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    r = Registry(tmp_path / "hub.sqlite", clock=lambda: T0)
    r.add_site("s1", "市民政局办证大厅")
    return r


def test_sites(reg: Registry) -> None:
    reg.add_site("s0", "税务大厅")
    assert [(s.site_id, s.name) for s in reg.sites()] == [
        ("s0", "税务大厅"),
        ("s1", "市民政局办证大厅"),
    ]
    assert reg.sites()[0].created_at == "2026-03-02T09:30:00+00:00"
    with pytest.raises(ProvisioningError, match="already exists"):
        reg.add_site("s1", "again")
    with pytest.raises(ProvisioningError, match="invalid site id"):
        reg.add_site("-bad", "x")


def test_add_agent_stores_key_and_only_a_hash(reg: Registry, tmp_path: Path) -> None:
    key = _key()
    password = reg.add_agent("a1", "s1", key, "窗口一")
    agent = reg.agent("a1")
    assert agent is not None and agent.active
    assert (agent.site_id, agent.name, agent.public_key, agent.mqtt_username) == (
        "s1",
        "窗口一",
        key,
        "a1",
    )
    assert reg.public_key("a1") == key
    with sqlite3.connect(tmp_path / "hub.sqlite") as conn:
        (stored,) = conn.execute("SELECT password_hash FROM agents").fetchone()
    conn.close()
    assert password not in stored and passwords.verify_password(password, stored)
    assert reg.password_file_text() == f"a1:{stored}\n"


def test_add_agent_errors_say_what_to_do(reg: Registry) -> None:
    with pytest.raises(ProvisioningError, match="site 'nope' is not registered; add it first"):
        reg.add_agent("a1", "nope", _key())
    with pytest.raises(ProvisioningError, match="raw 32-byte Ed25519"):
        reg.add_agent("a1", "s1", b"short")
    with pytest.raises(ProvisioningError, match="invalid agent id"):
        reg.add_agent("a/1", "s1", _key())
    reg.add_agent("a1", "s1", _key())
    with pytest.raises(ProvisioningError, match="already exists"):
        reg.add_agent("a1", "s1", _key())
    assert len(reg.agents()) == 1


def test_revoke(reg: Registry) -> None:
    reg.add_agent("a1", "s1", _key())
    reg.add_agent("a2", "s1", _key())
    revoked = reg.revoke("a1")
    assert revoked.revoked_at == "2026-03-02T09:30:00+00:00" and not revoked.active
    assert reg.revoke("a1") == revoked  # idempotent
    assert reg.public_key("a1") is None and reg.public_key("unknown") is None
    assert [a.agent_id for a in reg.agents(include_revoked=False)] == ["a2"]
    assert [a.agent_id for a in reg.agents()] == ["a1", "a2"]
    users = [line.split(":", 1)[0] for line in reg.password_file_text().splitlines()]  # hashes may hold "a1"
    assert "a1" not in users and "user a1" not in reg.acl_file_text()
    with pytest.raises(ProvisioningError, match="new id"):
        reg.add_agent("a1", "s1", _key())
    with pytest.raises(ProvisioningError, match="not registered"):
        reg.revoke("ghost")


def test_reset_password(reg: Registry) -> None:
    old = reg.add_agent("a1", "s1", _key())
    new = reg.reset_password("a1")
    h = reg.password_file_text().split(":", 1)[1].strip()
    assert passwords.verify_password(new, h) and not passwords.verify_password(old, h)
    reg.revoke("a1")
    with pytest.raises(ProvisioningError, match="revoked"):
        reg.reset_password("a1")


def test_service_users(reg: Registry) -> None:
    first = reg.set_service_user("hub")
    second = reg.set_service_user("hub")  # re-keying replaces the password
    assert first != second
    assert [(u.username, u.role) for u in reg.service_users()] == [("hub", "hub")]
    h = reg.password_file_text().split(":", 1)[1].strip()
    assert passwords.verify_password(second, h)
    assert "user hub\ntopic read xn/v1/agents/+/records" in reg.acl_file_text()
    with pytest.raises(ProvisioningError, match="unknown service role"):
        reg.set_service_user("x", "superuser")
    reg.add_agent("a1", "s1", _key())
    with pytest.raises(ProvisioningError, match="share its broker login"):
        reg.set_service_user("a1")
    with pytest.raises(ProvisioningError, match="service login"):
        reg.add_agent("hub", "s1", _key())


def test_database_is_wal_with_busy_timeout_and_shared(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE hub_owned (x)")  # the hub's own tables live in the same file
    conn.commit()
    conn.close()
    reg = Registry(db)
    reg.add_site("s1", "x")
    Registry(db)  # opening again is harmless (IF NOT EXISTS)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert {"hub_owned", "sites", "agents", "service_users"} <= tables
    assert [s.site_id for s in Registry(db).sites()] == ["s1"]


def test_writer_waits_for_a_lock_instead_of_failing(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    reg = Registry(db)
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")  # the hub holds the write lock for a moment
        release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
        release.start()
        reg.add_site("s1", "x")  # without busy_timeout: "database is locked" at once
        release.join()
    finally:
        other.close()
    assert [s.site_id for s in reg.sites()] == ["s1"]


def test_missing_directory_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ProvisioningError, match="does not exist; create the data directory"):
        Registry(tmp_path / "nope" / "hub.sqlite")
