"""Evidence snapshots on demand: the hub's SnapshotFetcher asks the agent's CameraService over the
signalling topics (an in-memory wire here), gathers the parts, and returns the JPEG only if its
SHA-256 is the signed record's ``snapshot_ref``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.camera.config import load_profile
from agent.camera.service import CameraService
from agent.camera.snapshot import encode_jpeg, save_snapshot, snapshot_path
from hub.video.errors import AgentTimeout, SnapshotMismatch, SnapshotMissing
from hub.video.relay import VideoRelay
from hub.video.service import collect
from hub.video.snapshots import SnapshotFetcher
from shared import snapshotsignal, topics

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "firmware_configs" / "cameras" / "demo-hall-cam1.yaml"
AGENT = "agent-1"


class Link:
    """The broker between the hub's fetcher and one agent's camera service (``cut``: nothing passes)."""

    def __init__(self) -> None:
        self.fetcher = SnapshotFetcher(self.hub_publish)
        self.service: CameraService | None = None
        self.cut = False
        self.up: list[bytes] = []
        self.tamper: Callable[[bytes], bytes] | None = None

    def hub_publish(self, topic: str, payload: bytes, qos: int) -> None:
        assert topics.agent_of(topic) == AGENT and topic.endswith("/rtc/down/snapshot") and qos == 1
        if not self.cut and self.service is not None:  # delivered on another thread, as paho does
            threading.Thread(target=self.service._on_signal, args=(topic, payload)).start()

    # the agent's uplink
    def publish_side(self, topic: str, payload: bytes, qos: int = 0) -> None:
        assert topic == topics.rtc(AGENT, "up/snapshot")
        self.up.append(payload)
        self.fetcher.on_rtc(AGENT, "snapshot", self.tamper(payload) if self.tamper else payload)

    def on_topic(self, prefix: str, handler: Callable[[str, bytes], None]) -> None:
        pass

    def add_health_provider(self, provider: Callable[[], dict[str, Any]]) -> None:
        pass


class NoRecords:
    def append(self, type_: str, ts: str, body: dict[str, Any]) -> int:
        return 0


@pytest.fixture
def link(tmp_path: Path) -> Iterator[Link]:
    link = Link()
    link.service = CameraService(AGENT, [load_profile(DEMO)], tmp_path / "snapshots", NoRecords(), link)
    link.service.publisher.rtc.loop.close()  # never started: no live video here
    yield link


def noisy_jpeg() -> bytes:
    """A JPEG of ~100 KB: several parts on the wire."""
    frame = np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    return encode_jpeg(frame, 90)


def test_a_snapshot_is_fetched_in_parts_and_verified(link: Link, tmp_path: Path) -> None:
    jpeg = noisy_jpeg()
    ref = save_snapshot(tmp_path / "snapshots" / "demo-hall-cam1", jpeg)
    assert link.fetcher.fetch(AGENT, ref, timeout=10) == jpeg
    parts = [snapshotsignal.Part.parse(p) for p in link.up]
    assert len(parts) == -(-len(jpeg) // snapshotsignal.PART_BYTES) >= 3
    assert all(len(p) < 68 * 1024 for p in link.up)  # within the hub's signalling limit
    assert link.fetcher.fetched == 1


def test_a_tampered_snapshot_is_refused(link: Link, tmp_path: Path) -> None:
    jpeg = noisy_jpeg()
    ref = save_snapshot(tmp_path / "snapshots" / "demo-hall-cam1", jpeg)
    path = snapshot_path(tmp_path / "snapshots" / "demo-hall-cam1", ref)
    altered = bytearray(jpeg)
    altered[5000] ^= 0xFF  # one byte of the file changed on the agent's disk
    path.write_bytes(bytes(altered))
    with pytest.raises(SnapshotMismatch, match="does not match the signed record"):
        link.fetcher.fetch(AGENT, ref, timeout=10)
    assert link.fetcher.refused == 1


def test_a_snapshot_altered_on_the_way_is_refused(link: Link, tmp_path: Path) -> None:
    ref = save_snapshot(tmp_path / "snapshots" / "demo-hall-cam1", noisy_jpeg())

    def swap(payload: bytes) -> bytes:
        part = snapshotsignal.Part.parse(payload)
        return bytes(snapshotsignal.Part(part.request, part.ref, part.part, part.parts, part.data[::-1]))

    link.tamper = swap
    with pytest.raises(SnapshotMismatch):
        link.fetcher.fetch(AGENT, ref, timeout=10)


def test_a_missing_snapshot_and_a_silent_agent_are_said_in_words(link: Link) -> None:
    ref = "ab" * 32
    with pytest.raises(SnapshotMissing, match=f"no snapshot {ref} on agent {AGENT}"):
        link.fetcher.fetch(AGENT, ref, timeout=10)
    link.cut = True
    with pytest.raises(AgentTimeout, match="did not send snapshot .* within 1 s: it may be offline"):
        link.fetcher.fetch(AGENT, ref, timeout=1)


def test_another_agent_cannot_answer_for_this_one(link: Link, tmp_path: Path) -> None:
    ref = save_snapshot(tmp_path / "snapshots" / "demo-hall-cam1", b"\xff\xd8 not much of a jpeg \xff\xd9")
    link.cut = True
    sent: list[bytes] = []
    link.fetcher.publish = lambda topic, payload, qos: sent.append(payload)
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.setdefault("error", _fetch_error(link, ref)))
    thread.start()
    while not sent:
        thread.join(0.01)
    request = snapshotsignal.Request.parse(sent[0])
    forged = snapshotsignal.Part(request.request, ref, 0, 1, b"forged")
    link.fetcher.on_rtc("agent-2", "snapshot", bytes(forged))  # ignored: not the agent asked
    thread.join(5)
    assert isinstance(result["error"], AgentTimeout)


def _fetch_error(link: Link, ref: str) -> Exception | None:
    try:
        link.fetcher.fetch(AGENT, ref, timeout=1)
    except Exception as exc:  # noqa: BLE001 - returned to the test
        return exc
    return None


def test_snapshot_outcomes_are_in_the_metrics() -> None:
    relay = VideoRelay(lambda topic, payload, qos: None)
    try:
        relay.snapshots.fetched, relay.snapshots.refused = 3, 1
        (family,) = [f for f in collect(relay) if f.name == "xiaoneng_video_snapshots_total"]
        text = family.render()
        assert 'xiaoneng_video_snapshots_total{outcome="shown"} 3' in text
        assert 'xiaoneng_video_snapshots_total{outcome="refused"} 1' in text
    finally:
        relay.rtc.loop.close()
