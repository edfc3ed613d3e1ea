"""``xiaoneng-provision`` end to end with click's CliRunner (and once against a running broker)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from provisioning import passwords
from provisioning.cli import main
from provisioning.registry import Registry
from shared import topics
from tests.support.broker import Login, start_test_broker
from tests.support.wait import wait_until


def run(*args: str | Path, ok: bool = True) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1, result.output
    return result.output


def test_cli_end_to_end(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = run("site", "add", "--data", data, "--id", "s1", "--name", "市民政局办证大厅")
    assert "已创建站点 / site created: s1 (市民政局办证大厅)" in out
    assert "broker not running" in out
    sites = json.loads(run("site", "list", "--data", data, "--json"))
    assert [(s["site_id"], s["name"]) for s in sites] == [("s1", "市民政局办证大厅")]

    bundle = tmp_path / "bundle-a1"
    out = run(
        "agent",
        "add",
        "--data",
        data,
        "--site",
        "s1",
        "--id",
        "a1",
        "--name",
        "一号窗口",
        "--out",
        bundle,
        "--broker-host",
        "10.1.2.3",
        "--broker-port",
        "8883",
    )
    assert "已创建代理 / agent created: a1" in out
    config = yaml.safe_load((bundle / "agent.yaml").read_text())
    assert config["broker"]["host"] == "10.1.2.3" and config["broker"]["port"] == 8883
    assert config["broker"]["username"] == "a1" and config["key_file"] == "agent.key"

    agents = json.loads(run("agent", "list", "--data", data, "--json"))
    assert [(a["agent_id"], a["name"], a["active"]) for a in agents] == [("a1", "一号窗口", True)]
    assert bytes.fromhex(agents[0]["public_key"]) == Registry(data / "hub.sqlite").public_key("a1")

    passwd = data / "broker" / "passwd"
    user, hashed = passwd.read_text().strip().split(":", 1)
    assert user == "a1" and passwords.verify_password(config["broker"]["password"], hashed)
    assert stat.S_IMODE(passwd.stat().st_mode) == 0o600
    assert "user a1\n" in (data / "broker" / "acl").read_text()

    out = run("agent", "revoke", "--data", data, "--id", "a1")
    assert "已吊销代理 / agent revoked: a1" in out
    assert passwd.read_text() == ""
    assert "user a1" not in (data / "broker" / "acl").read_text()
    assert "已吊销 / revoked" in run("agent", "list", "--data", data)
    assert json.loads(run("agent", "list", "--data", data, "--json", "--active")) == []

    (data / "broker" / "acl").unlink()
    run("broker-files", "--data", data)
    assert (data / "broker" / "acl").exists()
    assert sorted(p.name for p in (data / "broker").iterdir()) == ["acl", "passwd"]  # no temp files


def test_cli_errors_say_what_to_do(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert "no registry at" in run("agent", "list", "--data", data, ok=False)
    assert not data.exists()  # a typo in --data does not create an empty registry
    run("site", "add", "--data", data, "--id", "s1", "--name", "x")
    out = run(
        "agent",
        "add",
        "--data",
        data,
        "--site",
        "nope",
        "--id",
        "a1",
        "--out",
        tmp_path / "b",
        ok=False,
    )
    assert "site 'nope' is not registered; add it first" in out
    run("agent", "add", "--data", data, "--site", "s1", "--id", "a1", "--out", tmp_path / "b")
    out = run(
        "agent",
        "add",
        "--data",
        data,
        "--site",
        "s1",
        "--id",
        "a2",
        "--out",
        tmp_path / "b",
        ok=False,
    )
    assert "choose an empty output directory" in out
    assert [a.agent_id for a in Registry(data / "hub.sqlite").agents()] == [
        "a1"
    ]  # nothing half-done
    assert "not registered" in run("agent", "revoke", "--data", data, "--id", "ghost", ok=False)


def test_every_command_has_help() -> None:
    def walk(cmd: click.Command, path: str) -> list[tuple[str, click.Command]]:
        found = [(path, cmd)]
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                found += walk(sub, f"{path} {name}")
        return found

    commands = walk(main, "xiaoneng-provision")
    assert {p for p, _ in commands} >= {
        "xiaoneng-provision site add",
        "xiaoneng-provision site list",
        "xiaoneng-provision agent add",
        "xiaoneng-provision agent list",
        "xiaoneng-provision agent revoke",
        "xiaoneng-provision broker-files",
    }
    for path, cmd in commands:
        assert cmd.help, f"{path} has no help text"


@pytest.mark.broker
def test_cli_reloads_a_running_broker(tmp_path: Path) -> None:
    with start_test_broker(tmp_path, agents=()) as tb:
        data = tb.data_dir
        hub = tb.probe("hub")
        hub.subscribe(topics.ALL_RECORDS)
        bundle = tmp_path / "bundle"
        out = run(
            "agent",
            "add",
            "--data",
            data,
            "--site",
            "site1",
            "--id",
            "cli-1",
            "--out",
            bundle,
            "--broker-port",
            str(tb.port),
        )
        assert f"broker reloaded (pid {tb.broker.pid})" in out
        config = yaml.safe_load((bundle / "agent.yaml").read_text())
        login = Login(config["broker"]["username"], config["broker"]["password"])
        agent = tb.probe(login, reconnect=False)
        assert agent.publish(topics.records("cli-1"), b"from the bundle") == 0
        hub.wait_for(topics.records("cli-1"), b"from the bundle")

        assert f"broker reloaded (pid {tb.broker.pid})" in run(
            "agent", "revoke", "--data", data, "--id", "cli-1"
        )
        wait_until(lambda: not agent.connected, message="revoked agent not disconnected")
        assert tb.probe(login, connect=False).connect().value in (134, 135)
        assert hub.connected  # the hub's login survived the regenerated password file
