"""One camera end to end, with real threads: the synthetic source through watchdog and analytics."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import yaml

from agent.camera import stamp
from agent.camera.config import parse_profile
from agent.camera.events import Body
from agent.camera.pipeline import CameraPipeline
from agent.camera.snapshot import read_snapshot
from agent.camera.watchdog import FeedState
from tests.camera.test_config import SAMPLE


def wait_for(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def test_synthetic_camera_reports_presence(tmp_path: Path) -> None:
    raw = yaml.safe_load(SAMPLE.read_text())
    raw["presence"]["present_after_s"] = 1
    profile = parse_profile(raw, str(SAMPLE), SAMPLE.parent)
    events: list[tuple[str, Body, str]] = []
    lock = threading.Lock()

    def emit(type_: str, body: Body, ts: str) -> None:
        with lock:
            events.append((type_, body, ts))

    frames: list[float] = []
    pipeline = CameraPipeline(profile, emit, tmp_path)
    pipeline.add_listener(lambda frame, at: frames.append(at))
    pipeline.start()
    try:
        # the demo script starts with every clerk at the desk, facing the camera
        assert wait_for(lambda: len(events) >= 3, 8), events
        assert pipeline.status is not None and pipeline.status.state is FeedState.OK
        latest = pipeline.latest()
        assert latest is not None
        at, frame = latest
        assert frame.shape == (480, 640, 3)
        burnt = stamp.read(frame)
        assert burnt is not None and abs(burnt / 1000 - at) < 1.0  # stamp: true in the profile
    finally:
        assert pipeline.stop()
    with lock:
        got = list(events)
    assert sorted(b["window_id"] for t, b, _ in got[:3]) == ["W01", "W02", "W03"]
    assert all(t == "presence.present" and b["confidence"] == 95 for t, b, _ in got[:3])
    for _, body, _ in got:
        ref = body["snapshot_ref"]
        assert isinstance(ref, str) and read_snapshot(tmp_path, ref)
    assert 10 <= len(frames) and pipeline.analysed >= 5 and pipeline.errors == 0


def test_analytics_errors_do_not_stop_the_camera(tmp_path: Path) -> None:
    raw = yaml.safe_load(SAMPLE.read_text())
    raw["presence"]["present_after_s"] = 0
    profile = parse_profile(raw, str(SAMPLE), SAMPLE.parent)

    def broken_emit(type_: str, body: Body, ts: str) -> None:
        raise RuntimeError("outbox unavailable")

    pipeline = CameraPipeline(profile, broken_emit, tmp_path)
    pipeline.start()
    try:
        assert wait_for(lambda: pipeline.errors >= 1, 5)
        frames = pipeline.frames
        assert wait_for(lambda: pipeline.frames > frames + 5, 3)
    finally:
        assert pipeline.stop()
