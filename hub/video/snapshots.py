"""Evidence snapshots fetched from the agents on demand and checked against the signed record.

    fetcher = SnapshotFetcher(publish)                 # publish(topic, payload, qos): the hub's MQTT
    ingest.rtc_handlers.append(fetcher.on_rtc)          # (the relay forwards ``up/snapshot`` to it)
    jpeg = fetcher.fetch("agent-1", ref, timeout=10)    # from a web thread: bytes whose SHA-256 is ref

The hub keeps no copy of the JPEGs: a presence record carries the snapshot's SHA-256
(``snapshot_ref``), the agent keeps the file. :meth:`SnapshotFetcher.fetch` asks the agent
(:mod:`shared.snapshotsignal`, on the agent's own signalling topics), gathers the parts, and returns
the bytes only if their SHA-256 is the ref — so a picture shown is the one the agent signed for,
or the page says it is not. Errors are :class:`~hub.video.errors.VideoError` subclasses with the
HTTP answer: :class:`AgentTimeout` (offline, or an agent version without snapshots),
:class:`SnapshotMissing`, :class:`SnapshotMismatch`, :class:`AgentFailed`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.video.errors import AgentFailed, AgentTimeout, SnapshotMismatch, SnapshotMissing, VideoError
from shared import topics
from shared.errors import RecordError
from shared.snapshotsignal import LEAF, MAX_BYTES, Part, Request

log = logging.getLogger("xiaoneng.hub.video.snapshots")
Publish = Callable[[str, bytes, int], None]
MAX_PENDING = 16  # requests in flight at once (each may hold up to MAX_BYTES)


@dataclass
class _Pending:
    agent_id: str
    ref: str
    parts: dict[int, bytes] = field(default_factory=dict)
    total: int | None = None
    size: int = 0
    error: VideoError | None = None
    done: threading.Event = field(default_factory=threading.Event)


class SnapshotFetcher:
    """See the module docstring. Thread-safe."""

    def __init__(self, publish: Publish) -> None:
        self.publish = publish
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self.fetched = 0
        self.refused = 0

    def fetch(self, agent_id: str, ref: str, timeout: float = 10.0) -> bytes:
        """The JPEG ``ref`` from ``agent_id``, its SHA-256 checked; or a :class:`VideoError` in words."""
        request = secrets.token_urlsafe(12)
        pending = _Pending(agent_id, ref)
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                raise AgentFailed(f"{MAX_PENDING} snapshots are being fetched already; try again in a moment")
            self._pending[request] = pending
        try:
            self.publish(topics.rtc(agent_id, f"down/{LEAF}"), bytes(Request(request, ref)), 1)
            if not pending.done.wait(timeout):
                raise AgentTimeout(f"agent {agent_id} did not send snapshot {ref[:12]}… within {timeout:.0f} s: "
                                   "it may be offline, busy, or run a version without snapshots")
        finally:
            with self._lock:
                self._pending.pop(request, None)
        if pending.error is not None:
            self.refused += 1
            raise pending.error
        data = b"".join(pending.parts[i] for i in range(pending.total or 0))
        digest = hashlib.sha256(data).hexdigest()
        if digest != ref:
            self.refused += 1
            log.warning("snapshot refused: its hash differs from the signed record",
                        extra={"agent": agent_id, "ref": ref, "sha256": digest, "bytes": len(data)})
            raise SnapshotMismatch(f"the snapshot agent {agent_id} sent does not match the signed record "
                                   f"(SHA-256 {digest[:12]}…, the record says {ref[:12]}…): the file on the "
                                   "agent was altered or replaced; it is not shown")
        self.fetched += 1
        return data

    def on_rtc(self, agent_id: str, leaf: str, payload: bytes) -> None:
        """An ``rtc/up/snapshot`` message (paho's thread): never blocks."""
        if leaf != LEAF:
            return
        try:
            part = Part.parse(payload)
        except RecordError as exc:
            log.warning("ignored a malformed snapshot message", extra={"agent": agent_id, "error": str(exc)})
            return
        with self._lock:
            pending = self._pending.get(part.request)
            if pending is None or pending.agent_id != agent_id or pending.ref != part.ref or pending.done.is_set():
                return  # late (timed out), or not ours: another agent cannot answer for this one
            if part.error:
                cls = SnapshotMissing if part.error == "not_found" else AgentFailed
                pending.error = cls(f"agent {agent_id}: {part.detail or part.error}")
                pending.done.set()
                return
            if pending.total is None:
                pending.total = part.parts
            if part.parts != pending.total or part.part in pending.parts:
                pending.error = AgentFailed(f"agent {agent_id} sent inconsistent snapshot parts")
                pending.done.set()
                return
            pending.size += len(part.data)
            if pending.size > MAX_BYTES:
                pending.error = AgentFailed(f"agent {agent_id} sent a snapshot over {MAX_BYTES} bytes")
                pending.done.set()
                return
            pending.parts[part.part] = part.data
            if len(pending.parts) == pending.total:
                pending.done.set()
