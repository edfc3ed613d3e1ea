"""The signed batch: how records travel from an agent to the hub (DESIGN.md §4.1).

Wire form (``bytes(batch)``)::

    <canonical JSON header, with "sig">\\n<record 1 bytes>\\n<record 2 bytes>...

Canonical JSON never holds a raw newline byte, so the framing is unambiguous. The Ed25519 signature
covers ``b"xiaoneng/v1/batch\\0" || canonical(header without "sig")``; the header names agent, stream,
first and last seq and the hash of the last record (``head``), so one signature authenticates the
whole chain up to that head. ``nonce`` (a per-stream send counter) and ``sent_at`` are signed too:
they let the hub tell an old batch replayed from a fresh resend.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.canonical import MAX_SAFE_INT, canonical, parse
from shared.errors import RecordError, SignatureError
from shared.record import Chained, check_ts, record_hash
from shared.topics import valid_id

BATCH_TAG = b"xiaoneng/v1/batch\x00"
VERSION = 1
MAX_RECORDS = 10_000
#: The largest batch payload: the broker disconnects a client sending more (hub.broker), the hub
#: rejects more before parsing, and an agent's ``uplink.batch_bytes`` must leave room for the header.
MAX_BYTES = 4 * 1024 * 1024
#: A real header is about 400 bytes; a longer first line is not parsed at all.
MAX_HEADER_BYTES = 4096
_HEADER_FIELDS = frozenset({"v", "agent", "stream", "first", "last", "head", "nonce", "sent_at", "sig"})
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _shown(value: Any) -> str:
    """A short, safe rendering of a header value for an error message (never recurses into a
    nested value an attacker made deep)."""
    if isinstance(value, str):
        return repr(value[:70])
    if isinstance(value, bool) or value is None or (isinstance(value, int) and abs(value) < 10**30):
        return repr(value)
    return f"<{type(value).__name__}>"


def _int(value: Any, name: str, minimum: int) -> int:
    """An integer header field in ``minimum..2**53-1`` (the range the canonical form allows: a
    larger one could never be signed, and would overflow the store's columns)."""
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= MAX_SAFE_INT:
        raise RecordError(
            f"batch header: {name} must be an integer in {minimum}..{MAX_SAFE_INT}, got {_shown(value)}"
        )
    return value


@dataclass(frozen=True, slots=True)
class BatchHeader:
    agent: str
    stream: str
    first: int
    last: int
    head: str
    nonce: int
    sent_at: str
    sig: str = ""
    v: int = VERSION

    def unsigned(self) -> dict[str, Any]:
        return {
            "v": self.v, "agent": self.agent, "stream": self.stream, "first": self.first,
            "last": self.last, "head": self.head, "nonce": self.nonce, "sent_at": self.sent_at,
        }

    def signing_bytes(self) -> bytes:
        return BATCH_TAG + canonical(self.unsigned())

    def to_bytes(self) -> bytes:
        return canonical({**self.unsigned(), "sig": self.sig})

    @classmethod
    def from_json(cls, value: Any) -> "BatchHeader":
        if not isinstance(value, dict):
            raise RecordError("batch header must be a JSON object")
        if set(value) != _HEADER_FIELDS:
            raise RecordError(
                f"batch header fields wrong: missing {sorted(_HEADER_FIELDS - set(value))}, "
                f"unexpected {sorted(set(value) - _HEADER_FIELDS)}"
            )
        if type(value["v"]) is not int or value["v"] != VERSION:
            raise RecordError(f"batch version {_shown(value['v'])} not supported (expected {VERSION})")
        for name in ("agent", "stream"):
            if not isinstance(value[name], str) or not valid_id(value[name]):
                raise RecordError(f"batch header: {name} {_shown(value[name])} is not a valid id")
        first = _int(value["first"], "first", 1)
        last = _int(value["last"], "last", first)
        if not isinstance(value["head"], str) or not _HEX64.match(value["head"]):
            raise RecordError("batch header: head must be 64 lowercase hex digits")
        if not isinstance(value["sig"], str):
            raise RecordError("batch header: sig must be a base64 string")
        return cls(
            agent=value["agent"], stream=value["stream"], first=first, last=last,
            head=value["head"], nonce=_int(value["nonce"], "nonce", 0),
            sent_at=check_ts(value["sent_at"], "batch header: sent_at"), sig=value["sig"],
        )


@dataclass(frozen=True, slots=True)
class Batch:
    header: BatchHeader
    records: tuple[bytes, ...]

    def __bytes__(self) -> bytes:
        return b"\n".join((self.header.to_bytes(), *self.records))

    @classmethod
    def parse(cls, payload: bytes, max_bytes: int = MAX_BYTES, max_records: int = MAX_RECORDS) -> "Batch":
        """Split and check the framing. Raises only :class:`RecordError`; bodies are not parsed."""
        if not isinstance(payload, (bytes, bytearray)):
            raise RecordError("batch payload must be bytes")
        if len(payload) > max_bytes:
            raise RecordError(f"batch of {len(payload)} bytes exceeds the limit of {max_bytes}")
        end = payload.find(b"\n", 0, MAX_HEADER_BYTES + 1)
        if end < 0:
            raise RecordError(
                "batch has a header but no records" if len(payload) <= MAX_HEADER_BYTES
                else f"batch header is longer than {MAX_HEADER_BYTES} bytes"
            )
        if not payload.startswith(b"{"):
            raise RecordError("batch header is not a JSON object")
        parts = bytes(payload).split(b"\n")
        header = BatchHeader.from_json(parse(parts[0]))
        records = tuple(parts[1:])
        count = header.last - header.first + 1
        if len(records) != count:
            raise RecordError(
                f"batch header says seq {header.first}..{header.last} ({count} records) "
                f"but carries {len(records)}"
            )
        if count > max_records:
            raise RecordError(f"batch of {count} records exceeds the limit of {max_records}")
        return cls(header, records)


def sign_batch(
    key: Ed25519PrivateKey, agent: str, stream: str, records: list[Chained], nonce: int, sent_at: str
) -> Batch:
    """Build and sign a batch of consecutive chained records."""
    if not records:
        raise RecordError("cannot sign an empty batch")
    header = BatchHeader(
        agent=agent, stream=stream, first=records[0].seq, last=records[-1].seq,
        head=records[-1].hash.hex(), nonce=nonce, sent_at=sent_at,
    )
    sig = base64.b64encode(key.sign(header.signing_bytes())).decode("ascii")
    return Batch(replace(header, sig=sig), tuple(r.data for r in records))


def verify_signature(header: BatchHeader, public_key: Ed25519PublicKey) -> None:
    """Raise :class:`SignatureError` unless ``header.sig`` is the agent's signature of the header."""
    try:
        sig = base64.b64decode(header.sig, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("batch signature is not valid base64") from None
    try:
        public_key.verify(sig, header.signing_bytes())
    except InvalidSignature:
        raise SignatureError(
            f"batch {header.stream}:{header.first}-{header.last} signature does not verify "
            f"with agent {header.agent}'s registered key"
        ) from None


def hash_records(batch: Batch) -> list[bytes]:
    """Chain hashes of the batch's records, checking the last one against the signed ``head``."""
    hashes = [record_hash(r) for r in batch.records]
    if hashes[-1].hex() != batch.header.head:
        raise SignatureError(
            f"batch {batch.header.stream}:{batch.header.first}-{batch.header.last}: the last "
            "record does not hash to the signed head (altered after signing?)"
        )
    return hashes
