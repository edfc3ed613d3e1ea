"""Feed watchdog: the pure state machine on a simulated clock, then the real threads.

Requirements (issue 6): a frozen or dead feed is detected within 3 s, reads never hang the agent,
reconnection uses exponential backoff with jitter, and the feed recovers within 10 s of the camera
coming back.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.camera.config import parse_profile
from agent.camera.pipeline import CameraPipeline
from agent.camera.source import SourceError
from agent.camera.watchdog import FeedState, Watchdog, WatchdogParams, backoff_delay

DEFAULTS = WatchdogParams()
TICK = 0.1


class SimulatedCamera:
    """Drives a :class:`Watchdog` the way the thread adapter does, on a simulated clock.

    ``schedule(t)`` says what the camera does at time t: "live", "frozen" (frames keep coming,
    all identical), "silent" (connection accepted, no frames) or "down" (connection refused).
    Opening takes 0.3 s; frames come at 15 fps.
    """

    def __init__(self, schedule: Callable[[float], str], seed: int = 0) -> None:
        self.schedule = schedule
        self.dog = Watchdog(DEFAULTS, 0.0, random.Random(seed))
        self.opening_until: float | None = None
        self.history: list[tuple[float, FeedState]] = []

    def run(self, until: float) -> None:
        t = 0.0
        next_frame = 0.0
        while t < until:
            t = round(t + 1 / 150, 6)
            mode = self.schedule(t)
            if self.dog.poll(t):
                self.dog.connecting(t)
                self.opening_until = t + 0.3
            if self.opening_until is not None and t >= self.opening_until:
                self.opening_until = None
                if mode == "down":
                    self.dog.failed(t, "open failed: connection refused")
                else:
                    self.dog.connected(t)
            if self.dog.link == "up" and t >= next_frame:
                next_frame = t + 1 / 15
                if mode == "live":
                    self.dog.frame(t, changed=True)
                elif mode == "frozen":
                    self.dog.frame(t, changed=False)
            if not self.history or self.history[-1][1] is not self.dog.status.state:
                self.history.append((t, self.dog.status.state))

    def first(self, state: FeedState, after: float) -> float:
        return next(t for t, s in self.history if s is state and t >= after)


@settings(max_examples=40, deadline=None)
@given(
    fail_at=st.floats(5, 20),
    outage=st.floats(3.0, 120),
    kind=st.sampled_from(["silent", "frozen", "down"]),
    seed=st.integers(0, 2**32),
)
def test_detects_within_3s_and_recovers_within_10s(fail_at: float, outage: float, kind: str,
                                                   seed: int) -> None:
    back_at = fail_at + outage
    cam = SimulatedCamera(lambda t: kind if fail_at <= t < back_at else "live", seed)
    cam.run(back_at + 15)
    assert cam.first(FeedState.OK, 0) < 1.0
    bad = FeedState.STALE if kind == "frozen" else FeedState.DEAD
    if kind == "down":  # a refused camera is only noticed by the frames that stop
        bad = FeedState.DEAD
    detected = min(t for t, s in cam.history if s is not FeedState.OK and t >= fail_at)
    assert detected - fail_at <= 3.0
    assert any(s is bad or s is FeedState.DEAD for t, s in cam.history if t >= fail_at)
    recovered = cam.first(FeedState.OK, back_at)
    assert recovered - back_at <= 10.0
    assert cam.dog.status.state is FeedState.OK


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(DEFAULTS, n, rng) for n in range(10)]
    for n, d in enumerate(delays):
        ceiling = min(DEFAULTS.backoff_max, DEFAULTS.backoff_initial * 2**n)
        assert ceiling / 2 <= d <= ceiling
    assert max(delays) <= DEFAULTS.backoff_max
    other = [backoff_delay(DEFAULTS, n, random.Random(8)) for n in range(10)]
    assert delays != other  # two cameras do not retry in lockstep


def test_attempts_back_off_while_the_camera_stays_away() -> None:
    cam = SimulatedCamera(lambda t: "down" if t >= 2 else "live")
    cam.run(60)
    assert cam.dog.status.state is FeedState.DEAD
    assert "connection refused" in cam.dog.status.reason
    # 58 s of outage, retries capped at 4 s: between 58/4.3 and 58/2 attempts, not hundreds
    assert 12 <= cam.dog.connections <= 30


def test_open_that_never_finishes_times_out() -> None:
    dog = Watchdog(DEFAULTS, 0.0, random.Random(1))
    assert dog.poll(0.0)
    dog.connecting(0.0)
    assert not dog.poll(DEFAULTS.open_timeout)
    assert dog.link == "connecting"
    dog.poll(DEFAULTS.open_timeout + 0.1)
    assert dog.status.state is FeedState.DEAD and "open timed out" in dog.status.reason


def test_frozen_feed_is_stale_with_a_reason() -> None:
    cam = SimulatedCamera(lambda t: "frozen" if t >= 3 else "live")
    cam.run(5.5)
    assert cam.dog.status.state is FeedState.STALE
    assert cam.dog.status.reason == "frozen: identical frames for 2.0 s"
    assert cam.dog.status.body("cam1") == {
        "camera_id": "cam1", "feed": "stale", "reason": "frozen: identical frames for 2.0 s",
        "attempts": 1, "connections": 1,
    }


# -- the real threads --------------------------------------------------------------------------


class Device:
    """A pretend camera shared by the sources the pipeline creates; tests flip ``mode``."""

    def __init__(self) -> None:
        self.mode = "live"  # live | frozen | hang | down
        self.opens = 0
        self.changed = threading.Event()
        self.still = np.full((64, 64, 3), 7, np.uint8)
        self.count = 0


class DeviceSource:
    name = "device"

    def __init__(self, device: Device) -> None:
        self.device = device
        self._stop = threading.Event()

    def open(self) -> None:
        self.device.opens += 1
        if self.device.mode == "down":
            raise SourceError("connection refused")

    def read(self) -> npt.NDArray[np.uint8] | None:
        if self._stop.wait(1 / 30):
            return None
        if self.device.mode == "hang":
            # Blocked in the "driver": not even interrupt() frees it, only the camera coming back.
            while self.device.mode == "hang":
                self.device.changed.wait(0.05)
            return None
        if self.device.mode == "down":
            return None
        if self.device.mode == "frozen":
            return self.device.still
        self.device.count += 1
        return np.full((64, 64, 3), self.device.count % 256, np.uint8)

    def interrupt(self) -> None:
        self._stop.set()

    def close(self) -> None:
        pass


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def pipeline_for(device: Device, tmp_path: Path, **watchdog: float) -> CameraPipeline:
    profile = parse_profile({
        "camera_id": "cam-w", "hall_id": "h", "source": {"kind": "device", "device": 0},
        "size": [64, 64], "watchdog": watchdog,
    }, "test")
    return CameraPipeline(profile, lambda *a: None, tmp_path, analytics=False,
                          source_factory=lambda: DeviceSource(device), rng=random.Random(3))


def test_stopped_feed_is_dead_within_3s_and_back_within_10s(tmp_path: Path) -> None:
    device = Device()
    pipeline = pipeline_for(device, tmp_path)  # default timings
    pipeline.start()
    try:
        assert wait_for(lambda: pipeline.status is not None and pipeline.status.state is FeedState.OK, 3)
        device.mode = "hang"  # the read blocks in the driver
        hung_at = time.monotonic()
        assert wait_for(lambda: pipeline.status is not None and pipeline.status.state is FeedState.DEAD, 3.5)
        status = pipeline.status
        assert status is not None and status.since - hung_at <= 3.0
        assert status.reason == "no frames for 2.0 s"
        device.mode = "down"  # the camera refuses connections for a while
        device.changed.set()
        assert wait_for(lambda: device.opens >= 3, 5)  # retried, the agent never hung
        device.mode = "live"
        back_at = time.monotonic()
        assert wait_for(lambda: pipeline.status is not None and pipeline.status.state is FeedState.OK, 10)
        status = pipeline.status
        assert status is not None and status.since - back_at <= 10.0
        frames = pipeline.frames
        assert wait_for(lambda: pipeline.frames > frames + 5, 2)
    finally:
        device.mode = "live"
        device.changed.set()
        assert pipeline.stop()


def test_frozen_feed_is_stale_then_reconnected(tmp_path: Path) -> None:
    device = Device()
    pipeline = pipeline_for(device, tmp_path, frozen_after_s=0.5, dead_after_s=0.5,
                            backoff_initial_s=0.1, backoff_max_s=0.3)
    seen: list[FeedState] = []
    pipeline._on_status = lambda s: seen.append(s.state)
    pipeline.start()
    try:
        assert wait_for(lambda: FeedState.OK in seen, 3)
        device.mode = "frozen"
        assert wait_for(lambda: FeedState.STALE in seen, 2)
        opens = device.opens
        assert wait_for(lambda: device.opens > opens, 2)  # a frozen feed is reconnected
        device.mode = "live"
        assert wait_for(lambda: seen[-1] is FeedState.OK, 3)
        assert pipeline.latest() is not None
    finally:
        assert pipeline.stop()


def test_a_camera_frozen_from_the_start_of_a_connection_keeps_being_retried() -> None:
    cam = SimulatedCamera(lambda t: "frozen" if t >= 3 else "live")
    cam.run(40)
    assert cam.dog.status.state is FeedState.STALE
    assert cam.dog.connections >= 6  # every reconnection is found frozen again, and retried
