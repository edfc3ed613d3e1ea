"""Presence and queue decisions on rendered synthetic frames, through the real detectors.

One scripted 250-second scene (analysed at 2 frames/s, no clock, no threads) covers every case:

* W0 — the agent starts with the desk empty; the clerk arrives, works, leaves, comes back;
* W1 — the clerk arrives, then looks down writing for a minute, then sits perfectly still looking
  down (no face, no motion: only the learned empty reference says the chair is taken);
* W2 — the clerk faces the camera without moving at all, through a lighting drop to 50 %, a ramp
  to 130 % and back;
* queue — 2 people, then 6 (threshold 4), then 1, then 7.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from agent.camera.snapshot import read_snapshot
from agent.camera.synthetic import ClerkCue, LightCue, QueueCue, SceneScript, SyntheticScene
from tests.camera.scenes import EPOCH, Seen, of, profile_for, run_scene

SCRIPT = SceneScript(
    clerks=(
        ClerkCue(0, 0, "away"), ClerkCue(70, 0, "facing"), ClerkCue(130, 0, "away"),
        ClerkCue(180, 0, "facing"),
        ClerkCue(0, 1, "away"), ClerkCue(70, 1, "facing"), ClerkCue(100, 1, "down"),
        ClerkCue(160, 1, "down", moving=False),
        ClerkCue(0, 2, "facing", moving=False),
    ),
    queue=(QueueCue(0, 2), QueueCue(40, 6), QueueCue(100, 1), QueueCue(150, 7)),
    light=(LightCue(90, 0.5), LightCue(140, 1.3, ramp=10), LightCue(200, 1.0)),
)


@pytest.fixture(scope="module")
def scene_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Seen], Path]:
    scene = SyntheticScene(script=SCRIPT)
    snapshots = tmp_path_factory.mktemp("snapshots")
    seen, _ = run_scene(scene, profile_for(scene), 250, snapshots)
    return seen, snapshots


def at_seconds(body_at: object) -> float:
    assert isinstance(body_at, str)
    return datetime.fromisoformat(body_at).timestamp() - EPOCH


def test_comes_and_goes(scene_run: tuple[list[Seen], Path]) -> None:
    seen, _ = scene_run
    events = of(seen, "W0")
    assert [kind for _, kind in events] == [
        "presence.absent", "presence.present", "presence.absent", "presence.present"]
    (t_absent0, _), (t_present1, _), (t_absent1, _), (t_present2, _) = events
    # no empty reference at start-up: the agent waits absent_unsure_after (60 s) before "absent"
    assert t_absent0 == pytest.approx(60, abs=1)
    assert 70 < t_present1 <= 70 + 1.2 + 3 + 1  # walk in, present_after, one frame
    # the clerk walks out from 130 to 131.2; the reference says "empty": absent_after (20 s)
    assert 150 <= t_absent1 <= 153
    bodies = [s.body for s in seen if s.body.get("window_id") == "W0"]
    assert 129 <= at_seconds(bodies[2]["at"]) <= 132  # "at" is when the clerk was last seen
    assert bodies[2]["confidence"] == 90
    assert 180 < t_present2 <= 185


def test_looking_down_and_sitting_still_is_not_absent(scene_run: tuple[list[Seen], Path]) -> None:
    seen, _ = scene_run
    events = of(seen, "W1")
    assert [kind for _, kind in events] == ["presence.absent", "presence.present"]
    assert events[1][0] < 76  # arrived at 70; then 90 s of looking down never makes it absent


def test_still_clerk_through_lighting_changes_is_present(scene_run: tuple[list[Seen], Path]) -> None:
    seen, _ = scene_run
    events = of(seen, "W2")
    # a still clerk gives evidence only when the face check runs (every recheck_s = 2 s)
    assert [kind for _, kind in events] == ["presence.present"] and events[0][0] <= 5
    body = next(s.body for s in seen if s.body.get("window_id") == "W2")
    assert body["confidence"] == 95  # the face detector confirmed it
    assert at_seconds(body["at"]) == 0


def test_queue_long(scene_run: tuple[list[Seen], Path]) -> None:
    seen, _ = scene_run
    queue = [(s.t, s.body["people"]) for s in seen if s.type == "queue.long"]
    # 6 people from 40 s (counted every 5 s) for long_after 10 s; 1 person from 100 s clears it
    # after 30 s; 7 people from 150 s
    assert [people for _, people in queue] == [6, 7]
    assert 50 <= queue[0][0] <= 56
    assert 160 <= queue[1][0] <= 166


def test_bodies_are_exact_and_float_free(scene_run: tuple[list[Seen], Path]) -> None:
    seen, snapshots = scene_run
    assert seen
    for s in seen:
        if s.type.startswith("presence."):
            assert set(s.body) == {"window_id", "camera_id", "at", "confidence", "snapshot_ref"}
            assert isinstance(s.body["confidence"], int) and 0 <= s.body["confidence"] <= 100
        else:
            assert s.type == "queue.long"
            assert set(s.body) == {"hall_id", "camera_id", "at", "people", "snapshot_ref"}
            assert isinstance(s.body["people"], int)
        assert not any(isinstance(v, float) for v in s.body.values())
        assert str(s.body["at"]).endswith("+08:00") and s.ts.endswith("+08:00")
        ref = s.body["snapshot_ref"]
        assert isinstance(ref, str)
        assert read_snapshot(snapshots, ref)[:2] == b"\xff\xd8"  # a JPEG, and its hash checks
