"""The fan-out core (pure): keyframe-aligned starts, bounded per-viewer queues, VP8 keyframe test."""

from __future__ import annotations

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.video.fanout import EncodedFrame, Fanout, Outlet, is_vp8_keyframe


def frame(key: bool, n: int = 0) -> EncodedFrame:
    return EncodedFrame(b"k" if key else b"d", n * 6000, key, float(n))


def vp8_frames(count: int) -> list[bytes]:
    """Real VP8 frames from libvpx: a keyframe, then deltas."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = 64, 48, "yuv420p"
    codec.options = {"deadline": "realtime", "lag-in-frames": "0"}
    out: list[bytes] = []
    for i in range(count):
        image = np.full((48, 64, 3), (i * 20) % 255, np.uint8)
        video = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        video.pts = i
        out += [bytes(p) for p in codec.encode(video)]
    out += [bytes(p) for p in codec.encode(None)]
    return out


def test_vp8_keyframes_are_recognised() -> None:
    frames = vp8_frames(4)
    assert [is_vp8_keyframe(f) for f in frames] == [True, False, False, False]
    assert not is_vp8_keyframe(b"")
    assert not is_vp8_keyframe(b"\x00" * 20)  # key bit clear, but no start code


def test_a_new_outlet_starts_at_a_keyframe() -> None:
    outlet = Outlet(capacity=4)
    assert not outlet.push(frame(False, 1))
    assert outlet.push(frame(True, 2))
    assert outlet.push(frame(False, 3))
    assert [outlet.pop(), outlet.pop(), outlet.pop()] == [frame(True, 2), frame(False, 3), None]
    assert (outlet.skipped, outlet.delivered) == (1, 2)


def test_an_outlet_that_falls_behind_restarts_at_the_next_keyframe() -> None:
    outlet = Outlet(capacity=3)
    for n, key in enumerate([True, False, False]):
        assert outlet.push(frame(key, n))
    assert not outlet.push(frame(False, 3))  # full: emptied, waits for a keyframe
    assert outlet.overflows == 1 and outlet.pop() is None
    assert outlet.push(frame(True, 4))
    assert outlet.pop() == frame(True, 4)


def test_a_closed_outlet_takes_nothing() -> None:
    outlet = Outlet()
    outlet.close()
    assert not outlet.push(frame(True))
    with pytest.raises(ValueError):
        Outlet(capacity=0)


def test_fanout_counts_and_wants_keyframes_for_waiting_viewers() -> None:
    fan = Fanout()
    a, b = Outlet(), Outlet()
    fan.add(a)
    assert fan.publish(frame(True, 0)) == 1
    fan.add(b)
    assert fan.wants_keyframe()
    assert fan.publish(frame(False, 1)) == 1  # b waits
    assert fan.publish(frame(True, 2)) == 2
    assert not fan.wants_keyframe()
    fan.remove(b)
    assert b.closed and fan.publish(frame(False, 3)) == 1
    assert (fan.frames, fan.keyframes, fan.bytes, fan.last_frame_at) == (4, 2, 4, 3.0)


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3)), max_size=200), st.integers(1, 8))
def test_outlet_never_starts_mid_stream_and_stays_bounded(steps: list[tuple[bool, int]], capacity: int) -> None:
    """Whatever arrives and however slowly the viewer reads: the queue stays within its capacity,
    and every run of delivered frames after a (re)start begins with a keyframe."""
    outlet = Outlet(capacity)
    expect_key = True
    overflows = 0
    for n, (key, reads) in enumerate(steps):
        outlet.push(frame(key, n))
        assert len(outlet.frames) <= capacity
        if outlet.overflows != overflows:
            overflows, expect_key = outlet.overflows, True
        for _ in range(reads):
            got = outlet.pop()
            if got is None:
                break
            if expect_key:
                assert got.keyframe
                expect_key = False
