"""The agent's side of live video: answer the hub's offers, one VP8 upstream per camera.

    publisher = VideoPublisher({"cam1": CameraFeed("cam1", pipeline.latest, 15, (640, 480))}, send)
    publisher.start()
    uplink.on_topic(topics.rtc(agent_id, "down/"), lambda t, p: publisher.handle(t.rsplit("/", 1)[1], p))
    ...
    publisher.stop()

Only events travel by default; video travels only while someone watches. The hub's relay asks for
a camera (an :class:`~shared.rtcsignal.Offer`) when its first viewer arrives and stops it (a
:class:`~shared.rtcsignal.Stop`) after its last viewer left. The agent keeps at most **one session
per camera** — a new offer for a camera replaces the old session — so the camera is encoded once
whatever the number of viewers: the hub fans the encoded packets out. A session also ends when its
connection fails, or when the hub's keepalives stop for ``lease_s`` (the hub crashed or lost the
broker): the agent then reports :class:`~shared.rtcsignal.Closed`.

Bitrate: aiortc's VP8 encoder starts at 500 kbit/s and would follow the receiver's bandwidth
estimate (REMB, fed by the abs-send-time RTP header extension) up to 1.5 Mbit/s. The hall's uplink
is shared with the records, so the agent declines that extension and stays at ~0.5 Mbit/s.

Everything aiortc runs on the publisher's own asyncio thread (:class:`RtcLoop`); :meth:`handle`
is called from the uplink thread and only hands the message over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCSessionDescription

from agent.camera.rtc import CameraTrack, LatestFrame, publish, rtc_configuration
from commonio.rtcloop import RtcLoop, release_memory
from shared.errors import RecordError
from shared.rtcsignal import Answer, Closed, Error, Keepalive, Message, Offer, Stop, parse_down, topic_leaf

log = logging.getLogger("xiaoneng.agent.video")
Send = Callable[[str, bytes], None]
"""``send(leaf, payload)``: publish on ``xn/v1/agents/{id}/rtc/{leaf}`` (e.g. ``up/answer``)."""

ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


@dataclass(frozen=True, slots=True)
class CameraFeed:
    """What the publisher needs of a camera: its newest frame, rate and size."""

    camera_id: str
    latest: LatestFrame
    fps: int = 15
    size: tuple[int, int] = (640, 480)


@dataclass(slots=True)
class Session:
    session: str
    camera_id: str
    pc: RTCPeerConnection
    track: CameraTrack
    expires: float
    started: float
    closing: bool = field(default=False)


def decline_extension(sdp: str, uri: str) -> str:
    """``sdp`` without the ``a=extmap`` lines of header extension ``uri``."""
    lines = [line for line in sdp.splitlines() if not (line.startswith("a=extmap:") and uri in line)]
    return "\r\n".join(lines) + "\r\n"


class VideoPublisher:
    """Serves the hub's video sessions for a set of cameras (see the module docstring)."""

    def __init__(
        self,
        feeds: Mapping[str, CameraFeed],
        send: Send,
        *,
        lease_s: float = 20.0,
        keyframe_every_s: float = 1.0,
        ports: tuple[int, int] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.feeds = dict(feeds)
        self.send = send
        self.lease_s = lease_s
        self.keyframe_every_s = keyframe_every_s
        self.monotonic = monotonic
        self.rtc = RtcLoop("xn-agent-rtc", ports)
        self._sessions: dict[str, Session] = {}
        self._lease_task: asyncio.Task[None] | None = None
        self.started_sessions = 0
        self._release_due = False

    # -- any thread -----------------------------------------------------------------------------

    def start(self) -> None:
        self.rtc.start()
        self.rtc.call(self._start_lease_watch)

    def handle(self, leaf: str, payload: bytes) -> None:
        """A message from the hub (``leaf`` is the topic's last level). Never blocks."""
        try:
            message = parse_down(leaf, payload)
        except RecordError as exc:
            log.warning("ignored a malformed video signalling message", extra={"error": str(exc)})
            return
        self.rtc.call(self._dispatch, message)

    def streaming(self) -> dict[str, str]:
        """camera id → session id of the cameras being sent now (a snapshot, for the heartbeat)."""
        return {s.camera_id: s.session for s in list(self._sessions.values()) if not s.closing}

    def stop(self, timeout: float = 5.0) -> bool:
        """Close every session (telling the hub) and stop the thread; True if all ended in time."""
        if not self.rtc.running:
            return self.rtc.stop(timeout)
        try:
            self.rtc.submit(self._close_all("the agent is stopping")).result(timeout)
        except Exception:  # noqa: BLE001 - stopping anyway
            log.exception("closing video sessions failed")
        return self.rtc.stop(timeout)

    # -- the loop thread ------------------------------------------------------------------------

    def _start_lease_watch(self) -> None:
        self._lease_task = asyncio.ensure_future(self._watch_leases())

    def _emit(self, message: Message) -> None:
        try:
            self.send(topic_leaf(message), bytes(message))
        except Exception:  # noqa: BLE001 - a failed send is the link's business, not the session's
            log.exception("could not send a video signalling message")

    def _dispatch(self, message: Offer | Stop | Keepalive) -> None:
        if isinstance(message, Offer):
            asyncio.ensure_future(self._offer(message))
        elif isinstance(message, Stop):
            session = self._sessions.get(message.session)
            if session is not None:
                asyncio.ensure_future(self._close(session, "stopped by the hub", tell=False))
        else:
            deadline = self.monotonic() + self.lease_s
            for sid in message.sessions:
                session = self._sessions.get(sid)
                if session is None:
                    # The hub believes in a session we do not have (we restarted): say so, so it
                    # asks again instead of waiting for packets that never come.
                    self._emit(Closed(sid, "unknown session (the agent restarted?)"))
                else:
                    session.expires = deadline

    async def _offer(self, offer: Offer) -> None:
        feed = self.feeds.get(offer.camera_id)
        if feed is None:
            known = ", ".join(sorted(self.feeds)) or "none"
            self._emit(Error(offer.session, offer.camera_id, "unknown_camera",
                             f"this agent has no camera {offer.camera_id!r} (it has: {known})"))
            return
        for old in [s for s in self._sessions.values() if s.camera_id == offer.camera_id]:
            await self._close(old, "replaced by a new session", tell=True)
        pc = RTCPeerConnection(rtc_configuration())
        track = CameraTrack(feed.latest, fps=feed.fps, size=feed.size,
                            keyframe_every_s=self.keyframe_every_s)
        now = self.monotonic()
        session = Session(offer.session, offer.camera_id, pc, track, now + self.lease_s, now)
        self._sessions[offer.session] = session
        try:
            publish(pc, track)  # before the offer is applied: VP8 only, send-only
            await pc.setRemoteDescription(
                RTCSessionDescription(decline_extension(offer.sdp, ABS_SEND_TIME), "offer"))
            await pc.setLocalDescription(await pc.createAnswer())  # gathers: non-trickle ICE
        except Exception as exc:  # noqa: BLE001 - anything wrong with the offer ends the session
            if session.closing:  # stopped while negotiating
                return
            log.warning("could not answer a video offer", extra={"camera": offer.camera_id, "error": str(exc)})
            self._sessions.pop(offer.session, None)
            await pc.close()
            self._emit(Error(offer.session, offer.camera_id, "bad_offer", str(exc)[:500]))
            return
        if session.closing:
            return

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and not session.closing:
                await self._close(session, f"connection {pc.connectionState}", tell=True)

        self.started_sessions += 1
        log.info("video session started", extra={"camera": offer.camera_id, "session": offer.session})
        self._emit(Answer(offer.session, offer.camera_id, pc.localDescription.sdp))

    async def _close(self, session: Session, reason: str, *, tell: bool) -> None:
        if session.closing:
            return
        session.closing = True
        if self._sessions.get(session.session) is session:
            del self._sessions[session.session]
        await session.pc.close()
        self._release_due = True
        log.info("video session ended", extra={"camera": session.camera_id, "session": session.session,
                                                "reason": reason, "frames": session.track.sent})
        if tell:
            self._emit(Closed(session.session, reason))

    async def _close_all(self, reason: str) -> None:
        if self._lease_task is not None:
            self._lease_task.cancel()
        for session in list(self._sessions.values()):
            await self._close(session, reason, tell=True)

    async def _watch_leases(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = self.monotonic()
            for session in [s for s in self._sessions.values() if s.expires < now]:
                await self._close(session, f"no keepalive from the hub for {self.lease_s:.0f} s", tell=True)
            if self._release_due:  # a session ended: free its encoder and connection now
                self._release_due = False
                release_memory()
