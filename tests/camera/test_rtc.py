"""WebRTC loopback: the camera track to a second peer in the same process, latency measured.

aioice does not offer 127.0.0.1 as a host candidate, so the test makes it the only one; there is
no STUN server (iceServers=[]), as on the intranet.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import cast

import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection
from av import VideoFrame

from agent.camera import stamp
from agent.camera.rtc import CameraTrack, publish, rtc_configuration
from agent.camera.synthetic import QueueCue, SceneScript, SyntheticScene


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


async def loopback(frames_wanted: int) -> tuple[list[int], str, int]:
    scene = SyntheticScene(script=SceneScript(queue=(QueueCue(0, 4),)))
    started = time.time()

    def latest() -> tuple[float, np.ndarray]:
        now = time.time()  # "glass": the scene is rendered and stamped as the track takes it
        return now, scene.render(now - started, stamp_ms=int(now * 1000))

    sender = RTCPeerConnection(rtc_configuration())
    receiver = RTCPeerConnection(rtc_configuration())
    track = CameraTrack(latest, fps=15)
    publish(sender, track)
    latencies: list[int] = []
    done = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def consume(remote: MediaStreamTrack) -> None:
        while len(latencies) < frames_wanted:
            frame = await remote.recv()
            image = cast(VideoFrame, frame).to_ndarray(format="bgr24")
            value = stamp.read(image)
            if value is not None:
                latencies.append(int(time.time() * 1000) - value)
        done.set()

    @receiver.on("track")
    def on_track(remote: MediaStreamTrack) -> None:
        tasks.append(asyncio.ensure_future(consume(remote)))

    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        answer = receiver.localDescription.sdp
        await asyncio.wait_for(done.wait(), 20)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await sender.close()
        await receiver.close()
    return latencies, answer, track.sent


def test_frames_with_timestamps_arrive_over_loopback() -> None:
    latencies, answer, sent = asyncio.run(loopback(45))
    assert len(latencies) == 45
    video = [line for line in answer.splitlines() if line.startswith("a=rtpmap:")]
    assert any("VP8/90000" in line for line in video)
    assert not any("H264" in line for line in video)  # VP8 only: what browsers all decode
    assert "stun:" not in answer
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(f"loopback latency over {len(ordered)} frames: p50 {p50} ms, p95 {p95} ms, {sent} sent")
    assert 0 <= ordered[0] and p95 <= 300  # the glass-to-glass bound, on loopback


def test_track_paces_stamps_and_marks_keyframes() -> None:
    from av.video.frame import PictureType

    image = np.full((480, 640, 3), 90, np.uint8)
    track = CameraTrack(lambda: (0.0, image), fps=30, keyframe_every_s=0.2, burn_stamp=True,
                        clock=lambda: 1_790_000_000.25)

    async def take(n: int) -> list[object]:
        return [await track.recv() for _ in range(n)]

    began = time.monotonic()
    frames = asyncio.run(take(13))
    elapsed = time.monotonic() - began
    assert 0.35 <= elapsed <= 1.5  # 12 frame periods of 1/30 s
    keyframes = [i for i, f in enumerate(frames) if f.pict_type == PictureType.I]  # type: ignore[attr-defined]
    assert keyframes == [0, 6, 12]
    pts = [f.pts for f in frames]  # type: ignore[attr-defined]
    assert pts[:3] == [0, 3000, 6000]  # 90 kHz clock at 30 fps
    decoded = frames[0].to_ndarray(format="bgr24")  # type: ignore[attr-defined]
    assert stamp.read(decoded) == 1_790_000_000_250
    assert stamp.read(image) is None  # the camera's own frame is not written on
