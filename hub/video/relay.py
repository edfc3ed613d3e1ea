"""The hub's video relay: one upstream per camera from the agent, fanned out to browser viewers.

    relay = VideoRelay(publish, config)          # publish(topic, payload, qos): the hub's MQTT
    relay.start()
    ingest.rtc_handlers.append(relay.on_rtc)     # agent → hub signalling
    ingest.listeners.append(relay.on_event)      # agents going offline / online
    viewer_id, answer_sdp = relay.watch("agent-1", "cam1", browser_offer_sdp)   # from a web thread
    relay.leave(viewer_id)
    relay.stop()

**Forwarding, not transcoding.** The upstream's complete VP8 frames are taken from aiortc's
receiver before its decoder (:mod:`hub.video.forward`) and queued, per viewer, for a sender that
packetizes them as they are. The agent encodes once per camera; the hub encodes nothing. The cost
per viewer is RTP packetization and SRTP (see bench/video.py), and every viewer sees the same
picture quality as the agent sent. The price: viewers cannot get a lower bitrate or resolution
than the upstream (fine on an intranet; a thumbnail grid of many cameras would want the agent to
send a second, smaller stream), and a viewer that loses packets waits for the next keyframe (at
most a second: the agent sends one every second, and the relay asks for one — RTCP PLI — as soon
as a viewer joins).

**Lifecycle.** The first viewer of a camera makes the relay offer a receive-only VP8 session to
the agent over MQTT (:mod:`shared.rtcsignal`) and wait up to ``answer_timeout_s`` for the answer;
later viewers join the running upstream. When the upstream fails while viewers remain, it is asked
again with backoff and the viewers keep their connection (their picture resumes at the next
keyframe). When the last viewer leaves, the upstream is stopped after ``grace_s`` (a page reload
or a tile scrolled back into view reuses it). Sessions are renewed at the agent every
``keepalive_s``; an agent that stops hearing them ends the session itself.

Everything aiortc does runs on the relay's own asyncio thread; the public methods are thread-safe
and the only blocking one is :meth:`watch` (bounded by the answer timeout).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpCodecCapability, RTCRtpSender, RTCSessionDescription

from commonio.rtcloop import RtcLoop, release_memory, use_host_addresses
from hub.video.config import RelayConfig
from hub.video.errors import (
    AgentFailed,
    AgentOffline,
    AgentTimeout,
    BadOffer,
    RelayStopped,
    TooManyViewers,
    UnknownCamera,
    VideoError,
)
from hub.video.fanout import EncodedFrame, Outlet, is_vp8_keyframe
from hub.video.forward import ForwardTrack, request_keyframe, tap_receiver
from hub.video.snapshots import SnapshotFetcher
from hub.video.stream import CameraStream, Link, Viewer
from shared import topics
from shared.errors import RecordError
from shared.rtcsignal import Answer, Closed, Error, Keepalive, Offer, Stop, parse_up, topic_leaf
from shared.snapshotsignal import LEAF as SNAPSHOT_LEAF

log = logging.getLogger("xiaoneng.hub.video")
T = TypeVar("T")
Publish = Callable[[str, bytes, int], None]
#: Called once per viewer that ended (left, failed, timed out, closed by a stop), on a thread of
#: its own: ``{"viewer", "user", "agent_id", "camera_id", "started_at", "seconds", "connected",
#: "reason"}`` — the hub writes it to the audit log (:mod:`hub.video.service`).
ViewerEnded = Callable[[dict[str, Any]], None]
KEYFRAME_REQUEST_INTERVAL = 0.5


def rtc_configuration() -> RTCConfiguration:
    """No ICE servers: aiortc would otherwise ask a public STUN server (there is no internet)."""
    return RTCConfiguration(iceServers=[])


def vp8_codecs() -> list[RTCRtpCodecCapability]:
    """VP8 and its retransmission format: the only codec the relay forwards (browsers all decode it)."""
    codecs = RTCRtpSender.getCapabilities("video").codecs
    return [c for c in codecs if c.mimeType.lower() in ("video/vp8", "video/rtx")]


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # marks it retrieved: a failed link nobody waited for is not an error


class VideoRelay:
    """See the module docstring."""

    def __init__(
        self,
        publish: Publish,
        config: RelayConfig | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_viewer_end: ViewerEnded | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.publish = publish
        self.on_viewer_end = on_viewer_end
        #: evidence snapshots fetched from the agents (on the same signalling topics)
        self.snapshots = SnapshotFetcher(publish)
        self.wall_clock = wall_clock
        self._ended = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="xn-hub-video-audit")
        self.config = config or RelayConfig()
        self.monotonic = monotonic
        self.rng = rng or random.Random()
        self.rtc = RtcLoop("xn-hub-rtc", self.config.port_range)
        self.counters: Counter[str] = Counter()
        self._streams: dict[tuple[str, str], CameraStream] = {}
        self._sessions: dict[str, CameraStream] = {}
        self._viewers: dict[str, Viewer] = {}
        self._online: dict[str, bool] = {}
        self._janitor: asyncio.Task[None] | None = None
        self._next_keepalive = 0.0
        self._next_rates = 0.0
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._release_due = False
        self._next_release = 0.0

    # -- public, any thread ---------------------------------------------------------------------

    def start(self) -> None:
        if self.config.ice_addresses is not None:
            use_host_addresses(self.config.ice_addresses)
        self.rtc.start()
        self.rtc.call(self._start_janitor)
        log.info("video relay running", extra={"ice_addresses": self.config.ice_addresses,
                                               "ice_ports": self.config.ice_ports})

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop every upstream (telling the agents) and viewer; True if the thread ended in time."""
        self._stopping = True
        if self.rtc.running:
            try:
                self.rtc.submit(self._shutdown()).result(timeout)
            except Exception:  # noqa: BLE001 - stopping anyway
                log.exception("closing the video relay's sessions failed")
        stopped = self.rtc.stop(timeout)
        self._ended.shutdown(wait=True)  # every ended viewer reported (audited) before the hub stops
        return stopped

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        if self._stopping or not self.rtc.running:
            coro.close()
            raise RelayStopped("the video relay is not running (the hub is starting or stopping)")
        future = self.rtc.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise AgentTimeout(f"the relay did not finish within {timeout:.0f} s") from None

    def watch(self, agent_id: str, camera_id: str, offer_sdp: str, *, user: str = "",
              known_online: bool = False) -> tuple[str, str]:
        """Join a browser to a camera: returns (viewer id, the SDP answer for the browser).

        ``known_online``: the caller has just read in the hub's store that the agent is online
        (its last status or heartbeat); that outranks an older offline event the relay kept.

        Raises a :class:`~hub.video.errors.VideoError` saying why not (agent offline or silent,
        unknown camera, unusable offer, limits)."""
        return self._run(self._watch(agent_id, camera_id, offer_sdp, user, known_online),
                         self.config.answer_timeout_s + 15)

    def leave(self, viewer_id: str) -> bool:
        """A browser stops watching; False if the viewer was not (or no longer) known."""
        return self._run(self._leave(viewer_id), 10)

    def on_rtc(self, agent_id: str, leaf: str, payload: bytes) -> None:
        """Signalling from an agent (``IngestService.rtc_handlers``; paho's thread): never blocks."""
        if leaf == SNAPSHOT_LEAF:  # evidence snapshots: hub.video.snapshots, not a video session
            self.snapshots.on_rtc(agent_id, leaf, payload)
            return
        try:
            message = parse_up(leaf, payload)
        except RecordError as exc:
            self.counters["bad_messages"] += 1
            log.warning("ignored a malformed video signalling message",
                        extra={"agent": agent_id, "error": str(exc)})
            return
        self.rtc.call(lambda: self._spawn(self._on_message(agent_id, message)))

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        """Ingest events (``IngestService.listeners``): follows agents going offline and online.

        An agent is back as soon as anything says so: its retained status (``link.status``) *or*
        a heartbeat stored (``link.health``). A busy hub that marked a live agent offline (its
        heartbeats waited in the queue longer than ``offline_after_s``) sends no new status when
        the next heartbeat is stored — the agent never disconnected — so without the heartbeat
        the relay would refuse the agent's cameras until the hub restarted."""
        agent_id = data.get("agent_id")
        if not isinstance(agent_id, str):
            return
        if kind == "link.status":
            self.rtc.call(self._agent_status, agent_id, bool(data.get("online")))
        elif kind == "link.health" and self._online.get(agent_id) is not True:
            self.rtc.call(self._agent_status, agent_id, True)

    def online(self, agent_id: str) -> bool | None:
        """What the relay believes of ``agent_id``: True/False from the ingest events, None if none yet."""
        return self._online.get(agent_id)

    def stats(self) -> dict[str, Any]:
        """Streams and viewers now, for the wall and /metrics."""
        if not self.rtc.running:
            return {"running": False, "streams": [], "viewers": 0, "counters": dict(self.counters)}
        try:
            return self.rtc.submit(self._stats()).result(5)
        except concurrent.futures.TimeoutError:
            return {"running": True, "streams": [], "viewers": len(self._viewers),
                    "counters": dict(self.counters), "busy": True}

    # -- the loop thread ------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background; :meth:`_shutdown` waits for what is still running."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _start_janitor(self) -> None:
        self._janitor = asyncio.ensure_future(self._run_janitor())

    def _send(self, agent_id: str, message: Offer | Stop | Keepalive, qos: int = 1) -> None:
        try:
            self.publish(topics.rtc(agent_id, topic_leaf(message)), bytes(message), qos)
        except Exception:  # noqa: BLE001 - the broker link's business; timeouts handle the rest
            log.exception("could not publish video signalling", extra={"agent": agent_id})

    async def _watch(self, agent_id: str, camera_id: str, offer_sdp: str, user: str,
                     known_online: bool = False) -> tuple[str, str]:
        if known_online and self._online.get(agent_id) is False:
            log.info("agent back (the hub's store says online)", extra={"agent": agent_id})
            self._agent_status(agent_id, True)
        if self._online.get(agent_id) is False:
            raise AgentOffline(f"agent {agent_id} is offline: its cameras can be watched once it reconnects")
        if len(self._viewers) >= self.config.max_viewers:
            raise TooManyViewers(f"the relay serves at most {self.config.max_viewers} viewers; close some tiles")
        stream = self._streams.get((agent_id, camera_id))
        if stream is not None and len(stream.viewers) >= self.config.max_viewers_per_camera:
            raise TooManyViewers(f"camera {camera_id} already has {len(stream.viewers)} viewers "
                                 f"(at most {self.config.max_viewers_per_camera})")
        if stream is None:
            stream = CameraStream(agent_id, camera_id, self.monotonic())
            self._streams[stream.key] = stream
            self.counters["streams_opened"] += 1
        stream.pending += 1  # the grace-period janitor leaves a stream alone while someone joins it
        try:
            if stream.link is None and stream.state == "connecting":
                await self._open_link(stream)
            link = stream.link
            if link is not None and not link.answered.done():
                try:
                    await asyncio.wait_for(asyncio.shield(link.answered), self.config.answer_timeout_s)
                except TimeoutError:
                    error = AgentTimeout(f"agent {agent_id} did not answer within "
                                         f"{self.config.answer_timeout_s:.0f} s: it may be offline, or run "
                                         "a version without video")
                    self._link_failed(stream, link, "no answer from the agent", error)
                    raise error from None
            viewer = await self._add_viewer(stream, offer_sdp, user)
        finally:
            stream.pending -= 1
            if not stream.viewers and stream.idle_since is None:
                stream.idle_since = self.monotonic()
        return viewer.id, viewer.pc.localDescription.sdp

    async def _open_link(self, stream: CameraStream) -> None:
        pc = RTCPeerConnection(rtc_configuration())
        transceiver = pc.addTransceiver("video", direction="recvonly")
        transceiver.setCodecPreferences(vp8_codecs())
        answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        answered.add_done_callback(_retrieve)
        link = Link(secrets.token_urlsafe(12), pc, transceiver.receiver, answered, self.monotonic())
        tap_receiver(transceiver.receiver, lambda data, ts: self._on_frame(stream, link, data, ts))
        stream.link = link
        stream.state = "connecting"
        stream.links_opened += 1
        self._sessions[link.session] = stream

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and not link.closed:
                self._link_failed(stream, link, f"upstream connection {pc.connectionState}",
                                  AgentFailed(f"the connection to agent {stream.agent_id} failed"))

        await pc.setLocalDescription(await pc.createOffer())
        if link.closed:
            return
        self.counters["offers"] += 1
        self._send(stream.agent_id, Offer(link.session, stream.camera_id, pc.localDescription.sdp))

    def _on_frame(self, stream: CameraStream, link: Link, data: bytes, timestamp: int) -> None:
        if link is not stream.link or link.closed:
            return
        now = self.monotonic()
        if stream.state != "live":
            stream.state, stream.retries, stream.last_error = "live", 0, ""
        frame = EncodedFrame(data, stream.pts_for(link, timestamp), is_vp8_keyframe(data), now)
        if stream.fanout.publish(frame):
            for viewer in stream.viewers:
                viewer.track.wake()
        if (not frame.keyframe and stream.fanout.wants_keyframe()
                and now - stream.last_keyframe_request >= KEYFRAME_REQUEST_INTERVAL):
            stream.last_keyframe_request = now
            self._spawn(request_keyframe(link.receiver))

    def _link_failed(self, stream: CameraStream, link: Link, reason: str, error: VideoError) -> None:
        """End ``link``; retry later if the stream still has viewers, else close the stream."""
        if link.closed:
            return
        link.closed = True
        if not link.answered.done():
            link.answered.set_exception(error)
        self._sessions.pop(link.session, None)
        self._spawn(link.pc.close())
        if stream.link is link:
            stream.link = None
        stream.last_error = reason
        self.counters["upstream_failures"] += 1
        if stream.viewers and stream.state != "closed" and not isinstance(error, UnknownCamera):
            delay = stream.schedule_retry(self.monotonic(), self.config.retry_max_s, self.rng)
            log.warning("upstream lost; asking the agent again", extra={
                "agent": stream.agent_id, "camera": stream.camera_id, "reason": reason,
                "retry_in_s": round(delay, 1), "viewers": len(stream.viewers)})
        else:
            log.info("upstream ended", extra={"agent": stream.agent_id, "camera": stream.camera_id,
                                              "reason": reason})
            self._close_stream(stream, reason)

    def _close_link(self, stream: CameraStream, reason: str) -> None:
        link, stream.link = stream.link, None
        if link is None or link.closed:
            return
        link.closed = True
        if not link.answered.done():
            link.answered.set_exception(RelayStopped(reason))
        self._sessions.pop(link.session, None)
        self._send(stream.agent_id, Stop(link.session))
        self._spawn(link.pc.close())

    def _close_stream(self, stream: CameraStream, reason: str) -> None:
        if stream.state == "closed":
            return
        self._close_link(stream, reason)
        stream.state = "closed"
        self._release_due = True
        if self._streams.get(stream.key) is stream:
            del self._streams[stream.key]
        for viewer in list(stream.viewers):
            self._remove_viewer(viewer, f"stream closed: {reason}")
        self.counters["streams_closed"] += 1

    async def _add_viewer(self, stream: CameraStream, offer_sdp: str, user: str) -> Viewer:
        outlet = Outlet(self.config.outlet_frames)
        track = ForwardTrack(outlet)
        pc = RTCPeerConnection(rtc_configuration())
        pc.addTransceiver(track, direction="sendonly").setCodecPreferences(vp8_codecs())
        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # noqa: BLE001 - whatever aiortc refuses in the offer
            await pc.close()
            raise BadOffer(f"the browser's offer cannot be answered ({exc}); it must offer to "
                           "receive VP8 video") from None
        if stream.state == "closed":  # the upstream failed for good while we negotiated
            await pc.close()
            raise AgentFailed(f"the stream of {stream.camera_id} ended: {stream.last_error}")
        viewer = Viewer(secrets.token_urlsafe(12), stream, pc, outlet, track, user, self.monotonic(),
                        started_at=self.wall_clock())

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                viewer.connected = True
            elif pc.connectionState in ("failed", "closed"):
                self._remove_viewer(viewer, f"connection {pc.connectionState}")

        stream.viewers.add(viewer)
        stream.fanout.add(outlet)
        stream.idle_since = None
        self._viewers[viewer.id] = viewer
        self.counters["viewers_joined"] += 1
        log.info("viewer joined", extra={"agent": stream.agent_id, "camera": stream.camera_id,
                                         "viewer": viewer.id, "user": user, "viewers": len(stream.viewers)})
        return viewer

    def _remove_viewer(self, viewer: Viewer, reason: str) -> bool:
        if self._viewers.pop(viewer.id, None) is None:
            return False
        stream = viewer.stream
        stream.viewers.discard(viewer)
        stream.fanout.remove(viewer.outlet)
        viewer.track.stop()
        self._spawn(viewer.pc.close())
        if not stream.viewers:
            stream.idle_since = self.monotonic()
        self._release_due = True
        self.counters["viewers_left"] += 1
        self._report_end(viewer, reason)
        log.info("viewer left", extra={"agent": stream.agent_id, "camera": stream.camera_id,
                                       "viewer": viewer.id, "reason": reason, "viewers": len(stream.viewers)})
        return True

    def _report_end(self, viewer: Viewer, reason: str) -> None:
        """Hand an ended viewer to ``on_viewer_end`` on the audit thread (never blocks the loop)."""
        if self.on_viewer_end is None:
            return
        ended = {"viewer": viewer.id, "user": viewer.user, "agent_id": viewer.stream.agent_id,
                 "camera_id": viewer.stream.camera_id, "started_at": viewer.started_at,
                 "seconds": round(max(0.0, self.monotonic() - viewer.created), 1),
                 "connected": viewer.connected, "reason": reason}
        callback = self.on_viewer_end

        def report() -> None:
            try:
                callback(ended)
            except Exception:  # noqa: BLE001 - an audit failure must not stop the relay
                self.counters["audit_failures"] += 1
                log.exception("could not record the end of a viewer", extra={"viewer": viewer.id})

        try:
            self._ended.submit(report)
        except RuntimeError:  # shut down: the hub is stopping
            log.warning("viewer ended after the relay stopped: not audited", extra={"viewer": viewer.id})

    async def _leave(self, viewer_id: str) -> bool:
        viewer = self._viewers.get(viewer_id)
        return viewer is not None and self._remove_viewer(viewer, "left")

    async def _on_message(self, agent_id: str, message: Answer | Error | Closed) -> None:
        stream = self._sessions.get(message.session)
        link = stream.link if stream is not None else None
        if stream is None or link is None or link.session != message.session or stream.agent_id != agent_id:
            if isinstance(message, Answer):  # a session we gave up on (timed out, hub restarted)
                self._send(agent_id, Stop(message.session))
            return
        if isinstance(message, Answer):
            if link.answered.done():
                return
            try:
                await link.pc.setRemoteDescription(RTCSessionDescription(message.sdp, "answer"))
            except Exception as exc:  # noqa: BLE001 - an answer aiortc refuses
                self._link_failed(stream, link, f"unusable answer: {exc}",
                                  AgentFailed(f"agent {agent_id} sent an unusable answer: {exc}"))
                return
            if not link.answered.done():
                link.answered.set_result(None)
                self.counters["answers"] += 1
        elif isinstance(message, Error):
            error: VideoError = (UnknownCamera if message.error == "unknown_camera" else AgentFailed)(
                f"agent {agent_id}: {message.error}: {message.detail}")
            self._link_failed(stream, link, f"{message.error}: {message.detail}", error)
        else:
            self._link_failed(stream, link, f"the agent closed the session: {message.reason}",
                              AgentFailed(f"agent {agent_id} closed the session: {message.reason}"))

    def _agent_status(self, agent_id: str, online: bool) -> None:
        was = self._online.get(agent_id)
        self._online[agent_id] = online
        now = self.monotonic()
        for stream in [s for s in self._streams.values() if s.agent_id == agent_id]:
            if not online and stream.link is not None:
                self._link_failed(stream, stream.link, "the agent went offline",
                                  AgentOffline(f"agent {agent_id} went offline"))
            elif online and was is False and stream.state == "retrying":
                stream.retry_at = now  # back: ask at once

    async def _run_janitor(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            try:
                await self._tick(self.monotonic())
            except Exception:  # noqa: BLE001 - the janitor must survive anything
                log.exception("video relay housekeeping failed")

    async def _tick(self, now: float) -> None:
        cfg = self.config
        for stream in list(self._streams.values()):
            link = stream.link
            if link is not None and not link.answered.done() and now - link.created > cfg.answer_timeout_s:
                self._link_failed(stream, link, "no answer from the agent", AgentTimeout(
                    f"agent {stream.agent_id} did not answer within {cfg.answer_timeout_s:.0f} s"))
            elif (not stream.viewers and not stream.pending and stream.idle_since is not None
                  and now - stream.idle_since >= cfg.grace_s):
                log.info("nobody watches: stopping the upstream", extra={
                    "agent": stream.agent_id, "camera": stream.camera_id})
                self._close_stream(stream, "nobody watches")
            elif (stream.state == "retrying" and stream.retry_at is not None and now >= stream.retry_at
                  and self._online.get(stream.agent_id) is not False):
                stream.retry_at = None
                await self._open_link(stream)
        for viewer in list(self._viewers.values()):
            if not viewer.connected and now - viewer.created > cfg.connect_timeout_s:
                self._remove_viewer(viewer, f"not connected after {cfg.connect_timeout_s:.0f} s")
        if now >= self._next_keepalive:
            self._next_keepalive = now + cfg.keepalive_s
            by_agent: dict[str, list[str]] = {}
            for stream in self._streams.values():
                if stream.link is not None and stream.link.accepted:
                    by_agent.setdefault(stream.agent_id, []).append(stream.link.session)
            for agent_id, sessions in by_agent.items():
                self._send(agent_id, Keepalive(tuple(sessions)), qos=0)
        if now >= self._next_rates:
            self._next_rates = now + 5.0
            for stream in self._streams.values():
                stream.refresh_rates(now)
            if self._release_due and not self._tasks and now >= self._next_release:
                self._release_memory(now)

    def _release_memory(self, now: float) -> None:
        """Sessions ended: free their memory now (see :func:`commonio.rtcloop.release_memory`)."""
        self._release_due = False
        self._next_release = now + 10.0
        started = time.perf_counter()
        release_memory()
        self.counters["memory_releases"] += 1
        log.debug("released the memory of ended sessions",
                  extra={"ms": round((time.perf_counter() - started) * 1000, 1)})

    async def _stats(self) -> dict[str, Any]:
        now = self.monotonic()
        streams = []
        for s in sorted(self._streams.values(), key=lambda s: s.key):
            streams.append({
                "agent_id": s.agent_id, "camera_id": s.camera_id, "state": s.state,
                "viewers": len(s.viewers), "frames": s.fanout.frames, "keyframes": s.fanout.keyframes,
                "bytes": s.fanout.bytes, "fps": round(s.fps, 1), "kbps": round(s.kbps),
                "last_frame_age_s": None if s.fanout.last_frame_at is None else round(now - s.fanout.last_frame_at, 1),
                "links_opened": s.links_opened, "last_error": s.last_error,
            })
        return {"running": True, "streams": streams, "viewers": len(self._viewers),
                "counters": dict(self.counters)}

    async def _shutdown(self) -> None:
        if self._janitor is not None:
            self._janitor.cancel()
        for stream in list(self._streams.values()):
            self._close_stream(stream, "the hub is stopping")
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
