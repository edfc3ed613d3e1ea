"""One camera's encoded frames to many viewers (pure: no sockets, no asyncio, no aiortc).

The relay receives each camera once and hands every complete VP8 frame to a :class:`Fanout`,
which keeps one :class:`Outlet` (a short queue) per viewer. A viewer can only start decoding at a
keyframe, so a new outlet skips frames until the next one (the agent sends one every second, and
the relay asks for one at once when a viewer joins). An outlet that falls behind (its queue full:
the viewer's sender is stalled) is emptied and restarts at the next keyframe: a viewer sees a
short freeze, never a growing delay, and never holds memory for the others.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """A complete VP8 frame as received: payload bytes, RTP time (90 kHz), keyframe flag."""

    data: bytes
    pts: int
    keyframe: bool
    received: float  # monotonic seconds at the relay


def is_vp8_keyframe(data: bytes) -> bool:
    """Whether ``data`` is a VP8 key frame (RFC 6386 §9.1: frame tag bit 0 is 0, then the start
    code 9d 01 2a)."""
    return len(data) >= 10 and not data[0] & 0x01 and data[3:6] == b"\x9d\x01\x2a"


class Outlet:
    """One viewer's queue of frames (see the module docstring)."""

    def __init__(self, capacity: int = 30) -> None:
        if capacity < 1:
            raise ValueError("an outlet holds at least one frame")
        self.capacity = capacity
        self.frames: deque[EncodedFrame] = deque()
        self.waiting_for_keyframe = True
        self.delivered = 0
        self.skipped = 0
        self.overflows = 0
        self.closed = False

    def push(self, frame: EncodedFrame) -> bool:
        """Queue ``frame``; False if it was skipped (waiting for a keyframe, or closed)."""
        if self.closed:
            return False
        if len(self.frames) >= self.capacity:
            self.frames.clear()
            self.overflows += 1
            self.waiting_for_keyframe = True
        if self.waiting_for_keyframe and not frame.keyframe:
            self.skipped += 1
            return False
        self.waiting_for_keyframe = False
        self.frames.append(frame)
        return True

    def pop(self) -> EncodedFrame | None:
        """The oldest queued frame, or None."""
        if not self.frames:
            return None
        self.delivered += 1
        return self.frames.popleft()

    def close(self) -> None:
        self.closed = True
        self.frames.clear()


class Fanout:
    """Every frame of one upstream to every outlet; counts what came in."""

    def __init__(self) -> None:
        self.outlets: set[Outlet] = set()
        self.frames = 0
        self.keyframes = 0
        self.bytes = 0
        self.last_frame_at: float | None = None

    def add(self, outlet: Outlet) -> None:
        self.outlets.add(outlet)

    def remove(self, outlet: Outlet) -> None:
        self.outlets.discard(outlet)
        outlet.close()

    def publish(self, frame: EncodedFrame) -> int:
        """Hand ``frame`` to every outlet; returns how many queued it."""
        self.frames += 1
        self.bytes += len(frame.data)
        self.keyframes += frame.keyframe
        self.last_frame_at = frame.received
        return sum(outlet.push(frame) for outlet in self.outlets)

    def wants_keyframe(self) -> bool:
        """Whether some outlet waits for a keyframe (the relay may ask the agent for one)."""
        return any(o.waiting_for_keyframe and not o.closed for o in self.outlets)
