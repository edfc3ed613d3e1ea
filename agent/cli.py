"""``xiaoneng-agent``: run an agent, inspect its outbox, emit a test record, audit the hub's ledger,
check its config."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from typing import Any

import click

from agent.config import load_agent_config
from shared.errors import XiaonengError
from shared.logs import setup_logging
from shared.timefmt import iso_local
from shared.version import VERSION


@click.group()
@click.version_option(VERSION, prog_name="xiaoneng-agent", message="%(prog)s %(version)s")
def main() -> None:
    """效能代理 / Xiaoneng hall agent."""


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="agent.yaml")
@click.option("--synthetic-rate", type=float, default=0.0,
              help="Also generate this many test.synthetic records per second (load tests, benchmarks).")
def run(config_path: str, synthetic_rate: float) -> None:
    """运行代理 / Run the agent until SIGTERM or Ctrl-C."""
    from agent.runtime import Agent

    try:
        cfg = load_agent_config(config_path)
    except XiaonengError as exc:
        raise click.ClickException(str(exc)) from None
    setup_logging(cfg.log_level)
    agent = Agent(cfg)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    from agent.sources import start_capture

    try:
        runners = start_capture(agent)
    except XiaonengError as exc:
        agent.stop()
        raise click.ClickException(str(exc)) from None
    agent.start()
    if synthetic_rate > 0:
        agent.add_thread(agent.synthetic_producer(synthetic_rate), "xn-synthetic")
    stop.wait()
    agent.stop()
    for runner in runners:
        runner.close()


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def status(config_path: str, as_json: bool) -> None:
    """发件箱状态 / Show the outbox: stream, depth, acked and head seq, alarm."""
    from agent.outbox import Outbox

    cfg = _load(config_path)
    outbox = Outbox(cfg.path(cfg.data_dir) / "outbox.sqlite", cfg.agent_id, cfg.outbox)
    s = outbox.stats()
    info: dict[str, Any] = {
        "agent": cfg.agent_id, "stream": outbox.stream_id, "depth": s.depth, "bytes": s.bytes,
        "head_seq": s.head_seq, "acked_seq": s.acked_seq, "alarm": s.alarm, "full": s.full,
        "oldest_unacked_s": None if s.oldest_created is None else int(time.time() - s.oldest_created),
    }
    outbox.close()
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
    else:
        for key, value in info.items():
            click.echo(f"{key:18} {value}")


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--type", "type_", required=True, help="record type, e.g. case.accepted")
@click.option("--body", required=True, help="JSON object (no floats)")
def emit(config_path: str, type_: str, body: str) -> None:
    """写入一条记录 / Append one record to the outbox (the running agent sends it)."""
    from agent.outbox import Outbox

    cfg = _load(config_path)
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise click.ClickException(f"--body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise click.ClickException("--body must be a JSON object")
    outbox = Outbox(cfg.path(cfg.data_dir) / "outbox.sqlite", cfg.agent_id, cfg.outbox)
    try:
        seq = outbox.append(type_, iso_local(time.time()), value)
    except XiaonengError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        outbox.close()
    click.echo(f"已写入 / appended: seq {seq}")


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--full", is_flag=True, help="prove every acknowledged record the agent kept, not a sample")
@click.option("--sample", default=32, show_default=True, type=click.IntRange(0, 100_000),
              help="besides the newest, how many acknowledged records to prove (chosen at random)")
@click.option("--timeout", default=30.0, show_default=True, type=float, help="seconds to wait for the hub")
@click.option("--json", "as_json", is_flag=True)
def audit(config_path: str, full: bool, sample: int, timeout: float, as_json: bool) -> None:
    """审计中心账本 / Check the hub still holds every record it acknowledged (exit 1: it does not)."""
    from agent.audit import AuditUnavailable, run_audit

    cfg = _load(config_path)
    setup_logging(cfg.log_level)
    try:
        verdict = run_audit(cfg, full=full, sample=sample, timeout=timeout)
    except (AuditUnavailable, XiaonengError) as exc:
        click.echo(f"无法审计 / cannot audit: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(verdict.to_json(), ensure_ascii=False))
    else:
        click.echo(f"代理 agent {verdict.agent}, 流 stream {verdict.stream}: 已证明 proved {verdict.checked} 条记录 "
                   f"records, 待纳入检查点 pending {verdict.pending}; 中心检查点 hub checkpoint "
                   f"{verdict.hub_size}; 保存的检查点 kept {verdict.kept_sizes}")
        for problem in verdict.problems:
            click.echo(f"  ✗ {problem}")
        click.echo("审计通过：中心账本包含全部已确认记录，且与保存的检查点一致 / audit OK: the hub's ledger holds "
                   "every record checked and extends the checkpoints kept" if verdict.ok else
                   f"审计失败（安全告警已发出）/ AUDIT FAILED (security alert raised): {len(verdict.problems)} "
                   "problem(s)")
    sys.exit(0 if verdict.ok else 1)


@main.command("validate-config")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--live/--no-live", default=False,
              help="also connect to each capture database and check every mapped table and column")
def validate_config(path: str, live: bool) -> None:
    """检查配置 / Check an agent.yaml (or a mapping profile); exit 1 naming every problem."""
    from agent.mapping import validate_profile
    from agent.sources import capture_configs

    data = _raw_yaml(path)
    if isinstance(data, dict) and "profile" in data and "events" in data:
        _report(_check_profile(path, None), f"映射配置 / profile {path}")
        return
    cfg = _load(path)
    try:
        entries = capture_configs(cfg)
    except XiaonengError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    problems: list[str] = []
    for entry in entries:
        profile_path = cfg.path(entry.profile)
        conn = None
        if live:
            from agent.capture.database import connect_source

            try:
                conn = connect_source(entry.database).conn
            except Exception as exc:  # any driver error: say which source and why
                problems.append(f"error: capture {entry.name}: cannot connect to {entry.database}: {exc}")
        try:
            problems += [f"capture {entry.name}: {p}" for p in validate_profile(profile_path, conn)]
        except XiaonengError as exc:
            problems.append(f"error: capture {entry.name}: {exc}")
        finally:
            if conn is not None:
                conn.close()
    _report(problems, f"代理 / agent {cfg.agent_id}, broker {cfg.broker.host}:{cfg.broker.port}, "
                      f"{len(entries)} 个采集源 / capture source(s)")


def _raw_yaml(path: str) -> Any:
    from shared.config import read_yaml

    try:
        return read_yaml(path)
    except XiaonengError as exc:
        raise click.ClickException(str(exc)) from None


def _check_profile(path: str, conn: Any) -> list[str]:
    from agent.mapping import validate_profile

    try:
        return [str(p) for p in validate_profile(path, conn)]
    except XiaonengError as exc:
        return [f"error: {exc}"]


def _report(problems: list[str], what: str) -> None:
    for problem in problems:
        click.echo(f"  {problem}")
    if any(p.startswith("error") or ": error:" in p for p in problems):
        raise click.ClickException(f"配置有误 / config has errors: {what}")
    click.echo(f"配置有效 / config OK: {what}")


@main.command()
@click.option("--hub", "hub_url", required=True, help="the hub's enrolment address, https://HOST:PORT")
@click.option("--token", required=True, help="the one-time token from `xiaoneng-hub enroll create`")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="folder for agent.yaml and the keys (made if missing)")
@click.option("--again", is_flag=True,
              help="re-enrol the agent in --out (certificate expired while offline): keeps its key, outbox, settings")
@click.option("--user", default=None, help="give the files to this account (the service's, e.g. xiaoneng; as root)")
def enroll(hub_url: str, token: str, out_dir: str, again: bool, user: str | None) -> None:
    """注册本机 / Enrol this machine with a one-time token: keys made here, certificate from the hub."""
    from pathlib import Path

    from agent.enroll import enrol

    try:
        result = enrol(hub_url, token, Path(out_dir), again=again, user=user)
    except XiaonengError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"注册成功 / enrolled: agent {result.agent_id}, site {result.site_id}")
    click.echo(f"配置文件 / config: {result.config_file} (add capture sources, then: xiaoneng-agent run --config "
               f"{result.config_file})")


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="agent.yaml")
@click.option("--hub", "hub_url", default=None, help="the hub's enrolment address (default: enroll_url in agent.yaml)")
@click.option("--force", is_flag=True, help="renew now, even before two thirds of the certificate's lifetime")
def rotate(config_path: str, hub_url: str | None, force: bool) -> None:
    """更新证书 / Renew the TLS key and certificate at 2/3 of its lifetime (run daily from a timer)."""
    from pathlib import Path

    from agent.enroll import rotate as renew

    try:
        done = renew(Path(config_path), hub_url=hub_url, force=force)
    except XiaonengError as exc:
        raise click.ClickException(str(exc)) from None
    if done.renewed:
        click.echo(f"已更新证书 / renewed: valid until {done.not_after:%Y-%m-%d %H:%M} UTC; "
                   "the running agent uses it at its next connection")
    else:
        click.echo(f"证书无需更新 / not due: renewal from {done.due_at:%Y-%m-%d %H:%M} UTC "
                   f"(expires {done.not_after:%Y-%m-%d %H:%M} UTC)")


@main.group()
def capture() -> None:
    """数据采集 / Capture from department databases."""


@capture.command("install")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--name", default=None, help="only this capture source")
@click.option("--print", "print_only", is_flag=True, help="print the DDL for a DBA instead of running it")
def capture_install(config_path: str, name: str | None, print_only: bool) -> None:
    """安装触发器 / Install the change table and triggers for trigger-mode sources."""
    from agent.capture.database import connect_source
    from agent.capture.triggers import install, install_statements
    from agent.mapping import load_profile
    from agent.sources import capture_configs

    cfg = _load(config_path)
    try:
        entries = [e for e in capture_configs(cfg) if name in (None, e.name)]
    except XiaonengError as exc:
        raise click.ClickException(str(exc)) from None
    if not entries:
        raise click.ClickException(f"no capture source {name!r} in {config_path}" if name
                                   else f"{config_path} has no capture: entries")
    for entry in entries:
        profile = load_profile(cfg.path(entry.profile))
        mode = entry.mode or profile.capture.mode
        if mode != "trigger":
            click.echo(f"{entry.name}: 水位线模式无需触发器 / watermark mode needs no triggers")
            continue
        try:
            db = connect_source(entry.database)
        except Exception as exc:
            raise click.ClickException(f"capture {entry.name}: cannot connect to {entry.database}: {exc}") from None
        try:
            if print_only:
                for statement in install_statements(profile, db.dialect):
                    click.echo(statement + ";")
                continue
            tables = install(db, profile)
        finally:
            db.close()
        click.echo(f"{entry.name}: 已安装触发器 / triggers installed on {', '.join(tables)}")


def _load(path: str) -> Any:
    try:
        return load_agent_config(path)
    except XiaonengError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
