"""The hub's ingest decision for one batch — pure: no database, no broker, time passed in.

Order of checks (authentication comes before any interpretation of the bodies):

1. framing (``Batch.parse``) — ``malformed``
2. the header's agent is the agent of the topic it came on — ``identity_mismatch``
3. the agent is registered and not revoked — ``unknown_agent``
4. the Ed25519 signature over the header — ``bad_signature``
5. the records hash to the signed head and link to each other — ``bad_signature`` (altered after
   signing) or ``malformed`` (a signed record that is not a record)
6. against the stored stream: already-stored seqs must have the same hash — ``equivocation`` (a
   security alert); the first new record must link to the stored head — ``broken_chain``; a batch
   starting beyond the head is a ``gap`` (not an attack: the agent rewinds and resends)
7. a batch holding nothing new is a harmless duplicate unless it was signed more than
   ``replay_window`` ago — then it is an old batch replayed: ``replay``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.batch import Batch, BatchHeader, hash_records, verify_signature
from shared.canonical import parse_fast
from shared.errors import RecordError, VerificationError
from shared.record import genesis_hash

MALFORMED = "malformed"
IDENTITY_MISMATCH = "identity_mismatch"
REASONS = (
    MALFORMED, IDENTITY_MISMATCH, "unknown_agent", "bad_signature", "broken_chain",
    "equivocation", "replay",
)
#: Reasons that are security alerts, not just bad data.
ALERT_REASONS = frozenset({"equivocation", "bad_signature", IDENTITY_MISMATCH, "replay"})


@dataclass
class StreamHead:
    """What the hub has stored of one stream."""

    head_seq: int
    head_hash: bytes
    last_nonce: int = 0


@dataclass(frozen=True, slots=True)
class NewRecord:
    seq: int
    data: bytes
    hash: bytes
    type: str
    ts: str


@dataclass
class Decision:
    """What to do with one batch. ``kind``: store | duplicate | gap | quarantine."""

    kind: str
    agent_id: str | None
    stream_id: str | None = None
    header: BatchHeader | None = None
    records: list[NewRecord] = field(default_factory=list)
    ack_seq: int | None = None
    reason: str = ""
    detail: str = ""

    @property
    def alert(self) -> bool:
        return self.kind == "quarantine" and self.reason in ALERT_REASONS


class KeyLookup(Protocol):
    def __call__(self, agent_id: str) -> Ed25519PublicKey | None: ...


class StoredHashes(Protocol):
    def __call__(self, agent_id: str, stream_id: str, first: int, last: int) -> dict[int, bytes]: ...


_TAIL = b',"prev":"'


def _peek(data: bytes) -> tuple[int, str, str, str]:
    """``(seq, prev, type, ts)`` of a record WITHOUT parsing its body.

    In canonical form the top-level keys are ordered body, prev, seq, ts, type; the body comes first
    and no string can hold an unescaped quote, so the last ``,"prev":"`` starts the top-level tail.
    The body is interpreted (and strictly parsed) later, by whoever reads the event; its bytes are
    authenticated here by the chain like everything else.
    """
    if not data.startswith(b'{"body":{') or not data.endswith(b"}"):
        raise RecordError("record is not a canonical JSON object starting with its body")
    i = data.rfind(_TAIL)
    if i < 0:
        raise RecordError("record has no top-level prev")
    tail = parse_fast(b"{" + data[i + 1:])
    if not isinstance(tail, dict) or set(tail) != {"prev", "seq", "ts", "type"}:
        raise RecordError("record fields must be exactly body, prev, seq, ts, type")
    seq, prev, type_, ts = tail["seq"], tail["prev"], tail["type"], tail["ts"]
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise RecordError(f"record seq {seq!r} is not an integer")
    if not isinstance(prev, str) or not isinstance(type_, str) or not isinstance(ts, str):
        raise RecordError(f"record {seq}: prev, type and ts must be strings")
    return seq, prev, type_, ts


def decide(
    payload: bytes,
    topic_agent: str | None,
    key_of: KeyLookup,
    head_of: Callable[[str, str], StreamHead | None],
    stored_hashes: StoredHashes,
    now: datetime,
    replay_window_s: float = 600.0,
    max_bytes: int = 16 * 1024 * 1024,
) -> Decision:
    """Decide what one received batch payload means. Never raises: an input no check foresaw is
    quarantined as ``malformed`` (naming the error), so it can never stall the batches after it."""
    def guarded(lookup: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            try:
                return lookup(*args)
            except Exception as exc:
                raise LookupFailed(f"{type(exc).__name__}: {exc}") from exc
        return call

    try:
        return _decide(payload, topic_agent, guarded(key_of), guarded(head_of), guarded(stored_hashes),
                       now, replay_window_s, max_bytes)
    except LookupFailed:
        raise  # the hub's own lookups failed: not the agent's fault, nothing is decided
    except Exception as exc:  # anything else unforeseen comes from the payload: bad input
        return Decision("quarantine", topic_agent, reason=MALFORMED,
                        detail=f"batch could not be decided ({type(exc).__name__}): {str(exc)[:300]}")


class LookupFailed(RuntimeError):
    """A lookup of the hub's own state (key, stream head, stored hashes) raised while deciding: the
    caller rolls the batch back and does not acknowledge it (the agent sends it again)."""


def _decide(
    payload: bytes,
    topic_agent: str | None,
    key_of: KeyLookup,
    head_of: Callable[[str, str], StreamHead | None],
    stored_hashes: StoredHashes,
    now: datetime,
    replay_window_s: float,
    max_bytes: int,
) -> Decision:
    try:
        batch = Batch.parse(payload, max_bytes=max_bytes)
    except RecordError as exc:
        return Decision("quarantine", topic_agent, reason=MALFORMED, detail=str(exc)[:500])
    h = batch.header
    base = Decision("quarantine", topic_agent, stream_id=h.stream, header=h)
    if topic_agent is None or h.agent != topic_agent:
        base.reason = IDENTITY_MISMATCH
        base.detail = f"batch claims agent {h.agent!r} but arrived on the topic of {topic_agent!r}"
        return base
    key = key_of(h.agent)
    if key is None:
        base.reason = "unknown_agent"
        base.detail = f"agent {h.agent!r} is not registered or was revoked"
        return base
    try:
        verify_signature(h, key)
        hashes = hash_records(batch)
    except VerificationError as exc:
        base.reason, base.detail = exc.reason, str(exc)
        return base
    try:
        peeked = [_peek(data) for data in batch.records]
    except RecordError as exc:
        base.reason, base.detail = MALFORMED, f"signed batch holds a bad record: {exc}"
        return base
    for i, (seq, prev, _type, _ts) in enumerate(peeked):
        if seq != h.first + i:
            base.reason = "bad_signature"
            base.detail = f"record {i + 1} of batch {h.first}-{h.last} has seq {seq}"
            return base
        if i and prev != hashes[i - 1].hex():
            base.reason = "bad_signature"
            base.detail = (
                f"record {seq} does not link to record {seq - 1} of the signed batch "
                "(a record was altered after signing)"
            )
            return base

    head = head_of(h.agent, h.stream)
    head_seq = head.head_seq if head else 0
    if h.first > head_seq + 1:
        return Decision("gap", h.agent, h.stream, h, ack_seq=head_seq,
                        detail=f"expected seq {head_seq + 1}, batch starts at {h.first}")
    overlap_last = min(h.last, head_seq)
    if overlap_last >= h.first:
        stored = stored_hashes(h.agent, h.stream, h.first, overlap_last)
        for seq in range(h.first, overlap_last + 1):
            if stored.get(seq) != hashes[seq - h.first]:
                base.reason = "equivocation"
                base.detail = (
                    f"agent {h.agent} stream {h.stream} seq {seq}: already stored with hash "
                    f"{(stored.get(seq) or b'').hex()[:16]}…, now signed with a different hash "
                    f"{hashes[seq - h.first].hex()[:16]}…"
                )
                return base
    if h.last <= head_seq:
        try:
            age = (now - datetime.fromisoformat(h.sent_at)).total_seconds()
        except (ValueError, TypeError):
            age = 0.0
        if age > replay_window_s:
            base.reason = "replay"
            base.detail = (
                f"batch {h.stream}:{h.first}-{h.last} (nonce {h.nonce}) signed at {h.sent_at}, "
                f"{int(age)} s ago, holds nothing new: an old batch sent again"
            )
            return base
        return Decision("duplicate", h.agent, h.stream, h, ack_seq=head_seq)
    start = head_seq + 1
    expected_prev = head.head_hash if head else genesis_hash(h.agent, h.stream)
    i0 = start - h.first
    if peeked[i0][1] != expected_prev.hex():
        base.reason = "broken_chain"
        base.detail = (
            f"agent {h.agent} stream {h.stream} seq {start}: prev does not match the stored "
            f"{'head' if head else 'genesis'} (record out of chain)"
        )
        return base
    new = [
        NewRecord(seq, batch.records[i], hashes[i], type_, ts)
        for i, (seq, _prev, type_, ts) in enumerate(peeked)
        if i >= i0
    ]
    return Decision("store", h.agent, h.stream, h, records=new, ack_seq=h.last)
