"""WebRTC signalling between the hub's video relay and an agent, over MQTT (DESIGN.md §4.7).

Pure: message classes with ``parse()`` / ``__bytes__()``; the MQTT links of both sides carry them.
Non-trickle ICE: every SDP is complete (its candidates gathered), so an offer and an answer are all
a session needs. The hub offers (receive-only VP8), the agent answers (send-only).

    hub → agent   xn/v1/agents/{id}/rtc/down/offer       {"v", "session", "camera_id", "sdp"}
    hub → agent   xn/v1/agents/{id}/rtc/down/stop        {"v", "session"}
    hub → agent   xn/v1/agents/{id}/rtc/down/keepalive   {"v", "sessions": [...]}
    agent → hub   xn/v1/agents/{id}/rtc/up/answer        {"v", "session", "camera_id", "sdp"}
    agent → hub   xn/v1/agents/{id}/rtc/up/error         {"v", "session", "camera_id", "error", "detail"}
    agent → hub   xn/v1/agents/{id}/rtc/up/closed        {"v", "session", "reason"}

The topic's last level names the message (``leaf``). A session is one upstream (one camera, one
agent, one hub peer connection); the agent ends a session the hub stops, or whose keepalives
stop arriving (the hub died or lost the broker), so video never flows with nobody watching.
Malformed input raises :class:`~shared.errors.RecordError` with the exact reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from shared.errors import RecordError

VERSION = 1
MAX_SDP = 64 * 1024
MAX_PAYLOAD = MAX_SDP + 4096
MAX_SESSIONS = 256
_SESSION = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_CAMERA = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

#: Errors an agent reports for a session (``Error.error``).
ERRORS = ("unknown_camera", "camera_down", "bad_offer", "failed")


def _text(raw: dict[str, Any], key: str, leaf: str, limit: int = 2000) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise RecordError(f"rtc {leaf}: {key!r} must be a string")
    if len(value) > limit:
        raise RecordError(f"rtc {leaf}: {key!r} is longer than {limit} characters")
    return value


def _session(raw: dict[str, Any], leaf: str) -> str:
    value = _text(raw, "session", leaf, 64)
    if not _SESSION.match(value):
        raise RecordError(f"rtc {leaf}: session {value!r} must be 8-64 of A-Z a-z 0-9 _ -")
    return value


def _camera(raw: dict[str, Any], leaf: str) -> str:
    value = _text(raw, "camera_id", leaf, 64)
    if not _CAMERA.match(value):
        raise RecordError(f"rtc {leaf}: camera_id {value!r} is not a valid id")
    return value


def _sdp(raw: dict[str, Any], leaf: str) -> str:
    value = _text(raw, "sdp", leaf, MAX_SDP)
    if not value.startswith("v=0"):
        raise RecordError(f"rtc {leaf}: sdp does not start with 'v=0'")
    return value


@dataclass(frozen=True, slots=True)
class Offer:
    """The hub asks for a camera's video: a complete receive-only SDP offer."""

    leaf: ClassVar[str] = "offer"
    direction: ClassVar[str] = "down"
    session: str
    camera_id: str
    sdp: str

    def body(self) -> dict[str, Any]:
        return {"session": self.session, "camera_id": self.camera_id, "sdp": self.sdp}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Offer:
        return cls(_session(raw, cls.leaf), _camera(raw, cls.leaf), _sdp(raw, cls.leaf))

    def __bytes__(self) -> bytes:
        return _encode(self.body())


@dataclass(frozen=True, slots=True)
class Answer:
    """The agent's complete send-only SDP answer."""

    leaf: ClassVar[str] = "answer"
    direction: ClassVar[str] = "up"
    session: str
    camera_id: str
    sdp: str

    def body(self) -> dict[str, Any]:
        return {"session": self.session, "camera_id": self.camera_id, "sdp": self.sdp}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Answer:
        return cls(_session(raw, cls.leaf), _camera(raw, cls.leaf), _sdp(raw, cls.leaf))

    def __bytes__(self) -> bytes:
        return _encode(self.body())


@dataclass(frozen=True, slots=True)
class Error:
    """The agent could not serve a session: ``error`` is one of :data:`ERRORS`."""

    leaf: ClassVar[str] = "error"
    direction: ClassVar[str] = "up"
    session: str
    camera_id: str
    error: str
    detail: str = ""

    def body(self) -> dict[str, Any]:
        return {"session": self.session, "camera_id": self.camera_id, "error": self.error,
                "detail": self.detail}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Error:
        error = _text(raw, "error", cls.leaf, 64)
        if error not in ERRORS:
            raise RecordError(f"rtc error: error {error!r} is not one of {', '.join(ERRORS)}")
        return cls(_session(raw, cls.leaf), _camera(raw, cls.leaf), error,
                   _text(raw, "detail", cls.leaf) if "detail" in raw else "")

    def __bytes__(self) -> bytes:
        return _encode(self.body())


@dataclass(frozen=True, slots=True)
class Stop:
    """The hub ends a session (nobody watches any more)."""

    leaf: ClassVar[str] = "stop"
    direction: ClassVar[str] = "down"
    session: str

    def body(self) -> dict[str, Any]:
        return {"session": self.session}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Stop:
        return cls(_session(raw, cls.leaf))

    def __bytes__(self) -> bytes:
        return _encode(self.body())


@dataclass(frozen=True, slots=True)
class Closed:
    """The agent ended a session by itself (connection failed, keepalives stopped, shutting down)."""

    leaf: ClassVar[str] = "closed"
    direction: ClassVar[str] = "up"
    session: str
    reason: str = ""

    def body(self) -> dict[str, Any]:
        return {"session": self.session, "reason": self.reason}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Closed:
        return cls(_session(raw, cls.leaf), _text(raw, "reason", cls.leaf) if "reason" in raw else "")

    def __bytes__(self) -> bytes:
        return _encode(self.body())


@dataclass(frozen=True, slots=True)
class Keepalive:
    """The sessions the hub still wants (sent every few seconds while any is open)."""

    leaf: ClassVar[str] = "keepalive"
    direction: ClassVar[str] = "down"
    sessions: tuple[str, ...]

    def body(self) -> dict[str, Any]:
        return {"sessions": list(self.sessions)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Keepalive:
        sessions = raw.get("sessions")
        if not isinstance(sessions, list) or len(sessions) > MAX_SESSIONS:
            raise RecordError(f"rtc keepalive: 'sessions' must be a list of at most {MAX_SESSIONS}")
        return cls(tuple(_session({"session": s}, cls.leaf) for s in sessions))

    def __bytes__(self) -> bytes:
        return _encode(self.body())


Message = Offer | Answer | Error | Stop | Closed | Keepalive
_DOWN: dict[str, type[Offer] | type[Stop] | type[Keepalive]] = {
    "offer": Offer, "stop": Stop, "keepalive": Keepalive,
}
_UP: dict[str, type[Answer] | type[Error] | type[Closed]] = {
    "answer": Answer, "error": Error, "closed": Closed,
}


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps({"v": VERSION, **body}, ensure_ascii=False, separators=(",", ":")).encode()


def _load(leaf: str, payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD:
        raise RecordError(f"rtc {leaf}: message of {len(payload)} bytes is larger than {MAX_PAYLOAD}")
    try:
        raw = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError(f"rtc {leaf}: not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise RecordError(f"rtc {leaf}: message must be a JSON object")
    if raw.get("v") != VERSION:
        raise RecordError(f"rtc {leaf}: unsupported version {raw.get('v')!r} (this side speaks {VERSION})")
    return raw


def parse_down(leaf: str, payload: bytes) -> Offer | Stop | Keepalive:
    """A hub → agent message from the topic's last level and the payload."""
    cls = _DOWN.get(leaf)
    if cls is None:
        raise RecordError(f"rtc: unknown hub message {leaf!r} (known: {', '.join(sorted(_DOWN))})")
    return cls.from_json(_load(leaf, payload))


def parse_up(leaf: str, payload: bytes) -> Answer | Error | Closed:
    """An agent → hub message from the topic's last level and the payload."""
    cls = _UP.get(leaf)
    if cls is None:
        raise RecordError(f"rtc: unknown agent message {leaf!r} (known: {', '.join(sorted(_UP))})")
    return cls.from_json(_load(leaf, payload))


def topic_leaf(message: Message) -> str:
    """``down/offer``, ``up/answer``, …: the part after ``rtc/`` in the message's topic."""
    return f"{message.direction}/{message.leaf}"
