"""Feed health: a pure state machine that spots stale (frozen) and dead feeds and schedules
reconnections with exponential backoff and jitter, and :class:`WatchedFeed`, its thread adapter.

Defaults: a feed with no new frame for ``dead_after`` (2 s) is *dead*; a feed whose frames are all
identical for ``frozen_after`` (2 s) is *stale* (a real sensor never produces two identical frames;
a stuck encoder or RTSP server repeating its last frame does). Either way the connection is dropped
and retried after ``backoff_initial * 2**n`` seconds (capped at ``backoff_max``, 4 s), of which a
random half is jitter so that a hall's cameras do not reconnect in lockstep. With the watchdog
polled every 0.1 s this detects a failure within 2.1 s and, once the camera is back, reconnects
within ``backoff_max`` plus the time to open the stream and receive two distinct frames.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.camera.source import Delivered, FrameReader, FrameSource

Clock = Callable[[], float]


class FeedState(enum.StrEnum):
    OK = "ok"
    STALE = "stale"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """What the heartbeat reports: state, a human reason, since when, and counters."""

    state: FeedState
    reason: str
    since: float
    attempts: int = 0
    connections: int = 0

    def body(self, camera_id: str) -> dict[str, str | int]:
        """A float-free summary for the agent's heartbeat / health record."""
        return {
            "camera_id": camera_id,
            "feed": self.state.value,
            "reason": self.reason,
            "attempts": self.attempts,
            "connections": self.connections,
        }


@dataclass(frozen=True, slots=True)
class WatchdogParams:
    """Feed health thresholds and reconnection backoff, in seconds."""

    dead_after: float = 2.0
    frozen_after: float = 2.0
    open_timeout: float = 6.0
    backoff_initial: float = 0.5
    backoff_max: float = 4.0
    stable_after: float = 10.0

    def __post_init__(self) -> None:
        if min(self.dead_after, self.frozen_after, self.open_timeout, self.backoff_initial) <= 0:
            raise ValueError("watchdog times must be > 0")
        if self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_max must be >= backoff_initial")


def backoff_delay(params: WatchdogParams, attempt: int, rng: random.Random) -> float:
    """Delay before retry number ``attempt`` (0-based): exponential, capped, half of it jitter."""
    ceiling = min(params.backoff_max, params.backoff_initial * 2.0 ** min(attempt, 30))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


class Watchdog:
    """The feed's health and the reconnection schedule. Pure: every method takes ``now``.

    The adapter's loop: if :meth:`poll` returns True, start a connection and call
    :meth:`connecting`; then report :meth:`connected`, each :meth:`frame` (``changed`` = differs
    from the previous frame of this connection) and :meth:`failed`.
    """

    def __init__(self, params: WatchdogParams, now: float, rng: random.Random | None = None) -> None:
        self.params = params
        self.rng = rng or random.Random()
        self.link = "down"
        self.status = FeedStatus(FeedState.DEAD, "not started", now)
        self.next_attempt = now
        self.attempts = 0  # failures since the feed was last stable: drives the backoff
        self.connections = 0
        self._attempt_at = now
        self._last_frame = now
        self._last_change = now
        self._live = False  # two distinct frames seen on this connection
        self._framed = False  # a frame seen on this connection

    def _set(self, state: FeedState, reason: str, now: float) -> None:
        since = now
        if self.status.state is state and self.status.reason == reason:
            since = self.status.since
        self.status = FeedStatus(state, reason, since, self.attempts, self.connections)

    def _drop(self, now: float, state: FeedState, reason: str) -> None:
        self.link = "down"
        self.next_attempt = now + backoff_delay(self.params, self.attempts, self.rng)
        self.attempts += 1
        self._set(state, reason, now)

    def poll(self, now: float) -> bool:
        """Check the deadlines; True if a (re)connection attempt should start now."""
        p = self.params
        if self.link == "down":
            return now >= self.next_attempt
        if self.link == "connecting":
            if now - self._attempt_at > p.open_timeout:
                self._drop(now, FeedState.DEAD, f"open timed out after {p.open_timeout:.1f} s")
            return False
        if now - self._last_frame > p.dead_after:
            self._drop(now, FeedState.DEAD, f"no frames for {p.dead_after:.1f} s")
        elif now - self._last_change > p.frozen_after:
            self._drop(now, FeedState.STALE, f"frozen: identical frames for {p.frozen_after:.1f} s")
        elif self._live and self.attempts and now - self.status.since >= p.stable_after:
            self.attempts = 0  # stable again: the next failure starts the backoff afresh
        return False

    def connecting(self, now: float) -> None:
        """A connection attempt has started."""
        self.link = "connecting"
        self._attempt_at = now
        self.connections += 1

    def connected(self, now: float) -> None:
        """The source opened; frames are expected within ``open_timeout``."""
        self.link = "up"
        self._live = False
        self._framed = False
        self._last_frame = now + self.params.open_timeout - self.params.dead_after
        self._last_change = now + self.params.open_timeout - self.params.frozen_after

    def frame(self, now: float, changed: bool) -> None:
        """A frame arrived; ``changed`` if it differs from the previous one of this connection."""
        if self.link != "up":
            return
        if not self._framed:
            # The first frame of a connection proves the link; the frozen clock starts there.
            self._framed = True
            self._last_change = now
        self._last_frame = now
        if changed:
            self._last_change = now
            if not self._live:
                self._live = True
                self._set(FeedState.OK, "receiving frames", now)

    def failed(self, now: float, reason: str) -> None:
        """The source failed to open or to read."""
        if self.link != "down":
            self._drop(now, FeedState.DEAD, reason)


def signature(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """A cheap fingerprint for "identical frame": every 8th pixel of every 8th row."""
    return np.ascontiguousarray(frame[::8, ::8])


class WatchedFeed:
    """A camera feed under a :class:`Watchdog`: reconnects by itself, never blocks past a timeout.

    ``next_frame`` is called from one thread (the camera pipeline's); readers run in their own
    daemon threads (see :class:`~agent.camera.source.FrameReader`).
    """

    def __init__(
        self,
        make_source: Callable[[], FrameSource],
        params: WatchdogParams,
        *,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
        on_status: Callable[[FeedStatus], None] | None = None,
        name: str = "camera",
    ) -> None:
        self.make_source = make_source
        self.clock = clock
        self.name = name
        self.on_status = on_status
        self.watchdog = Watchdog(params, clock(), rng)
        self._reader: FrameReader | None = None
        self._seq = 0
        self._phase = ""
        self._previous: npt.NDArray[np.uint8] | None = None
        self._abandoned: list[FrameReader] = []
        self._reported = self.watchdog.status

    @property
    def status(self) -> FeedStatus:
        return self.watchdog.status

    def _report(self) -> None:
        status = self.watchdog.status
        if status != self._reported:
            self._reported = status
            if self.on_status is not None:
                self.on_status(status)

    def _retire(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and not reader.stop(timeout=0.2):
            self._abandoned.append(reader)
        self._abandoned = [r for r in self._abandoned if r.alive]

    def _connect(self, now: float) -> None:
        self._retire()
        self.watchdog.connecting(now)
        self._seq, self._phase, self._previous = 0, "opening", None
        try:
            source = self.make_source()
        except Exception as exc:
            self.watchdog.failed(now, f"cannot create source: {exc}")
            return
        self._reader = FrameReader(source, clock=self.clock, name=self.name).start()

    def next_frame(self, timeout: float = 0.1) -> Delivered | None:
        """Run the watchdog, then wait up to ``timeout`` for a new frame."""
        now = self.clock()
        if self.watchdog.poll(now):
            self._connect(now)
        if self.watchdog.link == "down" and self._reader is not None:
            self._retire()
        self._report()
        reader = self._reader
        if reader is None:
            wait = max(0.0, min(timeout, self.watchdog.next_attempt - now))
            if wait:
                time.sleep(wait)
            return None
        got = reader.wait_frame(self._seq, timeout)
        now = self.clock()
        if reader.phase != self._phase:
            self._phase = reader.phase
            if reader.phase == "open":
                self.watchdog.connected(now)
            elif reader.phase in ("failed", "stopped"):
                self.watchdog.failed(now, reader.error or "reader stopped")
        if got is None or self.watchdog.link != "up":
            self._report()
            return None
        self._seq = got.seq
        current = signature(got.frame)
        changed = self._previous is not None and not np.array_equal(current, self._previous)
        self._previous = current
        self.watchdog.frame(now, changed)
        self._report()
        return got

    def close(self, timeout: float = 2.0) -> bool:
        """Stop every reader; True if all their threads ended."""
        self._retire()
        deadline = time.monotonic() + timeout
        for reader in self._abandoned:
            reader.stop(timeout=max(0.0, deadline - time.monotonic()))
        self._abandoned = [r for r in self._abandoned if r.alive]
        return not self._abandoned
