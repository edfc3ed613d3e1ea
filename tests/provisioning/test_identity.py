"""Agent identity bundles."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from provisioning import identity
from shared.errors import ConfigError, ProvisioningError


def test_bundle_files_modes_and_contents(tmp_path: Path) -> None:
    key = identity.generate_key()
    out = tmp_path / "bundle"
    bundle = identity.write_bundle(
        out,
        agent_id="a1",
        site_id="s1",
        key=key,
        broker=identity.BrokerLogin("10.0.0.5", 8883, "a1", "pw"),
    )
    assert stat.S_IMODE(bundle.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(bundle.config_file.stat().st_mode) == 0o600
    assert bundle.key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    config = yaml.safe_load(bundle.config_file.read_text())
    assert config == {
        "agent_id": "a1",
        "site_id": "s1",
        "broker": {"host": "10.0.0.5", "port": 8883, "username": "a1", "password": "pw"},
        "key_file": "agent.key",
        "data_dir": "data",
    }
    loaded = identity.load_key(out / config["key_file"])
    assert identity.public_key_bytes(loaded) == identity.public_key_bytes(key)
    assert {p.name for p in out.iterdir()} == {"agent.key", "agent.yaml"}  # no temp files left


def test_existing_bundle_is_never_overwritten(tmp_path: Path) -> None:
    def write() -> None:
        identity.write_bundle(
            tmp_path,
            agent_id="a1",
            site_id="s1",
            key=identity.generate_key(),
            broker=identity.BrokerLogin("h", 1, "a1", "pw"),
        )

    write()
    before = (tmp_path / "agent.key").read_bytes()
    with pytest.raises(ProvisioningError, match="already exists; choose an empty output directory"):
        write()
    assert (tmp_path / "agent.key").read_bytes() == before


def test_load_key_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the agent key"):
        identity.load_key(tmp_path / "missing.key")
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    with pytest.raises(ConfigError, match="bad.key is not an unencrypted PEM private key"):
        identity.load_key(bad)


def test_the_agent_loads_the_bundle_as_written(tmp_path: Path) -> None:
    from agent.config import load_agent_config

    key = identity.generate_key()
    bundle = identity.write_bundle(
        tmp_path / "bundle",
        agent_id="a1",
        site_id="s1",
        key=key,
        broker=identity.BrokerLogin("10.0.0.5", 1883, "a1", "pw"),
    )
    cfg = load_agent_config(bundle.config_file)
    assert (cfg.agent_id, cfg.site_id, cfg.broker.username, cfg.broker.password) == (
        "a1",
        "s1",
        "a1",
        "pw",
    )
    assert cfg.path(cfg.key_file) == bundle.key_file.resolve()
    assert cfg.path(cfg.data_dir) == (tmp_path / "bundle" / "data").resolve()
    loaded = identity.load_key(cfg.path(cfg.key_file))
    assert identity.public_key_bytes(loaded) == identity.public_key_bytes(key)


@pytest.mark.parametrize("size", [512, 8 * 1024 * 1024])
def test_a_batch_size_the_broker_would_refuse_is_a_config_error(tmp_path: Path, size: int) -> None:
    from agent.config import load_agent_config

    bundle = identity.write_bundle(tmp_path / "bundle", agent_id="a1", site_id="s1", key=identity.generate_key(),
                                   broker=identity.BrokerLogin("10.0.0.5", 1883, "a1", "pw"))
    cfg = yaml.safe_load(bundle.config_file.read_text())
    cfg["uplink"] = {"batch_bytes": size}
    bundle.config_file.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=r"uplink.batch_bytes must be 1024\.\.4190208 \(the broker refuses"):
        load_agent_config(bundle.config_file)
