"""``xiaoneng-agent``: run an agent, inspect its outbox, emit a test record, check its config."""

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


@click.group()
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
    agent.start()
    if synthetic_rate > 0:
        agent.add_thread(agent.synthetic_producer(synthetic_rate), "xn-synthetic")
    stop.wait()
    agent.stop()


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


@main.command("validate-config")
@click.argument("path", type=click.Path(dir_okay=False))
def validate_config(path: str) -> None:
    """检查配置 / Check an agent.yaml; exit 1 with the reason if it is wrong."""
    cfg = _load(path)
    click.echo(f"配置有效 / config OK: agent {cfg.agent_id}, broker {cfg.broker.host}:{cfg.broker.port}")


def _load(path: str) -> Any:
    try:
        return load_agent_config(path)
    except XiaonengError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
