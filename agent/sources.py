"""Department-database capture inside the running agent: one thread per ``capture:`` entry.

Each runner commits its capture position in the same outbox transaction as the records it produced
(see ``agent.capture``); here we only start the runners and report their health in the heartbeat.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from agent.capture.runner import CaptureConfig, CaptureRunner
from agent.config import AgentConfig
from agent.runtime import Agent


def capture_configs(cfg: AgentConfig) -> list[CaptureConfig]:
    """The ``capture:`` entries of agent.yaml, checked (ConfigError names the entry and key)."""
    configs = [CaptureConfig.from_dict(entry, f"capture[{i}]") for i, entry in enumerate(cfg.capture)]
    names = [c.name for c in configs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        from shared.errors import ConfigError

        raise ConfigError(f"capture: the name {duplicates[0]!r} is used twice; each source needs its own")
    return configs


def capture_health(runners: list[CaptureRunner]) -> dict[str, Any]:
    """Heartbeat fields: every source's figures, plus the worst lag and a one-line source state."""
    sources = [r.health() for r in runners]
    lags = [s["lag_seconds"] for s in sources if isinstance(s.get("lag_seconds"), int) and s["lag_seconds"] >= 0]
    bad = [f"{s['name']}: {s['state']} {s['detail']}".strip() for s in sources if s["state"] not in ("ok", "starting")]
    return {
        "capture": sources,
        "cdc_lag_s": max(lags) if lags else 0,
        "source_health": "ok" if not bad else "; ".join(bad)[:200],
        "degraded": "; ".join(s for s in bad if "degraded" in s)[:500],
    }


def _backlog_of(runner: CaptureRunner) -> tuple[bool, int]:
    return runner.backfilling, runner.backfill_seq


def start_capture(agent: Agent) -> list[CaptureRunner]:
    """Start a capture thread per configured source; their health goes into every heartbeat."""
    cfg = agent.config
    state_dir = cfg.path(cfg.data_dir)
    runners = [
        CaptureRunner.from_config(c, agent.outbox, Path(cfg.base_dir), state_dir=state_dir,
                                  on_backfill=agent.uplink.heartbeat_soon)
        for c in capture_configs(cfg)
    ]
    for runner in runners:
        agent.add_thread(runner.run, f"xn-capture-{runner.name}")
        agent.add_catch_up(partial(_backlog_of, runner))
    if runners:
        agent.uplink.add_health_provider(lambda: capture_health(runners))
    return runners
