"""The relay's objects: one :class:`CameraStream` per watched camera, its upstream :class:`Link` to
the agent (replaced when it fails), and its :class:`Viewer` peers. State only; the relay drives them.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCRtpReceiver

from hub.video.fanout import Fanout, Outlet
from hub.video.forward import ForwardTrack

FRAME_TICKS = 6000  # a gap of this many 90 kHz ticks (67 ms) is put between two links' frames


@dataclass(eq=False)
class Link:
    """One signalling session with the agent: the hub's receive-only peer connection."""

    session: str
    pc: RTCPeerConnection
    receiver: RTCRtpReceiver
    answered: asyncio.Future[None]
    created: float
    first_ts: int | None = None
    pts_base: int = 0
    closed: bool = False

    @property
    def accepted(self) -> bool:
        """The agent answered (and its answer was applied)."""
        return self.answered.done() and not self.answered.cancelled() and self.answered.exception() is None


@dataclass(eq=False)
class Viewer:
    """One browser tile: the hub's send-only peer connection with its own queue of frames."""

    id: str
    stream: CameraStream
    pc: RTCPeerConnection
    outlet: Outlet
    track: ForwardTrack
    user: str
    created: float
    connected: bool = False
    started_at: float = 0.0  # wall-clock time of the join (epoch seconds), for the audit log


@dataclass(eq=False)
class CameraStream:
    """One camera of one agent, received once, fanned out to ``viewers``.

    ``state``: ``connecting`` (the agent was asked), ``live`` (frames arrive), ``retrying`` (the
    upstream failed while viewers remain: it is asked again at ``retry_at``), ``closed``.
    """

    agent_id: str
    camera_id: str
    created: float
    fanout: Fanout = field(default_factory=Fanout)
    viewers: set[Viewer] = field(default_factory=set)
    link: Link | None = None
    state: str = "connecting"
    idle_since: float | None = None
    pending: int = 0  # watch requests in progress
    retries: int = 0
    retry_at: float | None = None
    next_pts: int = 0
    last_keyframe_request: float = 0.0
    last_error: str = ""
    links_opened: int = 0
    # rates, refreshed by the relay every few seconds
    rate_at: float = 0.0
    rate_frames: int = 0
    rate_bytes: int = 0
    fps: float = 0.0
    kbps: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.agent_id, self.camera_id)

    def pts_for(self, link: Link, timestamp: int) -> int:
        """A frame's time for the viewers: continuous across links (a new link starts at 0)."""
        if link.first_ts is None:
            link.first_ts = timestamp
            link.pts_base = self.next_pts
        pts = link.pts_base + (timestamp - link.first_ts)
        self.next_pts = max(self.next_pts, pts + FRAME_TICKS)
        return pts

    def schedule_retry(self, now: float, maximum: float, rng: random.Random) -> float:
        """When to ask the agent again: 1, 2, 4 … s capped at ``maximum``, half of it jitter."""
        ceiling = min(maximum, 2.0 ** min(self.retries, 10))
        delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
        self.retries += 1
        self.retry_at = now + delay
        self.state = "retrying"
        return delay

    def refresh_rates(self, now: float) -> None:
        elapsed = now - self.rate_at
        if self.rate_at and elapsed > 0:
            self.fps = (self.fanout.frames - self.rate_frames) / elapsed
            self.kbps = (self.fanout.bytes - self.rate_bytes) * 8 / 1000 / elapsed
        self.rate_at, self.rate_frames, self.rate_bytes = now, self.fanout.frames, self.fanout.bytes
