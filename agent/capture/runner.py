"""Running one capture: connect, poll, back off, and say how it is doing.

States: ``starting`` → ``ok``; ``down`` when the database cannot be reached (reconnect with
exponential backoff and jitter, resume from the committed position); ``degraded`` when the
database no longer has what the profile names (a renamed column, a broken query): the capture
holds its position — no row is skipped — and retries until the schema or the profile is fixed.
:meth:`CaptureRunner.health` is the float-free dict the agent's heartbeat carries.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.capture.backfill import BackfillSettings
from agent.capture.database import SourceDb, connect_source, is_connection_error
from agent.capture.trigger_mode import SchemaDrift, TriggerCapture
from agent.capture.watermark_mode import WatermarkCapture
from agent.mapping.check import check_database, errors
from agent.mapping.profile import Profile, load_profile
from shared.dburl import parse_db_url
from shared.errors import ConfigError, OutboxFullError

log = logging.getLogger("xiaoneng.agent.capture")
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class CaptureConfig:
    """One entry of ``capture:`` in agent.yaml: a profile applied to one database."""

    name: str
    profile: str
    database: str
    mode: str | None = None
    backfill: BackfillSettings = BackfillSettings()

    @classmethod
    def from_dict(cls, data: Any, where: str = "capture") -> CaptureConfig:
        """``{name, profile, database, mode?, backfill_window?, backfill_lag_s?}``; raises
        ConfigError naming the bad key."""
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: each capture entry must be a mapping")
        allowed = {"name", "profile", "database", "mode", "backfill_window", "backfill_lag_s"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: "
                              f"{', '.join(sorted(allowed))})")
        for key in ("name", "profile", "database"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ConfigError(f"{where}: {key} must be a non-empty string")
        mode = data.get("mode")
        if mode not in (None, "trigger", "watermark"):
            raise ConfigError(f"{where}: mode must be trigger or watermark, got {mode!r}")
        parse_db_url(data["database"])
        window, lag = data.get("backfill_window", 200_000), data.get("backfill_lag_s", 60)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ConfigError(f"{where}: backfill_window must be a positive number of changes")
        if isinstance(lag, bool) or not isinstance(lag, (int, float)) or lag < 0:
            raise ConfigError(f"{where}: backfill_lag_s must be a number of seconds ≥ 0")
        return cls(data["name"], data["profile"], data["database"], mode,
                   BackfillSettings(window=window, lag_s=float(lag)))


class CaptureRunner:
    """Polls one source database into the outbox until stopped."""

    def __init__(self, profile: Profile, database: str, outbox: Any, *, name: str,
                 mode: str | None = None, state_dir: Path | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = lambda: datetime.now(SHANGHAI),
                 rng: random.Random | None = None,
                 connect: Callable[[str], SourceDb] = connect_source,
                 backoff: tuple[float, float] = (0.5, 30.0),
                 backfill: BackfillSettings | None = None,
                 on_backfill: Callable[[], None] | None = None):
        self.profile, self.database, self.outbox, self.name = profile, database, outbox, name
        self.mode = mode or profile.capture.mode
        self.state_dir = state_dir
        self.clock, self.now, self.rng = clock, now, rng or random.Random()
        self._connect = connect
        self.backoff_min, self.backoff_max = backoff
        self.db: SourceDb | None = None
        self.capture: TriggerCapture | WatermarkCapture | None = None
        self.state, self.detail = "starting", ""
        self.failures = 0
        self.changes = 0
        self.last_consumed = 0
        self.last_ok: datetime | None = None
        self._backlog: tuple[int, int] = (0, 0)
        self._backlog_at = -1e9
        self.backfill_settings = backfill or BackfillSettings()
        self.on_backfill = on_backfill
        self._backfill_seq = 0

    @classmethod
    def from_config(cls, config: CaptureConfig, outbox: Any, base_dir: Path,
                    **options: Any) -> CaptureRunner:
        path = Path(config.profile)
        profile = load_profile(path if path.is_absolute() else base_dir / path)
        return cls(profile, config.database, outbox, name=config.name, mode=config.mode,
                   backfill=config.backfill, **options)

    def _open(self) -> None:
        self.db = self._connect(self.database)
        keys = (self.state_dir / f"capture-{self.name}-keys.sqlite"
                if self.state_dir is not None else None)
        if self.mode == "trigger":
            self.capture = TriggerCapture(self.profile, self.db, self.outbox, name=self.name,
                                          now=self.now, clock=self.clock,
                                          backfill=self.backfill_settings,
                                          on_backfill=self.on_backfill)
        else:
            self.capture = WatermarkCapture(self.profile, self.db, self.outbox, name=self.name,
                                            now=self.now, clock=self.clock, keys_path=keys,
                                            backfill=self.backfill_settings,
                                            on_backfill=self.on_backfill)

    @property
    def backfilling(self) -> bool:
        """Whether the capture is reading a backlog (history, or changes piled up) right now."""
        return self.capture is not None and self.capture.backfill.active

    @property
    def backfill_seq(self) -> int:
        """The outbox seq the last backlog window ended at (0: none since start)."""
        if self.capture is not None:
            self._backfill_seq = max(self._backfill_seq, self.capture.backfill.upto_seq)
        return self._backfill_seq

    def _close(self) -> None:
        self._backfill_seq = self.backfill_seq
        if self.capture is not None and isinstance(self.capture, WatermarkCapture):
            self.capture.known.close()
        if self.db is not None:
            self.db.close()
        self.db, self.capture = None, None

    def close(self) -> None:
        """Release the source connection (a later :meth:`step` reconnects)."""
        self._close()

    def _delay(self) -> float:
        base = min(self.backoff_max, self.backoff_min * 2.0 ** min(self.failures, 16))
        return float(base * (0.5 + self.rng.random() / 2))  # jitter: 50–100 %

    def step(self) -> float:
        """One round; returns how long to wait before the next."""
        poll = self.profile.capture.poll_ms / 1000
        try:
            if self.capture is None:
                self._open()
            assert self.capture is not None
            consumed = self.capture.poll()
        except SchemaDrift as exc:
            return self._degraded(str(exc))
        except OutboxFullError as exc:
            self.state, self.detail = "blocked", str(exc)
            return max(poll, 5.0)
        except Exception as exc:  # noqa: BLE001 - classify, never die
            if is_connection_error(exc):
                self.failures += 1
                self.state, self.detail = "down", f"{type(exc).__name__}: {exc}"[:300]
                log.warning("capture %s: source down (%s), retrying", self.name, self.detail)
                self._close()
                return self._delay()
            return self._degraded(self._explain(exc))
        self.failures = 0
        self._measure_backlog(force=consumed == 0 and self._backlog != (0, 0))  # caught up: say so
        self.last_consumed = consumed
        self.changes += consumed
        self.state, self.detail = "ok", ""
        self.last_ok = self.now()
        return 0.0 if consumed >= self.profile.capture.batch_size else poll

    def _explain(self, exc: Exception) -> str:
        text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
        if self.db is not None:
            try:
                problems = errors(check_database(self.profile, self.db.conn))
            except Exception:  # noqa: BLE001 - the explanation is best effort
                problems = []
            if problems:
                text += " — " + "; ".join(str(p) for p in problems[:3])
        return text

    def _degraded(self, detail: str) -> float:
        if self.state != "degraded" or self.detail != detail:
            log.error("capture %s degraded: %s", self.name, detail)
        self.state, self.detail = "degraded", detail
        if self.db is not None:
            try:
                self.db.end_read()
            except Exception:  # noqa: BLE001 - a broken connection is reopened next round
                self._close()
        return max(self.profile.capture.poll_ms / 1000, 5.0)

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set (the agent's capture thread)."""
        try:
            while not stop.is_set():
                wait = self.step()
                if wait > 0:
                    stop.wait(wait)
        finally:
            self._close()

    def drain(self, max_rounds: int = 100_000) -> int:
        """Poll until nothing is left (tests, benchmarks); returns changes consumed."""
        before = self.changes
        for _ in range(max_rounds):
            self.step()
            if self.state != "ok":
                raise RuntimeError(f"capture {self.name} is {self.state}: {self.detail}")
            if self.last_consumed == 0:
                break
        return self.changes - before

    def _measure_backlog(self, force: bool = False) -> None:
        """Refresh the pending changes and their age every 5 s — here, in the capture's thread:
        the heartbeat must never wait for the source connection (a backlog window can keep it busy
        for a long time)."""
        if self.capture is not None and (force or self.clock() - self._backlog_at >= 5):
            try:
                self._backlog = self.capture.backlog()
            except Exception:  # noqa: BLE001 - health must not fail
                self._backlog = (-1, 0)
            self._backlog_at = self.clock()

    def health(self) -> dict[str, Any]:
        """Float-free status for the heartbeat: state, lag, counters (reads no database)."""
        sink = self.capture.sink if self.capture is not None else None
        return {
            "name": self.name, "profile": self.profile.name, "mode": self.mode,
            "state": self.state, "detail": self.detail, "backfill": self.backfilling,
            "pending_changes": self._backlog[0], "lag_seconds": self._backlog[1],
            "changes_total": self.changes,
            "events_total": sink.appended if sink else 0,
            "mapping_errors_total": sink.errors if sink else 0,
            "last_ok": self.last_ok.isoformat(timespec="seconds") if self.last_ok else None,
        }
