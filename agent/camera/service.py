"""The agent's cameras, wired into the agent: records, heartbeat, live video.

    cameras = CameraService.from_config(config, agent.outbox, agent.uplink)
    cameras.start()      # before the uplink: the first heartbeat already lists the cameras
    ...
    cameras.stop()

- Each configured profile (``agent.yaml`` → ``cameras:``) runs a :class:`CameraPipeline`; its
  ``presence.*`` / ``queue.long`` events become records in the outbox (signed, delivered, acked
  like any other).
- Every change of a camera's feed (ok → stale → dead → ok …) becomes an ``agent.health`` record
  ``{"kind": "camera_feed", "camera_id", "feed", "reason", "attempts", "connections"}``, and the
  current state of every camera rides on each heartbeat (``cameras: [...]``) — the hub's video
  wall draws its tiles and badges from that.
- The :class:`VideoPublisher` answers the hub relay's requests for live video, through the
  uplink (the one owner of MQTT publishing) as non-durable side messages.
- The hub's requests for an evidence snapshot (``rtc/down/snapshot``, :mod:`shared.snapshotsignal`)
  are answered with the JPEG's bytes in parts (``rtc/up/snapshot``); the hub checks their SHA-256.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agent.camera.config import CameraProfile, load_profile
from agent.camera.events import Body, iso
from agent.camera.pipeline import CameraPipeline
from agent.camera.publisher import CameraFeed, VideoPublisher
from agent.camera.snapshot import SnapshotError, snapshot_path
from agent.camera.watchdog import FeedStatus
from commonio.rtcloop import use_host_addresses
from shared import snapshotsignal, topics
from shared.errors import OutboxFullError, RecordError

if TYPE_CHECKING:
    from agent.config import AgentConfig

log = logging.getLogger("xiaoneng.agent.cameras")
CAMERA_FEED = "camera_feed"
#: A camera's reason in the heartbeat is cut to this many characters (a dead RTSP camera's
#: reason, with its address and the socket error, is ~100; the record of the change keeps it whole).
HEARTBEAT_REASON_CHARS = 80


class RecordSink(Protocol):
    """Where records go (the agent's :class:`~agent.outbox.Outbox`)."""

    def append(self, type_: str, ts: str, body: dict[str, Any]) -> int: ...


class UplinkPort(Protocol):
    """What the cameras use of the agent's :class:`~agent.uplink.Uplink`."""

    def publish_side(self, topic: str, payload: bytes, qos: int = 0) -> None: ...

    def on_topic(self, prefix: str, handler: Callable[[str, bytes], None]) -> None: ...

    def add_health_provider(self, provider: Callable[[], dict[str, Any]]) -> None: ...


class CameraService:
    """Pipelines, records, heartbeat and live video of an agent's cameras."""

    def __init__(
        self,
        agent_id: str,
        profiles: list[CameraProfile],
        snapshot_dir: Path,
        records: RecordSink,
        uplink: UplinkPort,
        *,
        lease_s: float = 20.0,
        ice_addresses: list[str] | None = None,
        ice_ports: tuple[int, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.agent_id = agent_id
        self.profiles = {p.camera_id: p for p in profiles}
        self.records = records
        self.uplink = uplink
        self.clock = clock
        self.ice_addresses = ice_addresses
        self.snapshot_dir = Path(snapshot_dir)
        self.refused = 0  # records the outbox refused (full): logged, counted, in the heartbeat
        self._feeds: dict[str, str] = {}  # the feed state last recorded, per camera
        self.pipelines = {
            p.camera_id: CameraPipeline(p, self._emit, Path(snapshot_dir) / p.camera_id, clock=clock,
                                        on_status=partial(self._feed_changed, p.camera_id))
            for p in profiles
        }
        feeds = {cid: CameraFeed(cid, pipe.latest, pipe.profile.fps, pipe.profile.size)
                 for cid, pipe in self.pipelines.items()}
        self.publisher = VideoPublisher(feeds, self._send, lease_s=lease_s, ports=ice_ports)

    @classmethod
    def from_config(cls, config: AgentConfig, records: RecordSink, uplink: UplinkPort) -> CameraService:
        """The cameras of ``agent.yaml`` (profile paths relative to its folder)."""
        profiles = [load_profile(config.path(entry)) for entry in config.cameras]
        v = config.video
        return cls(
            config.agent_id, profiles, config.path(config.data_dir) / "snapshots", records, uplink,
            lease_s=v.lease_s, ice_addresses=v.ice_addresses,
            ice_ports=None if v.ice_ports is None else (v.ice_ports[0], v.ice_ports[1]),
        )

    def start(self) -> None:
        if self.ice_addresses is not None:
            use_host_addresses(self.ice_addresses)
        self.uplink.on_topic(topics.rtc(self.agent_id, "down/"), self._on_signal)
        self.uplink.add_health_provider(self.health)
        for pipeline in self.pipelines.values():
            pipeline.start()
        self.publisher.start()
        log.info("cameras started", extra={"cameras": sorted(self.pipelines)})

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the video sessions, then the cameras; True if every thread ended in time."""
        ended = self.publisher.stop(timeout)
        for pipeline in self.pipelines.values():
            ended = pipeline.stop(timeout) and ended
        return ended

    def health(self) -> dict[str, Any]:
        """Heartbeat fields: every camera with its feed state and whether it is being streamed.

        Compact, so that an agent with many cameras fits the hub's heartbeat limit whole (64
        cameras ≈ 10 KiB, see :data:`HEARTBEAT_REASON_CHARS`): the wall's fields (id, hall,
        windows, feed, reason) always; ``attempts`` / ``connections`` only when not 0 and
        ``streaming`` only when true; the reason cut to :data:`HEARTBEAT_REASON_CHARS` characters
        (the whole reason is in the ``agent.health`` record of every feed change)."""
        streaming = self.publisher.streaming()
        cameras = []
        for camera_id, pipeline in self.pipelines.items():
            status = pipeline.status
            profile = pipeline.profile
            camera: dict[str, Any] = {
                "camera_id": camera_id,
                "hall_id": profile.hall_id,
                "windows": [w.window_id for w in profile.windows],
                "feed": status.state.value if status is not None else "dead",
                "reason": (status.reason if status is not None else "not started")[:HEARTBEAT_REASON_CHARS],
            }
            if status is not None and status.attempts:
                camera["attempts"] = status.attempts
            if status is not None and status.connections:
                camera["connections"] = status.connections
            if camera_id in streaming:
                camera["streaming"] = True
            cameras.append(camera)
        health: dict[str, Any] = {"cameras": cameras}
        if self.refused:
            health["camera_records_refused"] = self.refused
        return health

    # -- callbacks ------------------------------------------------------------------------------

    def _append(self, type_: str, ts: str, body: dict[str, Any]) -> None:
        try:
            self.records.append(type_, ts, body)
        except OutboxFullError as exc:
            self.refused += 1
            log.error("camera record refused: the outbox is full", extra={"type": type_, "error": str(exc)})

    def _emit(self, type_: str, body: Body, ts: str) -> None:
        """Pipeline thread: a presence / queue event becomes a record."""
        self._append(type_, ts, dict(body))

    def _feed_changed(self, camera_id: str, status: FeedStatus) -> None:
        """Pipeline thread: the watchdog's status changed. A change of *state* (ok / stale / dead)
        becomes a record; a dead camera's every failed reconnection does not (the heartbeat has it)."""
        if self._feeds.get(camera_id) == status.state.value:
            return
        self._feeds[camera_id] = status.state.value
        self._append("agent.health", iso(self.clock()), {"kind": CAMERA_FEED, **status.body(camera_id)})

    def _on_signal(self, topic: str, payload: bytes) -> None:
        """Uplink thread: a video signalling message from the hub (handed over, never blocks)."""
        leaf = topic.rsplit("/", 1)[-1]
        if leaf == snapshotsignal.LEAF:
            self._send_snapshot(payload)
        else:
            self.publisher.handle(leaf, payload)

    def find_snapshot(self, ref: str) -> Path | None:
        """The file of snapshot ``ref`` in any camera's folder, or None."""
        for camera_id in self.pipelines:
            try:
                path = snapshot_path(self.snapshot_dir / camera_id, ref)
            except SnapshotError:
                return None
            if path.is_file():
                return path
        return None

    def _send_snapshot(self, payload: bytes) -> None:
        """The hub asks for an evidence JPEG: send its bytes as stored, in parts (the hub checks
        them against the signed record's hash), or say why not."""
        try:
            request = snapshotsignal.Request.parse(payload)
        except RecordError as exc:
            log.warning("ignored a malformed snapshot request", extra={"error": str(exc)})
            return
        path = self.find_snapshot(request.ref)
        if path is None:
            parts = [snapshotsignal.Part(request.request, request.ref, error="not_found",
                                         detail=f"no snapshot {request.ref} on agent {self.agent_id} "
                                                "(deleted, or taken by another agent)")]
        else:
            try:
                parts = snapshotsignal.split(request.request, request.ref, path.read_bytes())
            except OSError as exc:
                parts = [snapshotsignal.Part(request.request, request.ref, error="unreadable", detail=str(exc))]
        log.info("snapshot requested", extra={"ref": request.ref, "found": path is not None, "parts": len(parts)})
        for part in parts:
            self.uplink.publish_side(topics.rtc(self.agent_id, f"up/{snapshotsignal.LEAF}"), bytes(part), qos=1)

    def _send(self, leaf: str, payload: bytes) -> None:
        self.uplink.publish_side(topics.rtc(self.agent_id, leaf), payload, qos=1)
