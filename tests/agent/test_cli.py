"""``xiaoneng-agent`` as an IT person meets it: clear errors for bad configs, status, emit."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from agent.cli import main
from provisioning.identity import BrokerLogin, generate_key, write_bundle

PROFILES = Path(__file__).resolve().parents[2] / "firmware_configs" / "profiles"


def bundle(tmp_path: Path, **extra: object) -> Path:
    b = write_bundle(tmp_path / "agent", agent_id="hall-01", site_id="s1", key=generate_key(),
                     broker=BrokerLogin("127.0.0.1", 1884, "hall-01", "pw"))
    if extra:
        cfg = yaml.safe_load(b.config_file.read_text())
        cfg.update(extra)
        b.config_file.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return b.config_file


def test_validate_config_ok(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["validate-config", str(bundle(tmp_path))])
    assert out.exit_code == 0 and "config OK" in out.output


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    path = bundle(tmp_path, brokr={"host": "x"})
    out = CliRunner().invoke(main, ["validate-config", str(path)])
    assert out.exit_code == 1
    assert "'brokr'" in out.output and str(path) in out.output


def test_wrong_type_and_missing_key_file(tmp_path: Path) -> None:
    path = bundle(tmp_path)
    cfg = yaml.safe_load(path.read_text())
    cfg["broker"]["port"] = "eighteen"
    path.write_text(yaml.safe_dump(cfg))
    out = CliRunner().invoke(main, ["validate-config", str(path)])
    assert out.exit_code == 1 and "broker.port must be an integer" in out.output
    cfg["broker"]["port"] = 1884
    cfg["key_file"] = "gone.key"
    path.write_text(yaml.safe_dump(cfg))
    out = CliRunner().invoke(main, ["validate-config", str(path)])
    assert out.exit_code == 1 and "gone.key" in out.output and "not found" in out.output


def test_capture_entries_are_checked(tmp_path: Path) -> None:
    path = bundle(tmp_path, capture=[{"name": "approval", "profile": str(PROFILES / "reference.yaml"),
                                      "database": f"sqlite:///{tmp_path / 'none.sqlite'}", "mod": "x"}])
    out = CliRunner().invoke(main, ["validate-config", str(path)])
    assert out.exit_code == 1 and "'mod'" in out.output
    path = bundle(tmp_path / "b", capture=[{"name": "approval", "profile": str(PROFILES / "reference.yaml"),
                                            "database": f"sqlite:///{tmp_path / 'none.sqlite'}"}])
    out = CliRunner().invoke(main, ["validate-config", str(path)])
    assert out.exit_code == 0, out.output
    assert "1 个采集源" in out.output


def test_a_profile_file_can_be_validated_directly() -> None:
    for name in ("reference", "exchange", "flowable"):
        out = CliRunner().invoke(main, ["validate-config", str(PROFILES / f"{name}.yaml")])
        assert out.exit_code == 0, out.output


def test_emit_then_status(tmp_path: Path) -> None:
    path = bundle(tmp_path)
    runner = CliRunner()
    out = runner.invoke(main, ["emit", "--config", str(path), "--type", "case.accepted",
                               "--body", json.dumps({"case_id": "C1", "fee_fen": 100})])
    assert out.exit_code == 0 and "seq 1" in out.output
    out = runner.invoke(main, ["emit", "--config", str(path), "--type", "case.accepted", "--body", '{"fee": 1.5}'])
    assert out.exit_code == 1 and "floats are not allowed" in out.output
    out = runner.invoke(main, ["status", "--config", str(path), "--json"])
    info = json.loads(out.output)
    assert info["agent"] == "hall-01" and info["depth"] == 1 and info["head_seq"] == 1 and info["acked_seq"] == 0
