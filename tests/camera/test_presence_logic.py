"""The pure presence and queue decisions, fed observations directly (no frames, no clock)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.camera.presence import (
    Observation,
    PresenceParams,
    PresenceTracker,
    QueueParams,
    QueueWatch,
    State,
    WindowPresence,
    changed_pixels,
    global_change,
    normalise,
)

P = PresenceParams(absent_after=20, absent_unsure_after=60, still_hold=120, present_after=3,
                   motion_present_after=20, recheck_every=2)

observations = st.lists(
    st.tuples(
        st.floats(0.1, 8.0),
        st.integers(0, 10),
        st.sampled_from([None, True, False]),
        st.sampled_from([None, True, False]),
    ),
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(observations)
def test_decisions_follow_the_evidence(steps: list[tuple[float, int, bool | None, bool | None]]) -> None:
    tracker = PresenceTracker(P, 0.0)
    now = 0.0
    active: list[float] = []  # times of face or motion
    decided: list[State] = []
    for dt, motion, face, occupied in steps:
        now += dt
        evidence = bool(face) or motion >= P.motion_pixels or occupied is True
        if face or motion >= P.motion_pixels:
            active.append(now)
        change = tracker.update(now, Observation(motion, face, occupied))
        if change is None:
            continue
        assert change.since <= now
        assert 0 <= change.confidence <= 100
        if decided:
            assert change.state is not decided[-1], "the same state twice in a row"
        decided.append(change.state)
        if change.state is State.ABSENT:
            last = max(active, default=0.0)
            assert change.since == last  # absence begins when someone was last seen
            assert now - last >= P.absent_after  # never sooner than absent_after
        else:
            assert evidence, "present without evidence in the deciding frame"
            assert now - change.since >= P.present_after


def test_looking_down_motionless_without_reference_waits_longer() -> None:
    """A documented limit: with no empty reference, stillness and an empty desk look alike."""
    tracker = PresenceTracker(P, 0.0)
    t = 0.0
    changes = []
    while t < 9.5:  # the clerk faces the camera and moves, then looks down and freezes
        t += 0.5
        changes.append(tracker.update(t, Observation(5, True if t % 2 == 0 else None, None)))
    assert [c.state for c in changes if c] == [State.PRESENT]
    change = None
    while change is None:
        t += 0.5
        change = tracker.update(t, Observation(0, False if t % 2 == 0 else None, None))
    assert change.state is State.ABSENT
    assert t == pytest.approx(9.5 + P.absent_unsure_after, abs=0.6)
    assert change.confidence == 70


def test_motion_alone_makes_present_only_when_sustained() -> None:
    tracker = PresenceTracker(P, 0.0)
    changes = [tracker.update(t / 2, Observation(6, False, None)) for t in range(1, 30)]
    assert all(c is None for c in changes)  # 15 s of motion without a face: not yet
    changes = [tracker.update(15 + t / 2, Observation(6, False, None)) for t in range(1, 20)]
    present = [c for c in changes if c is not None]
    assert len(present) == 1 and present[0].state is State.PRESENT and present[0].confidence == 60


def test_face_checks_are_gated() -> None:
    tracker = PresenceTracker(P, 0.0)
    tracker.state = State.ABSENT
    tracker.last_check = 100.0
    assert not tracker.wants_check(101.0, 0, False)  # empty and quiet: no detector
    assert tracker.wants_check(101.0, 9, False)  # motion: check
    assert tracker.wants_check(101.0, 0, True)  # desk not empty: check
    assert not tracker.wants_check(100.2, 9, True)  # but not more often than min_check_gap
    assert tracker.wants_check(100.0 + P.idle_check_every, 0, False)  # and now and then anyway


def test_brightness_normalisation() -> None:
    rng = np.random.default_rng(1)
    region = rng.integers(40, 200, (50, 60), dtype=np.uint8)
    darker = (region.astype(np.float32) * 0.5).astype(np.uint8)
    assert changed_pixels(normalise(region), normalise(darker), 24.0) < 0.02 * region.size
    assert not global_change(region, region)
    moved = np.roll(region, 7, axis=1)
    assert global_change(region, moved)


def test_window_learns_the_empty_desk_and_sees_a_still_clerk() -> None:
    wp = WindowPresence(P, 0.0)
    empty = np.full((40, 40), 150, np.uint8)
    clerk = empty.copy()
    clerk[10:40, 10:30] = 60
    t = 0.0
    for _ in range(200):  # 100 s of empty desk: absent, the reference is learned
        t += 0.5
        wp.step(t, empty, lambda: False)
    assert wp.state is State.ABSENT and wp.has_reference
    for _ in range(4):  # the clerk sits down (one frame of motion), then never moves
        t += 0.5
        wp.step(t, clerk, lambda: False)
    for _ in range(200):
        t += 0.5
        wp.step(t, clerk, lambda: False)
    assert wp.tracker.state is State.PRESENT  # held by occupancy
    for _ in range(2 * int(P.still_hold) + 10):
        t += 0.5
        wp.step(t, clerk, lambda: False)
    assert wp.state is State.ABSENT  # nothing moved for still_hold: something left on the desk


def test_queue_watch_debounce_clear_and_repeat() -> None:
    q = QueueWatch(QueueParams(threshold=4, long_after=10, tolerance=5, clear_after=30, repeat_after=100))
    alerts = []
    t = 0.0
    counts = [6] * 3 + [3] + [6] * 4 + [2] * 20 + [7] * 80
    for n in counts:
        t += 2
        alert = q.update(t, n)
        if alert:
            alerts.append((t, alert.people, alert.since))
    # a one-count dip does not restart the 10 s; clears after 30 s below; repeats after 100 s
    assert alerts[0] == (12.0, 6, 2.0)
    assert [a[1] for a in alerts] == [6, 7, 7]
    assert alerts[2][0] - alerts[1][0] == 100
    assert not q.wants_count(t + 1, 100)
    assert q.wants_count(t + 2, 100) and not q.wants_count(t + 2, 0)
    assert q.wants_count(t + 10, 0)


def test_params_are_checked() -> None:
    with pytest.raises(ValueError):
        PresenceParams(absent_after=3, recheck_every=2)
    with pytest.raises(ValueError):
        PresenceParams(absent_after=60, absent_unsure_after=30)
    with pytest.raises(ValueError):
        QueueParams(threshold=-1)
