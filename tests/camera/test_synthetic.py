"""The synthetic hall: deterministic, never frozen, scripted, with a readable timestamp."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.camera import stamp
from agent.camera.synthetic import (
    ClerkCue,
    LightCue,
    QueueCue,
    SceneScript,
    SyntheticScene,
    demo_script,
)


def test_render_is_deterministic() -> None:
    a, b = SyntheticScene(seed=3), SyntheticScene(seed=3)
    for t in (0.0, 12.34, 299.9):
        assert np.array_equal(a.render(t), b.render(t))
    assert a.render(1.0).shape == (480, 640, 3) and a.render(1.0).dtype == np.uint8


def test_consecutive_frames_of_a_still_scene_differ() -> None:
    # sensor noise: a live camera never sends identical frames, so the watchdog may call those frozen
    scene = SyntheticScene(script=SceneScript(clerks=(ClerkCue(0, 0, "facing", moving=False),)))
    for fps in (5, 15, 25, 30):
        frames = [scene.render(k / fps) for k in range(10)]
        assert all(not np.array_equal(x, y) for x, y in zip(frames, frames[1:]))


def test_script_lookup() -> None:
    scene = SyntheticScene(script=SceneScript(
        clerks=(ClerkCue(0, 0, "away"), ClerkCue(10, 0, "facing"), ClerkCue(20, 0, "down", moving=False)),
        queue=(QueueCue(5, 3),),
        light=(LightCue(0, 1.0), LightCue(30, 0.5, ramp=10)),
        loop=100,
    ))
    assert scene.clerk_at(0, 5)[0] == "away"
    assert scene.clerk_at(0, 10.6)[2] == pytest.approx(0.5)  # halfway in
    assert scene.clerk_at(0, 15) == ("facing", True, 0.0)
    assert scene.clerk_at(0, 25) == ("down", False, 0.0)
    assert scene.clerk_at(0, 115) == ("facing", True, 0.0)  # looped
    assert scene.people_at(4) == 0 and scene.people_at(6) == 3
    assert scene.gain_at(35) == pytest.approx(0.75) and scene.gain_at(45) == 0.5


def test_a_leaving_clerk_stays_in_its_booth() -> None:
    still = SceneScript(clerks=(ClerkCue(0, 2, "facing"),))
    leaving = SceneScript(clerks=(ClerkCue(0, 2, "facing"), ClerkCue(1, 2, "away")))
    a = SyntheticScene(script=still, noise=False).render(1.6)
    b = SyntheticScene(script=leaving, noise=False).render(1.6)
    booth = 640 // 3
    assert np.array_equal(a[:, : 2 * booth], b[:, : 2 * booth])  # booths 1 and 2 untouched
    assert not np.array_equal(a[:, 2 * booth :], b[:, 2 * booth :])


def test_demo_script_covers_everything() -> None:
    script = demo_script(3)
    assert {c.pose for c in script.clerks} == {"facing", "down", "away"}
    assert any(not c.moving for c in script.clerks)
    assert max(q.people for q in script.queue) > 5 and len(script.light) >= 2


def test_bad_scenes_are_refused() -> None:
    with pytest.raises(ValueError):
        SyntheticScene(windows=2, script=SceneScript(clerks=(ClerkCue(0, 2, "facing"),)))
    with pytest.raises(ValueError):
        SyntheticScene(width=100, height=80)


@given(st.integers(0, 2**48 - 1))
def test_stamp_round_trip(value: int) -> None:
    frame = np.full((120, 320, 3), 128, np.uint8)
    stamp.burn(frame, value)
    assert stamp.read(frame) == value


def test_stamp_survives_jpeg_and_rejects_damage() -> None:
    import cv2

    frame = SyntheticScene().render(3.0, stamp_ms=1_790_000_123_456)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 40])
    decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    assert ok and decoded is not None
    assert stamp.read(decoded.astype(np.uint8)) == 1_790_000_123_456
    size = stamp.block_size(640)
    frame[0:size, 10 * size : 11 * size] = 255 - frame[0:size, 10 * size : 11 * size]
    assert stamp.read(frame) is None  # one flipped bit: the checksum catches it
    assert stamp.read(np.zeros((480, 640, 3), np.uint8)) is None
    with pytest.raises(ValueError):
        stamp.burn(frame, -1)
