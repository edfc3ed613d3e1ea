"""Presence and queue analytics of one camera: frames in, ``presence.*`` / ``queue.long`` out.

Per analysed frame: one gray conversion and one 4x downscale of the whole frame; per window region
the pure :class:`~agent.camera.presence.WindowPresence` decides from motion and occupancy on the
downscaled crop whether the Haar face check must run on the full-size crop; the queue region's HOG
people count runs at most every ``count_every`` seconds, and only when the queue region moved or
has not been counted for ``idle_count_every``. Each decided event gets a JPEG snapshot of the frame
(evidence) whose hash goes in the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import cv2

from agent.camera import events
from agent.camera.config import CameraProfile
from agent.camera.detect import DOWNSCALE, FaceDetector, Frame, PeopleDetector, downscale, to_gray
from agent.camera.events import Body, Emit
from agent.camera.geometry import Rect
from agent.camera.presence import (
    QueueWatch,
    State,
    WindowPresence,
    changed_pixels,
    global_change,
    normalise,
)
from agent.camera.snapshot import SnapshotStore


@dataclass(frozen=True, slots=True)
class Finding:
    """An event the analytics emitted (also returned, for tests and logs)."""

    type: str
    body: Body
    ts: str


class CameraAnalytics:
    """The analytics of one camera profile. Not thread-safe: one caller feeds it frames."""

    def __init__(
        self,
        profile: CameraProfile,
        emit: Emit,
        snapshots: SnapshotStore,
        *,
        start: float,
        faces: FaceDetector | None = None,
        people: PeopleDetector | None = None,
    ) -> None:
        self.profile = profile
        self.emit = emit
        self.snapshots = snapshots
        self.faces = faces or FaceDetector(min_size=profile.face_min_px)
        self.windows = {w.window_id: WindowPresence(profile.presence, start) for w in profile.windows}
        self.queue = QueueWatch(profile.queue.params) if profile.queue else None
        self.people = people or (PeopleDetector() if profile.queue else None)
        self.face_checks = 0
        self.people_counts = 0
        self._previous: Frame | None = None

    def states(self) -> dict[str, str]:
        """Decided state per window id (``unknown`` until the first decision)."""
        return {window_id: wp.state.value for window_id, wp in self.windows.items()}

    def _publish(self, type_: str, body: Body, now: float) -> Finding:
        finding = Finding(type_, body, events.iso(now))
        self.emit(type_, body, finding.ts)
        return finding

    def process(self, frame: Frame, now: float) -> list[Finding]:
        """Analyse one frame taken at ``now`` (epoch seconds); emit and return what it decided."""
        width, height = self.profile.size
        if frame.shape[1] != width or frame.shape[0] != height:
            frame = cast(Frame, cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
        gray = to_gray(frame)
        small = downscale(gray)
        jump = self._previous is not None and global_change(small, self._previous)
        found: list[Finding] = []
        snapshot: str | None = None
        for window in self.profile.windows:
            crop = window.rect.scaled(1 / DOWNSCALE).crop(small)

            def check_face(rect: Rect = window.rect) -> bool:
                self.face_checks += 1
                return bool(self.faces.faces(gray, rect))

            change = self.windows[window.window_id].step(now, crop, check_face, global_change=jump)
            if change is None:
                continue
            snapshot = snapshot or self.snapshots.save(frame)
            type_ = events.PRESENCE_PRESENT if change.state is State.PRESENT else events.PRESENCE_ABSENT
            body = events.presence_body(
                window_id=window.window_id, camera_id=self.profile.camera_id, at=change.since,
                confidence=change.confidence, snapshot_ref=snapshot,
            )
            found.append(self._publish(type_, body, now))
        if self.queue is not None and self.people is not None and self.profile.queue is not None:
            rect = self.profile.queue.rect
            motion = 0
            if self._previous is not None and not jump:
                small_rect = rect.scaled(1 / DOWNSCALE)
                motion = changed_pixels(
                    normalise(small_rect.crop(small)), normalise(small_rect.crop(self._previous)),
                    self.profile.presence.diff_threshold,
                )
            if self.queue.wants_count(now, motion):
                self.people_counts += 1
                alert = self.queue.update(now, len(self.people.people(frame, rect)))
                if alert is not None:
                    snapshot = snapshot or self.snapshots.save(frame)
                    body = events.queue_body(
                        hall_id=self.profile.hall_id, camera_id=self.profile.camera_id, at=now,
                        people=alert.people, snapshot_ref=snapshot,
                    )
                    found.append(self._publish(events.QUEUE_LONG, body, now))
        self._previous = small
        return found
