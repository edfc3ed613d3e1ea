"""Evidence snapshots on demand: the hub asks an agent for the JPEG behind a presence record — pure.

A ``presence.*`` / ``queue.long`` record carries ``snapshot_ref``, the hex SHA-256 of a JPEG the
agent keeps (agent/camera/snapshot.py). The hub asks for it over the agent's own video signalling
topics (the broker's ACL already lets only that agent read its ``rtc/down/#`` and write its
``rtc/up/#``), and the agent answers in parts small enough for the hub's signalling limit:

    hub → agent   xn/v1/agents/{id}/rtc/down/snapshot   {"v", "request", "ref"}
    agent → hub   xn/v1/agents/{id}/rtc/up/snapshot     {"v", "request", "ref", "part", "parts", "data"}
    agent → hub   xn/v1/agents/{id}/rtc/up/snapshot     {"v", "request", "ref", "error", "detail"}

``data`` is base64 of at most :data:`PART_BYTES` bytes; parts are numbered from 0. The agent sends
the file's bytes as it finds them: the hub checks their SHA-256 against the signed record.
Malformed input raises :class:`~shared.errors.RecordError` with the exact reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from shared.errors import RecordError

VERSION = 1
LEAF = "snapshot"
PART_BYTES = 32 * 1024  # base64 ≈ 43 KiB: within the hub's 68 KiB signalling limit
MAX_BYTES = 8 * 1024 * 1024  # a snapshot larger than this is refused (a 4K JPEG is ~2 MiB)
MAX_PARTS = MAX_BYTES // PART_BYTES
ERRORS = ("not_found", "unreadable", "too_large")
_REF = re.compile(r"^[0-9a-f]{64}$")
_REQUEST = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _load(payload: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError(f"snapshot: not JSON ({exc})") from None
    if not isinstance(raw, dict) or raw.get("v") != VERSION:
        raise RecordError(f"snapshot: not a version {VERSION} object")
    return raw


def _ids(raw: dict[str, Any]) -> tuple[str, str]:
    request, ref = raw.get("request"), raw.get("ref")
    if not isinstance(request, str) or not _REQUEST.match(request):
        raise RecordError("snapshot: request must be 8-64 of A-Z a-z 0-9 _ -")
    if not isinstance(ref, str) or not _REF.match(ref):
        raise RecordError("snapshot: ref must be 64 lowercase hex digits (a SHA-256)")
    return request, ref


@dataclass(frozen=True)
class Request:
    """The hub asks for the snapshot ``ref``."""

    request: str
    ref: str

    def __bytes__(self) -> bytes:
        return json.dumps({"v": VERSION, "request": self.request, "ref": self.ref}).encode()

    @classmethod
    def parse(cls, payload: bytes) -> Request:
        return cls(*_ids(_load(payload)))


@dataclass(frozen=True)
class Part:
    """One part of the agent's answer: ``data`` (bytes), or ``error`` (one of :data:`ERRORS`) and ``detail``."""

    request: str
    ref: str
    part: int = 0
    parts: int = 1
    data: bytes = b""
    error: str = ""
    detail: str = ""

    def __bytes__(self) -> bytes:
        body: dict[str, Any] = {"v": VERSION, "request": self.request, "ref": self.ref}
        if self.error:
            body.update(error=self.error, detail=self.detail[:500])
        else:
            body.update(part=self.part, parts=self.parts, data=base64.b64encode(self.data).decode("ascii"))
        return json.dumps(body).encode()

    @classmethod
    def parse(cls, payload: bytes) -> Part:
        raw = _load(payload)
        request, ref = _ids(raw)
        if "error" in raw:
            error, detail = raw.get("error"), raw.get("detail", "")
            if error not in ERRORS or not isinstance(detail, str):
                raise RecordError(f"snapshot: error must be one of {', '.join(ERRORS)} with a text detail")
            return cls(request, ref, error=error, detail=detail[:500])
        part, parts, data = raw.get("part"), raw.get("parts"), raw.get("data")
        if not (isinstance(parts, int) and isinstance(part, int) and 1 <= parts <= MAX_PARTS and 0 <= part < parts):
            raise RecordError(f"snapshot: part must be 0..parts-1 and parts 1..{MAX_PARTS}")
        if not isinstance(data, str) or len(data) > (PART_BYTES * 4) // 3 + 4:
            raise RecordError(f"snapshot: data must be base64 of at most {PART_BYTES} bytes")
        try:
            decoded = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise RecordError("snapshot: data is not base64") from None
        return cls(request, ref, part, parts, decoded)


def split(request: str, ref: str, jpeg: bytes) -> list[Part]:
    """The parts of ``jpeg`` for ``request`` (one part for an empty file)."""
    if len(jpeg) > MAX_BYTES:
        return [Part(request, ref, error="too_large", detail=f"{len(jpeg)} bytes, the limit is {MAX_BYTES}")]
    chunks = [jpeg[i:i + PART_BYTES] for i in range(0, len(jpeg), PART_BYTES)] or [b""]
    return [Part(request, ref, i, len(chunks), chunk) for i, chunk in enumerate(chunks)]
