"""The aiortc adapters of the relay: the marker-bit jitter buffer and the receiver tap."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtp import RtpPacket

from hub.video.fanout import EncodedFrame, Outlet
from hub.video.forward import ForwardTrack, MarkerJitterBuffer, tap_receiver


def packet(seq: int, ts: int, data: bytes, marker: bool = False) -> RtpPacket:
    p = RtpPacket(payload_type=97, sequence_number=seq, timestamp=ts, marker=int(marker))
    p._data = data  # type: ignore[attr-defined]  # what the receiver's depayloader leaves there
    return p


def test_a_frame_is_complete_at_its_marker_packet() -> None:
    jb = MarkerJitterBuffer()
    assert jb.add(packet(100, 3000, b"a")) == (False, None)
    pli, got = jb.add(packet(101, 3000, b"b", marker=True))
    assert not pli and got is not None and (got.data, got.timestamp) == (b"ab", 3000)
    _, got = jb.add(packet(102, 6000, b"c", marker=True))
    assert got is not None and got.data == b"c"


def test_a_frame_waits_for_a_missing_packet() -> None:
    jb = MarkerJitterBuffer()
    jb.add(packet(100, 3000, b"a"))
    assert jb.add(packet(102, 3000, b"c", marker=True)) == (False, None)  # 101 is missing: NACKed
    _, got = jb.add(packet(101, 3000, b"b"))  # the retransmission completes it
    assert got is not None and got.data == b"abc"


def test_without_a_marker_the_next_frame_completes_it() -> None:
    jb = MarkerJitterBuffer()
    jb.add(packet(100, 3000, b"a"))
    jb.add(packet(101, 3000, b"b"))  # the marker packet of this frame never came
    _, got = jb.add(packet(102, 6000, b"c"))
    assert got is not None and (got.data, got.timestamp) == (b"ab", 3000)


def test_tap_refuses_an_unknown_receiver_and_a_started_one() -> None:
    with pytest.raises(RuntimeError, match="no RTCRtpReceiver decoder queue to tap"):
        tap_receiver(SimpleNamespace(), lambda data, ts: None)  # type: ignore[arg-type]

    async def started() -> None:
        pc = RTCPeerConnection()
        receiver = pc.addTransceiver("video", direction="recvonly").receiver
        tap_receiver(receiver, lambda data, ts: None)  # fine before the connection starts
        receiver._RTCRtpReceiver__decoder_thread = object()  # type: ignore[attr-defined]
        try:
            with pytest.raises(RuntimeError, match="before the receiver starts"):
                tap_receiver(receiver, lambda data, ts: None)
        finally:
            receiver._RTCRtpReceiver__decoder_thread = None  # type: ignore[attr-defined]
            await pc.close()

    asyncio.run(started())


def test_forward_track_yields_packets_and_ends_with_its_outlet() -> None:
    from aiortc.mediastreams import MediaStreamError

    async def run() -> None:
        outlet = Outlet()
        track = ForwardTrack(outlet)
        outlet.push(EncodedFrame(b"\x10\x02\x00\x9d\x01\x2a" + b"\x00" * 10, 9000, True, 0.0))
        packet = await track.recv()
        assert bytes(packet)[:1] == b"\x10" and packet.pts == 9000 and packet.time_base.denominator == 90000
        waiting = asyncio.ensure_future(track.recv())
        await asyncio.sleep(0)
        track.stop()
        with pytest.raises(MediaStreamError):
            await waiting

    asyncio.run(run())
