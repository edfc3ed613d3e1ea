"""A deterministic synthetic service hall, drawn with OpenCV primitives.

The scene: ``windows`` service desks side by side along the top half (each with a clerk who comes
and goes on a script, faces the camera, looks down at the desk, or sits perfectly still), a floor in
the bottom half where a queue of ``n`` people stands (seen from behind, facing the windows), lighting
that changes on a script, low sensor noise so that consecutive frames are never byte-identical (a real
camera's frames never are; identical frames mean a frozen feed), and optionally the time burnt into
the frame (as text, and as a barcode that :mod:`agent.camera.stamp` reads back).

The drawings are made for the real detectors, and were checked against them: OpenCV's Haar
``frontalface_default`` cascade fires on a clerk who faces the camera (not on one looking down, nor on
the queue seen from behind), and the default HOG people detector fires once per queued person at
640x480. ``render(t)`` depends only on ``t`` and the seed, so a test can render any moment directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal, cast

import cv2
import numpy as np
import numpy.typing as npt

from agent.camera import stamp
from agent.camera.geometry import Rect

Pose = Literal["away", "facing", "down"]
Frame = npt.NDArray[np.uint8]
Color = tuple[int, int, int]

WALK_S = 1.2  # how long a clerk takes to walk in or out of the booth
_SKIN: Color = (140, 170, 210)
_HAIR: Color = (30, 30, 40)
_SHIRTS: tuple[Color, ...] = ((150, 90, 40), (60, 60, 140), (70, 120, 60), (120, 60, 110))
_TZ = timezone(timedelta(hours=8))
_NOISE_SHIFTS = 61


@dataclass(frozen=True, slots=True)
class ClerkCue:
    """From ``at`` seconds on, the clerk of window ``window`` (0-based) is in ``pose``."""

    at: float
    window: int
    pose: Pose
    moving: bool = True


@dataclass(frozen=True, slots=True)
class QueueCue:
    """From ``at`` seconds on, ``people`` people stand in the queue."""

    at: float
    people: int


@dataclass(frozen=True, slots=True)
class LightCue:
    """From ``at`` seconds on, the scene brightness moves to ``gain`` (1.0 = normal) over ``ramp`` s."""

    at: float
    gain: float
    ramp: float = 0.0


@dataclass(frozen=True, slots=True)
class SceneScript:
    """What happens in the hall, and when. ``loop`` repeats the script every ``loop`` seconds."""

    clerks: tuple[ClerkCue, ...] = ()
    queue: tuple[QueueCue, ...] = ()
    light: tuple[LightCue, ...] = ()
    loop: float | None = None


def demo_script(windows: int = 3) -> SceneScript:
    """A five-minute loop: clerks come and go, look down, sit still; the queue grows and shrinks;
    the lights dim for a while."""
    clerks: list[ClerkCue] = []
    for w in range(windows):
        shift = 20.0 * w
        clerks += [
            ClerkCue(0.0, w, "facing"),
            ClerkCue(40.0 + shift, w, "down"),
            ClerkCue(80.0 + shift, w, "facing", moving=False),
            ClerkCue(110.0 + shift, w, "facing"),
        ]
    clerks += [ClerkCue(130.0, 0, "away"), ClerkCue(230.0, 0, "facing")]
    queue = (QueueCue(0.0, 2), QueueCue(60.0, 4), QueueCue(120.0, 7), QueueCue(200.0, 3))
    light = (LightCue(0.0, 1.0), LightCue(150.0, 0.6, ramp=3.0), LightCue(190.0, 1.0))
    return SceneScript(tuple(clerks), queue, light, loop=300.0)


@dataclass(frozen=True, slots=True)
class _Layout:
    width: int
    height: int
    windows: tuple[Rect, ...]
    queue: Rect
    desk_y: int
    face: int  # face height in pixels
    person: int  # standing person height in pixels


def _layout(width: int, height: int, windows: int) -> _Layout:
    booth = width // windows
    top = int(0.06 * height)
    desk_y = int(0.45 * height)
    regions = tuple(
        Rect(i * booth + booth // 16, top, booth - booth // 8, int(0.52 * height) - top)
        for i in range(windows)
    )
    queue_y = int(0.54 * height)
    queue = Rect(0, queue_y, width, height - queue_y)
    return _Layout(width, height, regions, queue, desk_y, int(0.15 * height), int(0.31 * height))


@dataclass
class SyntheticScene:
    """Renders the hall at any moment ``t`` (seconds since the script started)."""

    width: int = 640
    height: int = 480
    windows: int = 3
    script: SceneScript | None = None  # None: demo_script(windows)
    seed: int = 0
    noise: bool = True
    clock_text: bool = False
    epoch: float = 0.0  # wall time at t = 0, for the burnt-in clock text

    def __post_init__(self) -> None:
        if self.windows < 1 or self.width < 160 or self.height < 120:
            raise ValueError("a scene needs at least one window and 160x120 pixels")
        self.plan: SceneScript = self.script or demo_script(self.windows)
        for cue in self.plan.clerks:
            if not 0 <= cue.window < self.windows:
                raise ValueError(f"cue {cue} names window {cue.window}, scene has {self.windows}")
        self.layout = _layout(self.width, self.height, self.windows)
        self._background = self._draw_background()
        rng = np.random.default_rng(self.seed)
        # One noise plane, taller than the frame; each frame takes rows from a different offset.
        self._noise = rng.integers(0, 5, (self.height + _NOISE_SHIFTS, self.width, 3), dtype=np.uint8)

    @property
    def window_regions(self) -> tuple[Rect, ...]:
        """Where each window's clerk sits (the presence regions of the sample profile)."""
        return self.layout.windows

    @property
    def queue_region(self) -> Rect:
        """Where the queue stands."""
        return self.layout.queue

    # -- script lookup -----------------------------------------------------------------------

    def _local(self, t: float) -> float:
        loop = self.plan.loop
        return t % loop if loop else t

    def clerk_at(self, window: int, t: float) -> tuple[Pose, bool, float]:
        """(pose, moving, walk) of a clerk at ``t``; walk in 0..1 is how far out of the booth."""
        t = self._local(t)
        cues = [c for c in self.plan.clerks if c.window == window]
        current: ClerkCue | None = None
        previous: ClerkCue | None = None
        for cue in cues:
            if cue.at <= t:
                previous, current = current, cue
        if current is None:
            return "away", False, 1.0
        since = t - current.at
        was_away = previous is None or previous.pose == "away"
        if current.pose == "away":
            if previous is None or previous.pose == "away" or since >= WALK_S:
                return "away", False, 1.0
            return "facing", True, since / WALK_S  # walking out
        if was_away and previous is not None and since < WALK_S:
            return current.pose, True, 1.0 - since / WALK_S  # walking in
        return current.pose, current.moving, 0.0

    def people_at(self, t: float) -> int:
        """How many people queue at ``t``."""
        t = self._local(t)
        people = 0
        for cue in self.plan.queue:
            if cue.at <= t:
                people = cue.people
        return people

    def gain_at(self, t: float) -> float:
        """Scene brightness at ``t``."""
        t = self._local(t)
        gain = 1.0
        for cue in self.plan.light:
            if cue.at <= t:
                if cue.ramp > 0 and t < cue.at + cue.ramp:
                    gain = gain + (cue.gain - gain) * (t - cue.at) / cue.ramp
                else:
                    gain = cue.gain
        return gain

    # -- drawing -------------------------------------------------------------------------------

    def _draw_background(self) -> Frame:
        lay = self.layout
        img = np.empty((self.height, self.width, 3), np.uint8)
        img[: lay.queue.y] = (200, 215, 225)  # wall
        img[lay.queue.y :] = (150, 155, 160)  # floor
        for y in range(lay.queue.y, self.height, max(8, self.height // 12)):
            cv2.line(img, (0, y), (self.width, y), (135, 140, 145), 1)
        booth = self.width // self.windows
        for i in range(self.windows + 1):
            x = min(self.width - 1, i * booth)
            cv2.rectangle(img, (x - 3, 0), (x + 3, lay.queue.y), (90, 80, 70), -1)
        for i in range(self.windows):
            cx = i * booth + booth // 2
            sign = max(0.4, self.height / 800)
            cv2.putText(img, f"{i + 1}", (cx - 6, int(0.045 * self.height)),
                        cv2.FONT_HERSHEY_SIMPLEX, sign, (40, 40, 160), 2, cv2.LINE_AA)
        return img

    def _draw_face(self, img: Frame, cx: int, cy: int, s: int) -> None:
        cv2.ellipse(img, (cx, cy), (int(s * 0.42), int(s * 0.55)), 0, 0, 360, _SKIN, -1, cv2.LINE_AA)
        cv2.ellipse(img, (cx, cy - int(s * 0.3)), (int(s * 0.45), int(s * 0.3)), 0, 180, 360,
                    _HAIR, -1, cv2.LINE_AA)
        ey = cy - int(s * 0.08)
        for dx in (-1, 1):
            ex = cx + dx * int(s * 0.17)
            cv2.ellipse(img, (ex, ey - int(s * 0.1)), (int(s * 0.1), int(s * 0.03)), 0, 0, 360,
                        (40, 40, 50), -1, cv2.LINE_AA)
            cv2.ellipse(img, (ex, ey), (int(s * 0.1), int(s * 0.05)), 0, 0, 360,
                        (90, 110, 150), -1, cv2.LINE_AA)
            cv2.ellipse(img, (ex, ey), (int(s * 0.06), int(s * 0.03)), 0, 0, 360,
                        (30, 30, 30), -1, cv2.LINE_AA)
        cv2.line(img, (cx, ey), (cx - int(s * 0.03), cy + int(s * 0.12)), (100, 125, 170),
                 max(1, int(s * 0.02)), cv2.LINE_AA)
        cv2.ellipse(img, (cx, cy + int(s * 0.14)), (int(s * 0.06), int(s * 0.025)), 0, 0, 360,
                    (90, 110, 150), -1, cv2.LINE_AA)
        cv2.ellipse(img, (cx, cy + int(s * 0.28)), (int(s * 0.13), int(s * 0.04)), 0, 0, 360,
                    (60, 60, 120), -1, cv2.LINE_AA)

    def _draw_head_down(self, img: Frame, cx: int, cy: int, s: int) -> None:
        cv2.ellipse(img, (cx, cy), (int(s * 0.42), int(s * 0.5)), 0, 0, 360, _SKIN, -1, cv2.LINE_AA)
        cv2.ellipse(img, (cx, cy - int(s * 0.08)), (int(s * 0.45), int(s * 0.46)), 0, 0, 360,
                    _HAIR, -1, cv2.LINE_AA)

    def _draw_clerk(self, img: Frame, window: int, t: float) -> None:
        pose, moving, walk = self.clerk_at(window, t)
        if pose == "away":
            return
        # Draw on a copy of the clerk's own booth, so that a clerk walking out never shows in the
        # next booth (each window region sees its own clerk only).
        booth = self.width // self.windows
        x0 = window * booth
        part = np.ascontiguousarray(img[:, x0 : x0 + booth])
        self._draw_clerk_in(part, window, t, pose, moving, walk, x0)
        img[:, x0 : x0 + booth] = part

    def _draw_clerk_in(
        self, img: Frame, window: int, t: float, pose: Pose, moving: bool, walk: float, x0: int
    ) -> None:
        lay = self.layout
        region = lay.windows[window]
        s = lay.face
        phase = 1.7 * window
        sway = int(round(2 * math.sin(2 * math.pi * t / 3.0 + phase))) if moving else 0
        cx = region.x - x0 + region.w // 2 + sway - int(walk * (region.w // 2 + s))
        cy = region.y + int(0.45 * s) + s // 2
        if pose == "down":
            cy += int(0.15 * s)
        shirt = _SHIRTS[window % len(_SHIRTS)]
        shoulder_y = region.y + int(1.45 * s)
        torso = np.array([
            [cx - int(0.75 * s), lay.desk_y + 4], [cx - int(0.72 * s), shoulder_y + int(0.2 * s)],
            [cx - int(0.5 * s), shoulder_y], [cx + int(0.5 * s), shoulder_y],
            [cx + int(0.72 * s), shoulder_y + int(0.2 * s)], [cx + int(0.75 * s), lay.desk_y + 4],
        ], np.int32)
        cv2.fillPoly(img, [torso], shirt, cv2.LINE_AA)
        cv2.rectangle(img, (cx - int(0.12 * s), cy + int(0.4 * s)), (cx + int(0.12 * s), shoulder_y),
                      _SKIN, -1)
        if pose == "facing":
            self._draw_face(img, cx, cy, s)
        else:
            self._draw_head_down(img, cx, cy, s)
    def _draw_desks(self, img: Frame) -> None:
        lay = self.layout
        booth = self.width // self.windows
        for i in range(self.windows):
            x0 = i * booth + 4
            cv2.rectangle(img, (x0, lay.desk_y), (x0 + booth - 8, lay.queue.y - 2), (60, 90, 130), -1)
            cv2.rectangle(img, (x0, lay.desk_y), (x0 + booth - 8, lay.desk_y + 3), (40, 60, 90), -1)

    def _draw_hands(self, img: Frame, window: int, t: float) -> None:
        pose, moving, walk = self.clerk_at(window, t)
        if pose == "away" or walk > 0:
            return
        s = self.layout.face
        region = self.layout.windows[window]
        phase = 1.7 * window
        sway = int(round(2 * math.sin(2 * math.pi * t / 3.0 + phase))) if moving else 0
        cx = region.x + region.w // 2 + sway
        write = int(round(4 * math.sin(2 * math.pi * t / 1.3 + phase))) if moving else 0
        hand_y = self.layout.desk_y + int(0.1 * s)
        for dx in (-1, 1):
            hx = cx + dx * int(0.45 * s) + (write if dx > 0 and pose == "down" else 0)
            cv2.circle(img, (hx, hand_y), max(2, int(0.1 * s)), _SKIN, -1, cv2.LINE_AA)

    def _draw_person(self, img: Frame, x: int, feet: int, h: int, shirt: Color) -> None:
        s = h / 100
        hy = int(feet - 90 * s)
        cv2.ellipse(img, (x, hy), (int(6 * s), int(8 * s)), 0, 0, 360, _HAIR, -1, cv2.LINE_AA)
        body = np.array([
            [x - int(13 * s), feet - int(80 * s)], [x + int(13 * s), feet - int(80 * s)],
            [x + int(15 * s), feet - int(50 * s)], [x + int(11 * s), feet - int(45 * s)],
            [x - int(11 * s), feet - int(45 * s)], [x - int(15 * s), feet - int(50 * s)],
        ], np.int32)
        cv2.fillPoly(img, [body], shirt, cv2.LINE_AA)
        for d in (-1, 1):
            cv2.line(img, (x + d * int(13 * s), feet - int(79 * s)),
                     (x + d * int(17 * s), feet - int(48 * s)), shirt, max(1, int(6 * s)), cv2.LINE_AA)
            cv2.circle(img, (x + d * int(17 * s), feet - int(46 * s)), max(1, int(3 * s)), _SKIN, -1,
                       cv2.LINE_AA)
            cv2.line(img, (x + d * int(5 * s), feet - int(46 * s)),
                     (x + d * int(7 * s), feet - int(2 * s)), (50, 40, 30), max(1, int(8 * s)),
                     cv2.LINE_AA)
            cv2.ellipse(img, (x + d * int(8 * s), feet - int(1 * s)), (int(5 * s), int(2 * s)), 0, 0,
                        360, (20, 20, 20), -1)

    def queue_positions(self, people: int) -> list[int]:
        """The x of each queued person's feet (left to right, front of the queue first)."""
        lay = self.layout
        spacing = max(lay.person // 2, min(int(0.115 * self.width), self.width // max(1, people)))
        start = int(0.07 * self.width)
        return [start + i * spacing for i in range(people) if start + i * spacing < self.width - 20]

    def render(self, t: float, stamp_ms: int | None = None) -> Frame:
        """The frame at ``t`` seconds; ``stamp_ms`` is burnt in as a barcode if given."""
        img = self._background.copy()
        for window in range(self.windows):
            self._draw_clerk(img, window, t)
        self._draw_desks(img)
        for window in range(self.windows):
            self._draw_hands(img, window, t)
        lay = self.layout
        feet = self.height - max(6, self.height // 40)
        for i, x in enumerate(self.queue_positions(self.people_at(t))):
            shift = int(round(1.5 * math.sin(2 * math.pi * t / 2.5 + i)))
            self._draw_person(img, x + shift, feet, lay.person, _SHIRTS[(i + 1) % len(_SHIRTS)])
        gain = self.gain_at(t)
        if gain != 1.0:
            img = cast(Frame, cv2.convertScaleAbs(img, alpha=gain))
        if self.noise:
            # Frames 1..60 ms apart, or any multiple of 1/fps for the usual rates, get different
            # offsets (61 is prime and no common frame period is a multiple of 61 ms).
            shift = int(round(t * 1000)) % _NOISE_SHIFTS
            img = cast(Frame, cv2.add(img, self._noise[shift : shift + self.height]))
        if self.clock_text:
            text = datetime.fromtimestamp(self.epoch + t, _TZ).strftime("%Y-%m-%d %H:%M:%S")
            scale = max(0.35, self.height / 1000)
            cv2.putText(img, text, (8, self.height - 8), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (255, 255, 255), 1, cv2.LINE_AA)
        if stamp_ms is not None:
            stamp.burn(img, stamp_ms)
        return img
