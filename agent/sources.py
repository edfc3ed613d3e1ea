"""Department-database capture inside the running agent: one thread per ``capture:`` entry.

Each runner commits its capture position in the same outbox transaction as the records it produced
(see ``agent.capture``); here we only start the runners and report their health in the heartbeat.
"""

from __future__ import annotations

import threading
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


class CaptureGroup:
    """The agent's capture runners, restartable as a whole (a pushed configuration changes them).

    ``runners`` is one list, updated in place, so a caller holding it sees the current runners."""

    def __init__(self, agent: Agent):
        self.agent = agent
        self.runners: list[CaptureRunner] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._reported = False

    def start(self, cfg: AgentConfig) -> None:
        """Stop the running sources, then start one thread per ``capture:`` entry of ``cfg``
        (ConfigError on a bad entry: nothing runs then)."""
        with self._lock:
            self._halt()
            state_dir = cfg.path(cfg.data_dir)
            runners = [
                CaptureRunner.from_config(c, self.agent.outbox, Path(cfg.base_dir), state_dir=state_dir,
                                          on_backfill=self.agent.uplink.heartbeat_soon)
                for c in capture_configs(cfg)
            ]
            self._stop = threading.Event()
            self.runners[:] = runners
            self._threads = [threading.Thread(target=r.run, args=(self._stop,), name=f"xn-capture-{r.name}",
                                              daemon=True) for r in runners]
            for t in self._threads:
                t.start()
            if runners and not self._reported:
                self._reported = True
                self.agent.uplink.add_health_provider(lambda: capture_health(list(self.runners)))

    def _halt(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)
        self._threads = []

    def supervise(self, stop: threading.Event) -> None:
        """Stop every source when the agent stops (runs as one of the agent's threads)."""
        stop.wait()
        with self._lock:
            self._halt()

    def backlog(self) -> tuple[bool, int]:
        busy, upto = False, 0
        for runner in list(self.runners):
            busy, upto = busy or runner.backfilling, max(upto, runner.backfill_seq)
        return busy, upto

    def failures(self) -> list[str]:
        """The sources failing now (down or degraded), as ``"name: state detail"``."""
        return [f"{r.name}: {r.state} {r.detail}".strip()[:300] for r in list(self.runners)
                if r.state in ("down", "degraded")]


def start_capture(agent: Agent) -> list[CaptureRunner]:
    """Start a capture thread per configured source; their health goes into every heartbeat.
    With ``hub_public_key`` set, configurations pushed from the hub restart them (agent.configsync)."""
    group = CaptureGroup(agent)
    group.start(agent.config)
    agent.add_thread(group.supervise, "xn-capture")
    agent.add_catch_up(group.backlog)
    if agent.config.hub_public_key:
        from agent.checkpoints import hub_key
        from agent.configsync import ConfigSync

        sync = ConfigSync(agent.base_config, hub_key(agent.config.hub_public_key), group.start, group.failures,
                          watch_s=agent.base_config.config_watch_s, on_change=agent.uplink.heartbeat_soon)
        if agent.config_error and not sync.state.error:
            sync.state.error = agent.config_error
        sync.attach(agent.uplink)
        agent.add_thread(sync.run, "xn-config")
    return group.runners
