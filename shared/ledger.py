"""What the hub's Merkle ledger holds and how an agent audits it (DESIGN.md §4.3, "Witnesses").

A ledger leaf binds a record's hash to its place: ``agent \\n stream \\n seq \\n`` + the 32-byte
record hash (the leaf *data*; its RFC 6962 leaf hash is ``shared.merkle.leaf_hash`` of it). Both
the hub (which stores leaves) and the agent (which recomputes the leaves of its own acknowledged
records to check the hub's inclusion proofs) build it here.

The audit is request/response over MQTT on the agent's own topics (``xn/v1/agents/{id}/audit/req``
and ``.../audit/resp``). Both messages are small JSON objects parsed strictly and with bounds, since
either side may be hostile:

request  ``{"id": str, "stream": str, "seqs": [[seq, hash_hex], ...], "kept": [{signed checkpoint}, ...]}``
response ``{"id": str, "checkpoint": {signed checkpoint}, "proofs": [{"seq", "index", "proof"} |
{"seq", "missing": true} | {"seq", "pending": true}], "consistency": [{"from", "proof"}],
"error": str (optional)}``

``kept`` are the checkpoints the agent keeps (the hub signed them): the hub answers with consistency
proofs from each to its current checkpoint (or ``"error"`` when it cannot, e.g. a kept size larger
than its log: the log was truncated), and keeps the largest one each agent reported as a witness
(``DATA/witness/agents/{id}.json``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from shared.checkpoint import Checkpoint
from shared.errors import RecordError
from shared.topics import valid_id

#: Records per audit request: an answer stays far below the broker's packet limit (128 proofs of
#: up to 53 hashes each, hex: < 1 MB).
MAX_AUDIT_SEQS = 128
MAX_AUDIT_FROM = 4
MAX_REQUEST_BYTES = 64 * 1024
MAX_RESPONSE_BYTES = 1024 * 1024
MAX_PROOF_HASHES = 64
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_REQ_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MAX_INT = 2**53 - 1


def leaf_data(agent_id: str, stream_id: str, seq: int, record_hash: bytes) -> bytes:
    """The ledger leaf of a record: its place and its hash."""
    return f"{agent_id}\n{stream_id}\n{seq}\n".encode() + record_hash


def _int(value: Any, what: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= _MAX_INT:
        raise RecordError(f"{what} must be an integer in {minimum}..2**53-1")
    return value


def _hex32(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX64.match(value):
        raise RecordError(f"{what} must be 64 lowercase hex digits")
    return bytes.fromhex(value)


def _object(payload: bytes, limit: int, what: str) -> dict[str, Any]:
    if len(payload) > limit:
        raise RecordError(f"{what} of {len(payload)} bytes exceeds the limit of {limit}")
    try:
        value = json.loads(payload)
    except (ValueError, RecursionError):
        raise RecordError(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise RecordError(f"{what} must be a JSON object")
    return value


@dataclass(frozen=True)
class AuditRequest:
    id: str
    stream: str
    seqs: tuple[tuple[int, bytes], ...]
    kept: tuple[Checkpoint, ...]

    @property
    def from_sizes(self) -> tuple[int, ...]:
        return tuple(k.size for k in self.kept)

    def to_bytes(self) -> bytes:
        return json.dumps({
            "id": self.id, "stream": self.stream,
            "seqs": [[s, h.hex()] for s, h in self.seqs], "kept": [k.to_json() for k in self.kept],
        }).encode()

    @classmethod
    def parse(cls, payload: bytes) -> "AuditRequest":
        """Strict, bounded parse (raises only :class:`RecordError`)."""
        v = _object(payload, MAX_REQUEST_BYTES, "audit request")
        if set(v) != {"id", "stream", "seqs", "kept"}:
            raise RecordError("audit request needs exactly id, stream, seqs, kept")
        if not isinstance(v["id"], str) or not _REQ_ID.match(v["id"]):
            raise RecordError("audit request id must be 1-64 of A-Za-z0-9_.-")
        if not isinstance(v["stream"], str) or not valid_id(v["stream"]):
            raise RecordError("audit request stream is not a valid id")
        seqs, kept = v["seqs"], v["kept"]
        if not isinstance(seqs, list) or len(seqs) > MAX_AUDIT_SEQS:
            raise RecordError(f"audit request seqs must be a list of at most {MAX_AUDIT_SEQS}")
        if not isinstance(kept, list) or len(kept) > MAX_AUDIT_FROM:
            raise RecordError(f"audit request kept must be a list of at most {MAX_AUDIT_FROM} checkpoints")
        pairs: list[tuple[int, bytes]] = []
        for item in seqs:
            if not isinstance(item, list) or len(item) != 2:
                raise RecordError("audit request seqs entries must be [seq, hash]")
            pairs.append((_int(item[0], "seq", 1), _hex32(item[1], "record hash")))
        return cls(v["id"], v["stream"], tuple(pairs), tuple(Checkpoint.from_json(k) for k in kept))


@dataclass(frozen=True)
class InclusionAnswer:
    seq: int
    index: int | None = None
    proof: tuple[bytes, ...] = ()
    missing: bool = False
    pending: bool = False

    def to_json(self) -> dict[str, Any]:
        if self.missing:
            return {"seq": self.seq, "missing": True}
        if self.pending:
            return {"seq": self.seq, "pending": True}
        return {"seq": self.seq, "index": self.index, "proof": [p.hex() for p in self.proof]}


@dataclass(frozen=True)
class AuditResponse:
    id: str
    checkpoint: Checkpoint | None
    proofs: tuple[InclusionAnswer, ...]
    consistency: tuple[tuple[int, tuple[bytes, ...]], ...]
    error: str = ""

    def to_bytes(self) -> bytes:
        body: dict[str, Any] = {
            "id": self.id,
            "checkpoint": self.checkpoint.to_json() if self.checkpoint else None,
            "proofs": [p.to_json() for p in self.proofs],
            "consistency": [{"from": f, "proof": [h.hex() for h in p]} for f, p in self.consistency],
        }
        if self.error:
            body["error"] = self.error
        return json.dumps(body).encode()

    @classmethod
    def parse(cls, payload: bytes) -> "AuditResponse":
        """Strict, bounded parse (raises only :class:`RecordError`)."""
        v = _object(payload, MAX_RESPONSE_BYTES, "audit response")
        if not {"id", "checkpoint", "proofs", "consistency"} <= set(v) <= {
                "id", "checkpoint", "proofs", "consistency", "error"}:
            raise RecordError("audit response fields wrong")
        if not isinstance(v["id"], str) or not _REQ_ID.match(v["id"]):
            raise RecordError("audit response id is malformed")
        cp = None if v["checkpoint"] is None else Checkpoint.from_json(v["checkpoint"])
        error = v.get("error", "")
        if not isinstance(error, str):
            raise RecordError("audit response error must be a string")
        if not isinstance(v["proofs"], list) or len(v["proofs"]) > MAX_AUDIT_SEQS:
            raise RecordError("audit response proofs must be a list")
        answers: list[InclusionAnswer] = []
        for p in v["proofs"]:
            if not isinstance(p, dict):
                raise RecordError("audit response proof must be an object")
            seq = _int(p.get("seq"), "proof seq", 1)
            if p.get("missing") is True and set(p) == {"seq", "missing"}:
                answers.append(InclusionAnswer(seq, missing=True))
            elif p.get("pending") is True and set(p) == {"seq", "pending"}:
                answers.append(InclusionAnswer(seq, pending=True))
            elif set(p) == {"seq", "index", "proof"}:
                answers.append(InclusionAnswer(seq, _int(p["index"], "leaf index"), _hashes(p["proof"])))
            else:
                raise RecordError(f"audit response proof for seq {seq} is malformed")
        if not isinstance(v["consistency"], list) or len(v["consistency"]) > MAX_AUDIT_FROM:
            raise RecordError("audit response consistency must be a short list")
        cons: list[tuple[int, tuple[bytes, ...]]] = []
        for c in v["consistency"]:
            if not isinstance(c, dict) or set(c) != {"from", "proof"}:
                raise RecordError("audit response consistency entry is malformed")
            cons.append((_int(c["from"], "consistency from"), _hashes(c["proof"])))
        return cls(v["id"], cp, tuple(answers), tuple(cons), error[:2000])


def _hashes(value: Any) -> tuple[bytes, ...]:
    if not isinstance(value, list) or len(value) > MAX_PROOF_HASHES:
        raise RecordError(f"a proof must be a list of at most {MAX_PROOF_HASHES} hashes")
    return tuple(_hex32(h, "proof hash") for h in value)
