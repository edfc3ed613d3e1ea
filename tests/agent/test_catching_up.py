"""The heartbeat's ``catching_up``: a capture reads a backlog, the backlog is not acknowledged yet,
or records wait in the outbox longer than the lag."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.capture.runner import CaptureConfig
from agent.config import load_agent_config
from agent.runtime import CATCH_UP_LAG_S, Agent
from provisioning.identity import BrokerLogin, generate_key, write_bundle
from shared.errors import ConfigError


def _agent(tmp_path: Path) -> Agent:
    bundle = write_bundle(tmp_path / "agent", agent_id="hall-01", site_id="s1", key=generate_key(),
                          broker=BrokerLogin("127.0.0.1", 1, "hall-01", "pw"))
    return Agent(load_agent_config(bundle.config_file))


def test_catching_up_until_the_backlog_is_acknowledged(tmp_path: Path) -> None:
    agent = _agent(tmp_path)
    try:
        state = {"active": False, "upto": 0}
        agent.add_catch_up(lambda: (bool(state["active"]), int(state["upto"])))
        assert agent.catching_up() is False
        assert agent.uplink.health()["catching_up"] is False  # the heartbeat carries it

        state["active"] = True  # a capture starts reading its backlog
        assert agent.catching_up() is True and agent.uplink.health()["catching_up"] is True
        with agent.outbox.transaction() as tx:
            for n in range(5):
                tx.append("case.accepted", "2026-09-01T09:00:00+08:00", {"n": n})
        state.update(active=False, upto=agent.outbox.head_seq)  # … and has read it all
        assert agent.catching_up() is True  # its records are not at the hub yet
        agent.outbox.ack(3)
        assert agent.catching_up() is True
        agent.outbox.ack(5)
        assert agent.catching_up() is False  # acknowledged: caught up
    finally:
        agent.stop()


def test_records_waiting_longer_than_the_lag_mean_catching_up(tmp_path: Path) -> None:
    agent = _agent(tmp_path)
    try:
        agent.outbox.append("case.accepted", "2026-11-01T09:00:00+08:00", {"n": 1})
        now = time.time()
        assert agent.catching_up(now) is False
        assert agent.catching_up(now + CATCH_UP_LAG_S + 1) is True
        agent.outbox.ack(1)
        assert agent.catching_up(now + CATCH_UP_LAG_S + 1) is False
    finally:
        agent.stop()


def test_the_backfill_window_is_configured_per_capture_entry() -> None:
    entry = {"name": "approval", "profile": "p.yaml", "database": "sqlite:///x.sqlite"}
    assert CaptureConfig.from_dict(entry).backfill.window == 200_000
    tuned = CaptureConfig.from_dict({**entry, "backfill_window": 5000, "backfill_lag_s": 30})
    assert (tuned.backfill.window, tuned.backfill.lag_s) == (5000, 30.0)
    with pytest.raises(ConfigError, match="backfill_window"):
        CaptureConfig.from_dict({**entry, "backfill_window": 0})
