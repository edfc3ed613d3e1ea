"""Shared helpers: run the analytics over a synthetic scene without any clock or thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.camera.analytics import CameraAnalytics
from agent.camera.config import CameraProfile, parse_profile
from agent.camera.events import Body
from agent.camera.snapshot import SnapshotStore
from agent.camera.synthetic import SyntheticScene

EPOCH = 1_790_000_000.0  # 2026-09-22, an arbitrary fixed start


@dataclass(frozen=True)
class Seen:
    t: float  # scene seconds when the event was emitted
    type: str
    body: Body
    ts: str


def profile_for(scene: SyntheticScene, *, threshold: int = 4, **presence: float) -> CameraProfile:
    """A profile whose regions are the scene's, with fast test timings unless overridden."""
    timings: dict[str, float] = {"absent_after_s": 20, "absent_unsure_after_s": 60, "still_hold_s": 120,
               "present_after_s": 3, "motion_present_after_s": 20, "recheck_s": 2}
    timings.update(presence)
    return parse_profile({
        "camera_id": "test-cam", "hall_id": "test-hall", "source": {"kind": "synthetic"},
        "size": [scene.width, scene.height], "analysis_fps": 2,
        "windows": [{"window_id": f"W{i}", "rect": r.as_list()}
                    for i, r in enumerate(scene.window_regions)],
        "queue": {"rect": scene.queue_region.as_list(), "threshold": threshold, "long_after_s": 10,
                  "clear_after_s": 30, "count_every_s": 5},
        "presence": timings,
    }, "test")


def run_scene(scene: SyntheticScene, profile: CameraProfile, until: float, snapshots: Path,
              fps: float = 2.0) -> tuple[list[Seen], CameraAnalytics]:
    """Feed the analytics the scene's frames from t=0 to ``until`` at ``fps``; collect events."""
    seen: list[Seen] = []
    now = [0.0]

    def emit(type_: str, body: Body, ts: str) -> None:
        seen.append(Seen(now[0], type_, body, ts))

    analytics = CameraAnalytics(profile, emit, SnapshotStore(snapshots), start=EPOCH)
    for k in range(int(until * fps) + 1):
        now[0] = k / fps
        analytics.process(scene.render(now[0]), EPOCH + now[0])
    return seen, analytics


def of(seen: list[Seen], window: str) -> list[tuple[float, str]]:
    """(t, type) of one window's presence events."""
    return [(s.t, s.type) for s in seen if s.body.get("window_id") == window]
