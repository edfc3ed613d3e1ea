"""Forwarding encoded VP8 frames through aiortc without decoding or re-encoding them.

aiortc has no public API for the encoded frames of a received track: its ``RTCRtpReceiver``
reassembles RTP packets into complete frames in a jitter buffer and puts each ``(codec, frame)``
on a queue that a decoder thread reads. :func:`tap_receiver` replaces that queue, before the
receiver starts, by one that hands the complete frames to the relay instead: the decoder thread
then idles until the receiver stops. What stays in aiortc is what a relay wants to keep: RTP
reassembly and reordering, NACKs for lost packets, RTCP reports, SRTP.

On the way out, aiortc's ``RTCRtpSender`` sends a track whose ``recv()`` returns ``av.Packet``
objects without encoding them: it only packetizes them for the negotiated codec (which must be
VP8, so both sides of the relay are set to VP8 only). :class:`ForwardTrack` is that track, fed
by one viewer's :class:`~hub.video.fanout.Outlet`.

So a viewer costs the hub RTP packetization and SRTP encryption of ~0.5 Mbit/s, not a VP8 encoder
(~2.4 ms of CPU per 640x480 frame) plus a decoder: that is what lets one hub serve a monitoring
room. ``MediaRelay`` (aiortc.contrib.media), the alternative, hands decoded frames to each viewer
and each viewer's sender encodes them again.

The tap relies on a private attribute of aiortc's receiver (checked on use: a version of aiortc
without it fails loudly here, and in tests/video, rather than decoding silently).
"""

from __future__ import annotations

import asyncio
import fractions
import queue
from collections.abc import Callable
from typing import Any

from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket
from av.packet import Packet

from hub.video.fanout import Outlet

TIME_BASE = fractions.Fraction(1, 90000)
_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
_THREAD_ATTR = "_RTCRtpReceiver__decoder_thread"
_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"

FrameSink = Callable[[bytes, int], None]
"""``sink(data, timestamp)``: a complete encoded frame and its RTP time (90 kHz, from 0)."""


class _FrameTap(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue: frames go to ``sink``; None (stop) goes through."""

    def __init__(self, sink: FrameSink) -> None:
        super().__init__()
        self._sink = sink

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None, block, timeout)  # ends the idle decoder thread, which ends the track
            return
        _codec, frame = item
        self._sink(bytes(frame.data), int(frame.timestamp))


def tap_receiver(receiver: RTCRtpReceiver, sink: FrameSink) -> None:
    """Send ``receiver``'s complete encoded frames to ``sink`` (on the event loop) instead of its
    decoder. Call before the connection starts (right after ``addTransceiver``)."""
    if not hasattr(receiver, _QUEUE_ATTR) or not hasattr(receiver, _THREAD_ATTR):
        raise RuntimeError(
            "this aiortc version has no RTCRtpReceiver decoder queue to tap; the video relay needs "
            "aiortc 1.x as pinned in setup.cfg (or falls back to decoding: see hub/video/forward.py)"
        )
    if getattr(receiver, _THREAD_ATTR) is not None:
        raise RuntimeError("tap_receiver() must be called before the receiver starts")
    setattr(receiver, _QUEUE_ATTR, _FrameTap(sink))
    if isinstance(getattr(receiver, _JITTER_ATTR, None), JitterBuffer):
        setattr(receiver, _JITTER_ATTR, MarkerJitterBuffer())


async def request_keyframe(receiver: RTCRtpReceiver) -> bool:
    """Ask the sender for a keyframe now (RTCP PLI); False if nothing was received yet."""
    sources = receiver.getSynchronizationSources()
    send_pli = getattr(receiver, "_send_rtcp_pli", None)
    if not sources or send_pli is None:
        return False
    await send_pli(sources[0].source)
    return True


class ForwardTrack(MediaStreamTrack):
    """A video track that yields one viewer's encoded frames as ``av.Packet`` (no re-encoding)."""

    kind = "video"

    def __init__(self, outlet: Outlet) -> None:
        super().__init__()
        self.outlet = outlet
        self._ready = asyncio.Event()

    def wake(self) -> None:
        """New frames (or the end) are there: call on the event loop after ``outlet.push``."""
        self._ready.set()

    async def recv(self) -> Packet:  # type: ignore[type-arg]
        while True:
            if self.readyState != "live" or self.outlet.closed:
                raise MediaStreamError
            frame = self.outlet.pop()
            if frame is not None:
                packet = Packet(frame.data)
                packet.pts = frame.pts
                packet.time_base = TIME_BASE
                return packet
            self._ready.clear()
            await self._ready.wait()

    def stop(self) -> None:
        self.outlet.close()
        self._ready.set()
        super().stop()


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer, but a frame is complete at its last packet (RTP marker bit)
    instead of at the first packet of the next frame: one frame interval (67 ms at 15 fps) less
    delay through the relay. Falls back to aiortc's rule when a marker was lost."""

    def __init__(self) -> None:
        super().__init__(capacity=512, is_video=True)

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        packets: list[RtpPacket] = []
        timestamp: int | None = None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]  # type: ignore[operator]
            if packet is None:
                return None
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:  # the next frame began: this one is complete
                self.remove(count)
                return JitterFrame(b"".join(p._data for p in packets), timestamp)  # type: ignore[attr-defined]
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                return JitterFrame(b"".join(p._data for p in packets), timestamp)  # type: ignore[attr-defined]
        return None
