"""Signed tree heads of the hub's Merkle log (DESIGN.md §4.3).

A checkpoint states "the log ``origin`` had ``size`` leaves with root ``root`` at ``timestamp``".
The hub signs it with Ed25519 over::

    b"xiaoneng/v1/checkpoint\\0" || canonical({"origin", "size", "root": hex, "timestamp"})

Its JSON form (inside evidence packages) is ``{"origin", "size", "root", "timestamp",
"signature"}`` with ``root`` as 64 lowercase hex digits and ``signature`` as base64; parsing it is
strict and raises only :class:`~shared.errors.RecordError`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.canonical import MAX_SAFE_INT, canonical
from shared.errors import ProofError, RecordError
from shared.merkle import EMPTY_ROOT, HASH_SIZE
from shared.record import check_ts

CHECKPOINT_TAG = b"xiaoneng/v1/checkpoint\x00"
SIGNATURE_SIZE = 64
FIELDS = frozenset({"origin", "size", "root", "timestamp", "signature"})
_ORIGIN = re.compile(r"^[\x21-\x7e]{1,255}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A (possibly unsigned) tree head. Construction validates every field (``RecordError``)."""

    origin: str
    size: int
    root: bytes
    timestamp: str
    signature: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not _ORIGIN.match(self.origin):
            raise RecordError(
                f"checkpoint origin {str(self.origin)[:70]!r} must be 1-255 printable ASCII "
                "characters without spaces"
            )
        if not isinstance(self.size, int) or isinstance(self.size, bool):
            raise RecordError(f"checkpoint size must be an integer, got {self.size!r}")
        if not 0 <= self.size <= MAX_SAFE_INT:
            raise RecordError(f"checkpoint size {self.size} is outside 0..2**53-1")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise RecordError(f"checkpoint root must be {HASH_SIZE} bytes")
        if self.size == 0 and self.root != EMPTY_ROOT:
            raise RecordError("checkpoint of an empty log must carry the empty tree's root")
        check_ts(self.timestamp, "checkpoint timestamp")
        if not isinstance(self.signature, bytes) or len(self.signature) not in (0, SIGNATURE_SIZE):
            raise RecordError(
                f"checkpoint signature must be empty or {SIGNATURE_SIZE} bytes (Ed25519)"
            )

    def signing_bytes(self) -> bytes:
        """The exact bytes the signature covers."""
        return CHECKPOINT_TAG + canonical(
            {
                "origin": self.origin,
                "size": self.size,
                "root": self.root.hex(),
                "timestamp": self.timestamp,
            }
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object form (hex root, base64 signature)."""
        return {
            "origin": self.origin,
            "size": self.size,
            "root": self.root.hex(),
            "timestamp": self.timestamp,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_json(cls, value: Any) -> "Checkpoint":
        """Parse the JSON object form strictly; raises only :class:`RecordError`."""
        if not isinstance(value, dict):
            raise RecordError("a checkpoint must be a JSON object")
        keys = set(value)
        if keys != FIELDS:
            raise RecordError(
                f"checkpoint fields wrong: missing {sorted(FIELDS - keys)}, "
                f"unexpected {sorted(str(k) for k in keys - FIELDS)}"
            )
        root, signature = value["root"], value["signature"]
        if not isinstance(root, str) or not _HEX64.match(root):
            raise RecordError("checkpoint root must be 64 lowercase hex digits")
        if not isinstance(signature, str):
            raise RecordError("checkpoint signature must be a base64 string")
        try:
            sig = base64.b64decode(signature.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise RecordError("checkpoint signature is not valid base64") from None
        if base64.b64encode(sig).decode("ascii") != signature:
            raise RecordError("checkpoint signature is not in canonical base64")
        return cls(value["origin"], value["size"], bytes.fromhex(root), value["timestamp"], sig)


def sign_checkpoint(
    key: Ed25519PrivateKey, origin: str, size: int, root: bytes, timestamp: str
) -> Checkpoint:
    """Build and sign the checkpoint ``(origin, size, root, timestamp)``."""
    unsigned = Checkpoint(origin, size, root, timestamp)
    return replace(unsigned, signature=key.sign(unsigned.signing_bytes()))


def verify_checkpoint(
    cp: Checkpoint, public_key: Ed25519PublicKey, origin: str | None = None
) -> None:
    """Raise :class:`ProofError` unless ``cp`` is signed by ``public_key`` (and, when ``origin``
    is given, names that log)."""
    if origin is not None and cp.origin != origin:
        raise ProofError(f"checkpoint is for log {cp.origin!r}, expected {origin!r}")
    if not cp.signature:
        raise ProofError(f"checkpoint {cp.origin} size {cp.size} is not signed")
    try:
        public_key.verify(cp.signature, cp.signing_bytes())
    except InvalidSignature:
        raise ProofError(
            f"checkpoint {cp.origin} size {cp.size} at {cp.timestamp}: signature does not verify "
            "with the hub's key"
        ) from None
