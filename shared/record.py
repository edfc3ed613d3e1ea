"""Records and the per-stream hash chain (DESIGN.md §4.1).

A record is ``{seq, prev, ts, type, body}``; its bytes are the RFC 8785 canonical form and its hash
is ``SHA-256(b"xiaoneng/v1/record\\0" || bytes)``. ``prev`` is the hex hash of the previous record of
the same stream; the first record of a stream links to the stream's *genesis* hash, which binds the
chain to its agent and stream id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.canonical import canonical, parse
from shared.errors import RecordError
from shared.topics import valid_id

RECORD_TAG = b"xiaoneng/v1/record\x00"
GENESIS_TAG = b"xiaoneng/v1/genesis\x00"
FIELDS = frozenset({"seq", "prev", "ts", "type", "body"})
_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def record_hash(data: bytes) -> bytes:
    """The chain hash of a record's canonical bytes."""
    return hashlib.sha256(RECORD_TAG + data).digest()


def genesis_hash(agent_id: str, stream_id: str) -> bytes:
    """The ``prev`` of a stream's first record."""
    if not valid_id(agent_id) or not valid_id(stream_id):
        raise RecordError(f"invalid agent/stream id {agent_id!r}/{stream_id!r}")
    return hashlib.sha256(GENESIS_TAG + canonical({"agent": agent_id, "stream": stream_id})).digest()


def check_ts(value: Any, what: str = "ts") -> str:
    """Require an ISO-8601 timestamp with a UTC offset; return it unchanged."""
    if not isinstance(value, str):
        raise RecordError(f"{what} must be an ISO-8601 string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{what} {value[:40]!r} is not ISO-8601") from None
    if parsed.tzinfo is None:
        raise RecordError(f"{what} {value[:40]!r} has no UTC offset")
    return value


@dataclass(frozen=True, slots=True)
class Record:
    """One event of one stream."""

    seq: int
    prev: str
    ts: str
    type: str
    body: dict[str, Any]

    def __post_init__(self) -> None:
        if not isinstance(self.seq, int) or isinstance(self.seq, bool) or self.seq < 1:
            raise RecordError(f"seq must be a positive integer, got {self.seq!r}")
        if not isinstance(self.prev, str) or not _HEX64.match(self.prev):
            raise RecordError(f"record {self.seq}: prev must be 64 lowercase hex digits")
        check_ts(self.ts, f"record {self.seq}: ts")
        if not isinstance(self.type, str) or not _TYPE.match(self.type):
            raise RecordError(f"record {self.seq}: type {self.type!r} is not like 'case.accepted'")
        if not isinstance(self.body, dict):
            raise RecordError(f"record {self.seq}: body must be an object")

    def to_bytes(self) -> bytes:
        return canonical(
            {"seq": self.seq, "prev": self.prev, "ts": self.ts, "type": self.type, "body": self.body}
        )

    @classmethod
    def parse(cls, data: bytes) -> "Record":
        """Parse and validate a record's bytes (strict JSON). Raises :class:`RecordError`."""
        value = parse(data)
        if not isinstance(value, dict):
            raise RecordError("a record must be a JSON object")
        keys = set(value)
        if keys != FIELDS:
            missing, extra = sorted(FIELDS - keys), sorted(keys - FIELDS)
            raise RecordError(f"record fields wrong: missing {missing}, unexpected {extra}")
        return cls(value["seq"], value["prev"], value["ts"], value["type"], value["body"])


@dataclass(frozen=True, slots=True)
class Chained:
    """A record as it sits in an outbox: its number, exact bytes and chain hash."""

    seq: int
    data: bytes
    hash: bytes


class ChainBuilder:
    """Extends a stream's chain; pure (the caller persists ``seq``/``head``)."""

    def __init__(self, agent_id: str, stream_id: str, seq: int = 0, head: bytes | None = None):
        self.seq = seq
        self.head = head if head is not None else genesis_hash(agent_id, stream_id)

    def append(self, type_: str, ts: str, body: dict[str, Any]) -> Chained:
        record = Record(self.seq + 1, self.head.hex(), ts, type_, body)
        data = record.to_bytes()
        digest = record_hash(data)
        self.seq, self.head = record.seq, digest
        return Chained(record.seq, data, digest)


def link_fields(data: bytes) -> tuple[int, str]:
    """``(seq, prev)`` of a record's bytes, with just enough checking to link a chain."""
    value = parse(data)
    if not isinstance(value, dict):
        raise RecordError("a record must be a JSON object")
    seq, prev = value.get("seq"), value.get("prev")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise RecordError(f"record seq must be a positive integer, got {seq!r}")
    if not isinstance(prev, str) or not _HEX64.match(prev):
        raise RecordError(f"record {seq}: prev must be 64 lowercase hex digits")
    return seq, prev


def verify_links(start_prev: bytes, records: Iterable[tuple[bytes, bytes]]) -> int:
    """Check that ``(data, hash)`` pairs link one after another from ``start_prev``.

    Returns the number of records checked; raises :class:`RecordError` naming the first break.
    """
    prev = start_prev.hex()
    expected: int | None = None
    count = 0
    for data, digest in records:
        seq, claimed = link_fields(data)
        if expected is not None and seq != expected:
            raise RecordError(f"record {seq}: expected seq {expected}")
        if claimed != prev:
            raise RecordError(f"record {seq}: prev does not match the previous record's hash")
        prev, expected, count = digest.hex(), seq + 1, count + 1
    return count
