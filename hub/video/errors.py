"""What can go wrong when a browser asks to watch a camera, with the HTTP answer for each.

    VideoError                 status, error word, detail (what to do)
    ├── BadOffer               400  the browser's SDP offer is unusable (no VP8, not an offer)
    ├── UnknownCamera          404  the agent says it has no such camera
    ├── AgentOffline           503  the hub knows the agent is offline
    ├── AgentTimeout           503  the agent did not answer in time (offline, overloaded, old version)
    ├── AgentFailed            503  the agent answered with an error (camera down, bad offer)
    ├── TooManyViewers         503  the relay's viewer limits are reached
    ├── RelayStopped           503  the relay is not running (the hub is stopping)
    ├── SnapshotMissing        404  the agent has no such snapshot (deleted, or another agent's)
    └── SnapshotMismatch       502  the bytes the agent sent do not match the signed record's hash

Pure: no aiortc here, so the web layer can import it cheaply.
"""

from __future__ import annotations

from typing import ClassVar


class VideoError(Exception):
    """A watch request that cannot be served; ``status`` and ``error`` go into the JSON answer."""

    status: ClassVar[int] = 503
    error: ClassVar[str] = "video_unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadOffer(VideoError):
    status = 400
    error = "bad_offer"


class UnknownCamera(VideoError):
    status = 404
    error = "unknown_camera"


class AgentOffline(VideoError):
    error = "agent_offline"


class AgentTimeout(VideoError):
    error = "agent_timeout"


class AgentFailed(VideoError):
    error = "agent_failed"


class TooManyViewers(VideoError):
    error = "too_many_viewers"


class RelayStopped(VideoError):
    error = "relay_stopped"


class SnapshotMissing(VideoError):
    status = 404
    error = "snapshot_missing"


class SnapshotMismatch(VideoError):
    status = 502
    error = "snapshot_mismatch"
