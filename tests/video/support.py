"""Test helpers: an in-memory signalling wire between relay and agents, stamped camera feeds, and
aiortc viewers that read the timestamp burnt into each frame."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from av import VideoFrame

from agent.camera import stamp
from agent.camera.publisher import CameraFeed, VideoPublisher
from agent.camera.synthetic import SyntheticScene
from hub.video.relay import VideoRelay
from shared import topics


def stamped_feed(camera_id: str, fps: int = 15) -> CameraFeed:
    """A synthetic hall whose frames carry the time they were taken (ms), burnt in as a barcode."""
    scene = SyntheticScene()
    started = time.time()

    def latest() -> tuple[float, np.ndarray]:
        now = time.time()
        return now, scene.render(now - started, stamp_ms=int(now * 1000))

    return CameraFeed(camera_id, latest, fps, (640, 480))


class Wire:
    """Stands in for the broker between a relay and agents (``cut`` drops everything down)."""

    def __init__(self) -> None:
        self.relay: VideoRelay | None = None
        self.agents: dict[str, VideoPublisher] = {}
        self.cut: set[str] = set()
        self.down: list[tuple[str, str]] = []
        self.up: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def hub_publish(self, topic: str, payload: bytes, qos: int) -> None:
        agent_id = topics.agent_of(topic) or ""
        leaf = topic.rsplit("/", 1)[-1]
        with self._lock:
            self.down.append((agent_id, leaf))
        publisher = self.agents.get(agent_id)
        if publisher is not None and agent_id not in self.cut:
            publisher.handle(leaf, payload)

    def agent_send(self, agent_id: str) -> Callable[[str, bytes], None]:
        def send(leaf: str, payload: bytes) -> None:
            with self._lock:
                self.up.append((agent_id, leaf))
            if self.relay is not None and agent_id not in self.cut:
                self.relay.on_rtc(agent_id, leaf.split("/", 1)[1], payload)

        return send

    def count(self, direction: str, leaf: str) -> int:
        with self._lock:
            return sum(1 for _a, lf in (self.down if direction == "down" else self.up) if lf == leaf)


@dataclass
class ViewerResult:
    viewer_id: str = ""
    latencies: list[int] = field(default_factory=list)
    frames: int = 0


async def watch(relay: VideoRelay, agent_id: str, camera_id: str, frames_wanted: int,
                timeout: float = 30.0, *, known_online: bool = False) -> ViewerResult:
    """An aiortc browser stand-in: offer, join through ``relay.watch``, read ``frames_wanted``
    stamped frames, leave."""
    result = ViewerResult()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    done = asyncio.get_running_loop().create_future()
    tasks: list[asyncio.Task[None]] = []

    async def consume(track: MediaStreamTrack) -> None:
        while len(result.latencies) < frames_wanted:
            frame = cast(VideoFrame, await track.recv())
            result.frames += 1
            value = stamp.read(frame.to_ndarray(format="bgr24"))
            if value is not None:
                result.latencies.append(int(time.time() * 1000) - value)
        if not done.done():
            done.set_result(None)

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        tasks.append(asyncio.ensure_future(consume(track)))

    try:
        await pc.setLocalDescription(await pc.createOffer())
        loop = asyncio.get_running_loop()
        result.viewer_id, answer = await loop.run_in_executor(
            None, lambda: relay.watch(agent_id, camera_id, pc.localDescription.sdp, known_online=known_online))
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await asyncio.wait_for(done, timeout)
        await loop.run_in_executor(None, relay.leave, result.viewer_id)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pc.close()
    return result


def percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]
