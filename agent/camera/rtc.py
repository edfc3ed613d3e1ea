"""The camera's WebRTC publisher (aiortc): one VP8 track per camera, no STUN (intranet).

    pc = RTCPeerConnection(rtc_configuration())
    publish(pc, CameraTrack(pipeline.latest, fps=15))
    ... offer/answer over the signalling channel (MQTT, owned by the agent's link) ...

:class:`CameraTrack` paces itself at the camera's frame rate, always sends the newest frame (a slow
link skips frames rather than building latency), marks one frame per second as a keyframe so that a
viewer joining through the hub's relay sees a picture within a second, and can burn a
machine-readable send timestamp into each frame (:mod:`agent.camera.stamp`) for latency checks.
aiortc's VP8 encoder targets 500 kbit/s (its default), which suits 640x480 at 15 fps.

The publisher encodes once per camera: it has one peer, the hub, which forwards the encoded packets
to the browsers that watch (see the hub's relay), so the agent's CPU does not grow with viewers.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCRtpTransceiver,
    VideoStreamTrack,
)
from av import VideoFrame
from av.video.frame import PictureType

from agent.camera import stamp

Frame = npt.NDArray[np.uint8]
LatestFrame = Callable[[], tuple[float, Frame] | None]
VIDEO_CLOCK_RATE = 90000
TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)


def rtc_configuration() -> RTCConfiguration:
    """No ICE servers at all: aiortc would otherwise ask a public STUN server (no internet here)."""
    return RTCConfiguration(iceServers=[])


def vp8_codecs() -> list[RTCRtpCodecCapability]:
    """The VP8 codec (and its retransmission format) from aiortc's video capabilities."""
    codecs = RTCRtpSender.getCapabilities("video").codecs
    return [c for c in codecs if c.mimeType.lower() in ("video/vp8", "video/rtx")]


class CameraTrack(VideoStreamTrack):
    """A video track fed by a camera's newest frame (e.g. ``CameraPipeline.latest``)."""

    def __init__(
        self,
        latest: LatestFrame,
        *,
        fps: int = 15,
        size: tuple[int, int] = (640, 480),
        keyframe_every_s: float = 1.0,
        burn_stamp: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.latest = latest
        self.fps = fps
        self.size = size
        self.keyframe_every = max(1, round(keyframe_every_s * fps))
        self.burn_stamp = burn_stamp
        self.clock = clock
        self.sent = 0
        self._epoch: float | None = None
        self._blank: Frame = np.zeros((size[1], size[0], 3), np.uint8)

    async def recv(self) -> VideoFrame:
        """The next frame, at ``fps`` (aiortc's base class would pace at 30)."""
        loop_time = time.monotonic()
        if self._epoch is None:
            self._epoch = loop_time
        due = self._epoch + self.sent / self.fps
        if due > loop_time:
            await asyncio.sleep(due - loop_time)
        elif loop_time - due > 1.0:  # far behind (a stall): resynchronise instead of bursting
            self._epoch = loop_time - self.sent / self.fps
        got = self.latest()
        image = got[1] if got is not None else self._blank
        if self.burn_stamp:
            image = image.copy()
            stamp.burn(image, int(self.clock() * 1000))
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = round(self.sent * VIDEO_CLOCK_RATE / self.fps)
        frame.time_base = TIME_BASE
        if self.sent % self.keyframe_every == 0:
            frame.pict_type = PictureType.I  # libvpx turns this into a forced keyframe
        self.sent += 1
        return frame


def publish(pc: RTCPeerConnection, track: CameraTrack) -> RTCRtpTransceiver:
    """Add ``track`` to ``pc`` as a send-only VP8 video transceiver (call before the offer)."""
    transceiver = pc.addTransceiver(track, direction="sendonly")
    transceiver.setCodecPreferences(vp8_codecs())
    return transceiver
