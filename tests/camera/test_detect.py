"""What the real OpenCV detectors fire on in the synthetic hall."""

from __future__ import annotations

import pytest

from agent.camera.detect import FaceDetector, PeopleDetector, downscale, to_gray
from agent.camera.synthetic import ClerkCue, LightCue, QueueCue, SceneScript, SyntheticScene


@pytest.fixture(scope="module")
def faces() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="module")
def people() -> PeopleDetector:
    return PeopleDetector()


@pytest.mark.parametrize("gain", [0.4, 0.6, 1.0, 1.3])
def test_haar_finds_a_facing_clerk_only(faces: FaceDetector, gain: float) -> None:
    scene = SyntheticScene(script=SceneScript(
        clerks=(ClerkCue(0, 0, "facing"), ClerkCue(0, 1, "down"), ClerkCue(0, 2, "away")),
        queue=(QueueCue(0, 5),),
        light=(LightCue(0, gain),),
    ))
    for t in (0.0, 1.1, 2.3):
        gray = to_gray(scene.render(t))
        found = [len(faces.faces(gray, region)) for region in scene.window_regions]
        assert found == [1, 0, 0]
        face = faces.faces(gray, scene.window_regions[0])[0]
        assert face.center_in(scene.window_regions[0])
        # the queue is seen from behind: no faces there either
        assert faces.faces(gray, scene.queue_region) == []


@pytest.mark.parametrize("n", range(0, 9))
def test_hog_counts_the_queue(people: PeopleDetector, n: int) -> None:
    scene = SyntheticScene(script=SceneScript(queue=(QueueCue(0, n),)), seed=n)
    for t in (0.3, 1.7):
        found = people.people(scene.render(t), scene.queue_region)
        assert len(found) == len(scene.queue_positions(n)) == n
        assert all(box.center_in(scene.queue_region) for box in found)


def test_hog_counts_in_dim_light(people: PeopleDetector) -> None:
    scene = SyntheticScene(script=SceneScript(queue=(QueueCue(0, 6),), light=(LightCue(0, 0.5),)))
    assert len(people.people(scene.render(1.0), scene.queue_region)) == 6


def test_downscale_is_a_quarter() -> None:
    gray = to_gray(SyntheticScene().render(0.0))
    assert downscale(gray).shape == (120, 160)
