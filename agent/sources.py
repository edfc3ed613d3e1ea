"""Department-database capture inside the running agent: one thread per ``capture:`` entry.

Each runner commits its capture position in the same outbox transaction as the records it produced
(see ``agent.capture``); here we only start the runners and report their health in the heartbeat.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
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


@dataclass
class _Running:
    key: tuple[Any, ...]
    runner: CaptureRunner
    thread: threading.Thread
    stop: threading.Event


class CaptureGroup:
    """The agent's capture runners; a pushed configuration restarts the ones it changes.

    ``runners`` is one list, updated in place, so a caller holding it sees the current runners."""

    def __init__(self, agent: Agent):
        self.agent = agent
        self.runners: list[CaptureRunner] = []
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._reported = False

    @staticmethod
    def _key(c: CaptureConfig, base_dir: Path) -> tuple[Any, ...]:
        """What makes a runner: its entry and its profile's content (the same profile under another
        bundle's folder is the same runner)."""
        path = Path(c.profile)
        try:
            digest = hashlib.sha256((path if path.is_absolute() else base_dir / path).read_bytes()).hexdigest()
        except OSError:
            digest = c.profile  # from_config names the missing file
        return (c.database, c.mode, c.backfill, digest)

    def start(self, cfg: AgentConfig) -> None:
        """Run one thread per ``capture:`` entry of ``cfg``: unchanged sources keep running, changed and
        new ones (re)start, removed ones stop. ConfigError on a bad entry, before anything changes."""
        with self._lock:
            state_dir, base = cfg.path(cfg.data_dir), Path(cfg.base_dir)
            wanted: dict[str, _Running | tuple[tuple[Any, ...], CaptureRunner]] = {}
            for c in capture_configs(cfg):
                key = self._key(c, base)
                old = self._running.get(c.name)
                if old is not None and old.key == key:
                    wanted[c.name] = old
                else:
                    wanted[c.name] = (key, CaptureRunner.from_config(
                        c, self.agent.outbox, base, state_dir=state_dir, on_backfill=self.agent.uplink.heartbeat_soon))
            for name, old in list(self._running.items()):
                if wanted.get(name) is not old:
                    self._halt(old)
                    del self._running[name]
            for name, item in wanted.items():
                if isinstance(item, tuple):
                    key, runner = item
                    stop = threading.Event()
                    thread = threading.Thread(target=runner.run, args=(stop,), name=f"xn-capture-{name}", daemon=True)
                    self._running[name] = _Running(key, runner, thread, stop)
                    thread.start()
            self._running = {name: self._running[name] for name in wanted}
            self.runners[:] = [r.runner for r in self._running.values()]
            if self.runners and not self._reported:
                self._reported = True
                self.agent.uplink.add_health_provider(lambda: capture_health(list(self.runners)))

    @staticmethod
    def _halt(running: _Running) -> None:
        running.stop.set()
        running.thread.join(30)

    def stop_all(self) -> None:
        with self._lock:
            for running in self._running.values():
                running.stop.set()
            for running in self._running.values():
                running.thread.join(30)

    def supervise(self, stop: threading.Event) -> None:
        """Stop every source when the agent stops (runs as one of the agent's threads)."""
        stop.wait()
        self.stop_all()

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
