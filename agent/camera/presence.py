"""Presence and queue decisions — pure: numpy arrays and timestamps in, decisions out.

Per window region, every analysed frame gives three signals, cheapest first:

* **motion** — pixels of the downscaled region that changed since the previous analysed frame,
  after normalising brightness (so a lighting change is not motion);
* **occupancy** — pixels that differ from a learned *empty* reference of the region (learned only
  while the window is decided absent and quiet), so a clerk who sits perfectly still, looking down,
  still counts as there;
* **face** — a detector run (Haar, see :mod:`agent.camera.detect`) only when :meth:`wants_check`
  says it is needed: never while the region is empty and quiet, every ``recheck_every`` seconds
  while someone is (or may be) there.

A face, or occupancy not older than ``still_hold`` seconds after the last face or motion, is
*strong* evidence; motion alone is *weak* evidence (it keeps a clerk present, it never makes one
present). The decision is debounced: PRESENT after ``present_after`` seconds of continuous evidence
with at least one strong signal (or ``motion_present_after`` seconds of continuous motion), ABSENT after
``absent_after`` seconds without any evidence while the empty reference confirms the desk is empty
(``absent_unsure_after`` when there is no reference yet). The timestamps are the caller's
(seconds); nothing here reads a clock.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]
Norm = npt.NDArray[np.float32]


def normalise(region: Gray) -> Norm:
    """Scale a gray region so that its median is 128: a uniform gain change then cancels out."""
    median = float(np.median(region))
    return region.astype(np.float32) * np.float32(128.0 / max(median, 1.0))


def changed_pixels(a: Norm, b: Norm, threshold: float) -> int:
    """How many pixels differ by more than ``threshold`` between two normalised regions."""
    return int(np.count_nonzero(np.abs(a - b) > threshold))


def global_change(a: Gray, b: Gray, threshold: float = 24.0) -> bool:
    """True if more than half of a whole (downscaled) frame changed: lighting jump or camera shake,
    not motion in one region."""
    if a.shape != b.shape:
        return True
    return changed_pixels(normalise(a), normalise(b), threshold) * 2 > a.size


class State(enum.StrEnum):
    UNKNOWN = "unknown"
    PRESENT = "present"
    ABSENT = "absent"


@dataclass(frozen=True, slots=True)
class PresenceParams:
    """Thresholds of one window's presence decision (seconds, pixels of the downscaled frame)."""

    absent_after: float = 60.0
    absent_unsure_after: float = 300.0
    present_after: float = 3.0
    motion_present_after: float = 20.0
    recheck_every: float = 2.0
    idle_check_every: float = 10.0
    min_check_gap: float = 0.4
    still_hold: float = 600.0
    learn_after: float = 5.0
    motion_pixels: int = 4
    diff_threshold: float = 24.0
    occupied_permille: int = 40

    def __post_init__(self) -> None:
        if self.absent_after <= 0 or self.present_after < 0 or self.recheck_every <= 0:
            raise ValueError("absent_after and recheck_every must be > 0, present_after >= 0")
        if self.absent_after <= 2 * self.recheck_every:
            raise ValueError("absent_after must be longer than two recheck periods")
        if min(self.absent_unsure_after, self.still_hold) < self.absent_after:
            raise ValueError("absent_unsure_after and still_hold must be >= absent_after")


@dataclass(frozen=True, slots=True)
class Observation:
    """The signals of one analysed frame. ``None``: not measured this time."""

    motion: int
    face: bool | None
    occupied: bool | None


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """A decided change: ``state`` holds since ``since`` (seconds); ``confidence`` in percent."""

    state: State
    since: float
    confidence: int


class PresenceTracker:
    """The debounced decision of one window, fed :class:`Observation` s in time order."""

    def __init__(self, params: PresenceParams, start: float) -> None:
        self.params = params
        self.state = State.UNKNOWN
        self.start = start
        self.last_evidence = start
        self.last_face = -float("inf")
        self.last_motion = -float("inf")
        self.last_check = -float("inf")
        self.last_occupied: bool | None = None
        self._run_start: float | None = None
        self._run_strong = False
        self._run_face = False

    @property
    def gap(self) -> float:
        """Longest silence that still continues a run of evidence (checks come every recheck)."""
        return 2.5 * self.params.recheck_every

    def wants_check(self, now: float, motion: int, occupied: bool | None) -> bool:
        """Whether the face detector should run on this frame."""
        p = self.params
        since = now - self.last_check
        if since < p.min_check_gap:
            return False
        if self.state is State.ABSENT:
            active = motion >= p.motion_pixels or occupied is True
            return active or since >= p.idle_check_every
        return since >= p.recheck_every or (
            self.state is State.UNKNOWN and motion >= p.motion_pixels
        )

    def update(self, now: float, obs: Observation) -> PresenceChange | None:
        """Take one frame's signals; return the decided change, if this frame makes one."""
        p = self.params
        if obs.face is not None:
            self.last_check = now
        if obs.face:
            self.last_face = now
        moving = obs.motion >= p.motion_pixels
        if moving:
            self.last_motion = now
        self.last_occupied = obs.occupied
        active = max(self.last_face, self.last_motion, self.start)
        held = now - active <= p.still_hold
        strong = bool(obs.face) or (obs.occupied is True and held)
        if strong or moving:
            if self._run_start is None or now - self.last_evidence > self.gap:
                self._run_start, self._run_strong, self._run_face = now, False, False
            self.last_evidence = now
            self._run_strong = self._run_strong or strong
            self._run_face = self._run_face or bool(obs.face)
        if self.state is not State.PRESENT and self._run_start is not None and (strong or moving):
            run = now - self._run_start
            if self._run_strong and run >= p.present_after:
                self.state = State.PRESENT
                return PresenceChange(State.PRESENT, self._run_start, 95 if self._run_face else 70)
            if run >= p.motion_present_after:
                self.state = State.PRESENT
                return PresenceChange(State.PRESENT, self._run_start, 60)
        # Leaving makes motion, so the last face or motion is when the clerk was last seen: that is
        # the absence's ``since`` (the hub measures R10 from it), whatever the wait below. The wait
        # depends on what the empty reference says: "empty" -> absent_after; no reference yet ->
        # absent_unsure_after (a motionless clerk looking down looks like an empty desk); "not
        # empty", but nothing moved for still_hold -> still_hold (an object left on the desk).
        if obs.occupied is False:
            wait, confidence = p.absent_after, 90
        elif obs.occupied is None:
            wait, confidence = p.absent_unsure_after, 70
        else:
            wait, confidence = p.still_hold, 60
        if self.state is not State.ABSENT and now - active >= wait:
            self.state = State.ABSENT
            self._run_start = None
            return PresenceChange(State.ABSENT, active, confidence)
        return None

    def should_learn_empty(self, now: float) -> bool:
        """Whether the region now shows the empty desk (absent and quiet) and may be learned."""
        return self.state is State.ABSENT and now - self.last_motion >= self.params.learn_after


class WindowPresence:
    """One window region: its signals (motion, occupancy) and its :class:`PresenceTracker`."""

    LEARN_RATE = 0.25

    def __init__(self, params: PresenceParams, start: float) -> None:
        self.params = params
        self.tracker = PresenceTracker(params, start)
        self._previous: Norm | None = None
        self._empty: Norm | None = None

    @property
    def state(self) -> State:
        return self.tracker.state

    @property
    def has_reference(self) -> bool:
        """Whether an empty reference of the region has been learned."""
        return self._empty is not None

    def step(
        self,
        now: float,
        small: Gray,
        check_face: Callable[[], bool],
        *,
        global_change: bool = False,
    ) -> PresenceChange | None:
        """Analyse one downscaled gray crop of the region; ``check_face`` runs the detector."""
        p = self.params
        current = normalise(small)
        motion = 0
        if self._previous is not None and not global_change:
            if self._previous.shape == current.shape:
                motion = changed_pixels(current, self._previous, p.diff_threshold)
        self._previous = current
        occupied: bool | None = None
        if self._empty is not None and self._empty.shape == current.shape:
            differing = changed_pixels(current, self._empty, p.diff_threshold)
            occupied = differing * 1000 >= p.occupied_permille * current.size
        face = check_face() if self.tracker.wants_check(now, motion, occupied) else None
        change = self.tracker.update(now, Observation(motion, face, occupied))
        if self.tracker.should_learn_empty(now) and not face:
            if self._empty is None or self._empty.shape != current.shape:
                self._empty = current.copy()
            else:
                self._empty += np.float32(self.LEARN_RATE) * (current - self._empty)
        return change


@dataclass(frozen=True, slots=True)
class QueueParams:
    """When a hall region's queue is long: more than ``threshold`` people for ``long_after`` s."""

    threshold: int
    long_after: float = 30.0
    count_every: float = 2.0
    idle_count_every: float = 10.0
    tolerance: float = 5.0
    clear_after: float = 30.0
    repeat_after: float = 600.0
    motion_pixels: int = 8

    def __post_init__(self) -> None:
        if self.threshold < 0 or self.long_after < 0 or self.count_every <= 0:
            raise ValueError("threshold and long_after must be >= 0, count_every > 0")


@dataclass(frozen=True, slots=True)
class QueueAlert:
    """The queue holds ``people`` (more than the threshold), long since ``since``."""

    people: int
    since: float


class QueueWatch:
    """Debounced ``queue.long`` decisions from people counts taken now and then."""

    def __init__(self, params: QueueParams) -> None:
        self.params = params
        self.last_count_at = -float("inf")
        self.people: int | None = None
        self.alerted = False
        self._above_since: float | None = None
        self._below_since: float | None = None
        self._last_alert = -float("inf")

    def wants_count(self, now: float, motion: int) -> bool:
        """Whether the (expensive) people counter should run on this frame."""
        since = now - self.last_count_at
        if since < self.params.count_every:
            return False
        return motion >= self.params.motion_pixels or since >= self.params.idle_count_every

    def update(self, now: float, people: int) -> QueueAlert | None:
        """Take one count; return an alert when the queue is (still) long."""
        p = self.params
        self.last_count_at = now
        self.people = people
        if people > p.threshold:
            self._below_since = None
            if self._above_since is None:
                self._above_since = now
            if not self.alerted and now - self._above_since >= p.long_after:
                self.alerted = True
                self._last_alert = now
                return QueueAlert(people, self._above_since)
            if self.alerted and now - self._last_alert >= p.repeat_after:
                self._last_alert = now
                return QueueAlert(people, self._above_since)
            return None
        if self._below_since is None:
            self._below_since = now
        below = now - self._below_since
        if self.alerted:
            if below >= p.clear_after:
                self.alerted = False
                self._above_since = None
        elif below >= p.tolerance:
            self._above_since = None
        return None
