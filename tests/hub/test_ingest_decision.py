"""The pure ingest decision: every way a batch can be good, repeated, early, or hostile."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.ingest import Decision, StreamHead, decide
from shared.batch import Batch, sign_batch
from shared.record import ChainBuilder, Chained
from shared.timefmt import SHANGHAI

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
TS = NOW.isoformat()
KEY = Ed25519PrivateKey.generate()


class World:
    """A fake store: heads and stored hashes, as the hub would have them."""

    def __init__(self) -> None:
        self.heads: dict[tuple[str, str], StreamHead] = {}
        self.hashes: dict[tuple[str, str, int], bytes] = {}
        self.keys: dict[str, Ed25519PublicKey] = {"a1": KEY.public_key()}

    def key_of(self, agent: str) -> Ed25519PublicKey | None:
        return self.keys.get(agent)

    def head(self, agent: str, stream: str) -> StreamHead | None:
        return self.heads.get((agent, stream))

    def stored(self, agent: str, stream: str, first: int, last: int) -> dict[int, bytes]:
        return {s: self.hashes[(agent, stream, s)] for s in range(first, last + 1) if (agent, stream, s) in self.hashes}

    def run(self, payload: bytes, topic_agent: str | None = "a1", now: datetime = NOW) -> Decision:
        d = decide(payload, topic_agent, self.key_of, self.head, self.stored, now)
        if d.kind == "store":
            for r in d.records:
                self.hashes[(d.agent_id, d.stream_id, r.seq)] = r.hash  # type: ignore[index]
            last = d.records[-1]
            self.heads[(d.agent_id, d.stream_id)] = StreamHead(last.seq, last.hash)  # type: ignore[index]
        return d


def records(n: int, stream: str = "s1", agent: str = "a1") -> list[Chained]:
    b = ChainBuilder(agent, stream)
    return [b.append("case.accepted", TS, {"case_id": f"C{i}"}) for i in range(n)]


def batch(recs: list[Chained], key: Ed25519PrivateKey = KEY, nonce: int = 1, sent_at: str = TS,
          agent: str = "a1", stream: str = "s1") -> bytes:
    return bytes(sign_batch(key, agent, stream, recs, nonce, sent_at))


def test_store_then_duplicate_then_continue() -> None:
    w, recs = World(), records(6)
    d = w.run(batch(recs[:3]))
    assert d.kind == "store" and [r.seq for r in d.records] == [1, 2, 3] and d.ack_seq == 3
    d = w.run(batch(recs[:3], nonce=2))
    assert d.kind == "duplicate" and d.ack_seq == 3
    d = w.run(batch(recs[1:6], nonce=3))  # overlaps: only 4..6 are new
    assert d.kind == "store" and [r.seq for r in d.records] == [4, 5, 6]


def test_gap_is_not_an_attack() -> None:
    w, recs = World(), records(6)
    w.run(batch(recs[:2]))
    d = w.run(batch(recs[3:]))
    assert d.kind == "gap" and d.ack_seq == 2


def test_equivocation_same_seq_other_hash() -> None:
    w = World()
    w.run(batch(records(3)))
    other = ChainBuilder("a1", "s1")
    forked = [other.append("case.accepted", TS, {"case_id": f"X{i}"}) for i in range(3)]
    d = w.run(batch(forked, nonce=5))
    assert d.kind == "quarantine" and d.reason == "equivocation" and d.alert
    assert "seq 1" in d.detail


def test_record_out_of_chain() -> None:
    w = World()
    w.run(batch(records(3)))
    rogue = ChainBuilder("a1", "s1", seq=3, head=b"\x11" * 32)
    d = w.run(batch([rogue.append("case.step", TS, {})], nonce=2))
    assert d.kind == "quarantine" and d.reason == "broken_chain"


def test_first_record_must_link_to_genesis() -> None:
    d = World().run(batch(records(2, stream="other")[:2], stream="s1"))
    assert d.reason in {"broken_chain", "bad_signature"} and d.kind == "quarantine"


def test_other_key() -> None:
    d = World().run(batch(records(2), key=Ed25519PrivateKey.generate()))
    assert (d.kind, d.reason) == ("quarantine", "bad_signature")


def test_body_altered_after_signing() -> None:
    raw = batch(records(3))
    d = World().run(raw.replace(b'"case_id":"C1"', b'"case_id":"C7"'))
    assert (d.kind, d.reason) == ("quarantine", "bad_signature")
    assert "altered" in d.detail


def test_unknown_agent_and_identity_mismatch() -> None:
    w = World()
    d = w.run(batch(records(2, agent="ghost"), agent="ghost"), topic_agent="ghost")
    assert (d.kind, d.reason) == ("quarantine", "unknown_agent")
    d = w.run(batch(records(2)), topic_agent="a2")
    assert (d.kind, d.reason) == ("quarantine", "identity_mismatch")


def test_old_batch_replayed() -> None:
    w, recs = World(), records(3)
    old = batch(recs, sent_at=(NOW - timedelta(hours=2)).isoformat())
    assert w.run(old, now=NOW - timedelta(hours=2)).kind == "store"
    d = w.run(old)
    assert (d.kind, d.reason) == ("quarantine", "replay")
    # a fresh resend of the same records is a harmless duplicate
    assert w.run(batch(recs, nonce=9)).kind == "duplicate"


def test_malformed() -> None:
    d = World().run(b"\x00garbage")
    assert (d.kind, d.reason) == ("quarantine", "malformed")


def test_signed_garbage_record() -> None:
    recs = records(1)
    good = sign_batch(KEY, "a1", "s1", recs, 1, TS)
    bad = Chained(1, b'{"seq":1}', recs[0].hash)
    forged = sign_batch(KEY, "a1", "s1", [bad], 1, TS)
    d = World().run(bytes(Batch(replace(forged.header), forged.records)))
    assert d.kind == "quarantine" and d.reason in {"malformed", "bad_signature"}
    assert World().run(bytes(good)).kind == "store"


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_fuzz_never_raises(data: bytes) -> None:
    d = World().run(data)
    assert d.kind == "quarantine"


@settings(max_examples=200)
@given(st.integers(0, 5000), st.binary(min_size=1, max_size=4))
def test_fuzz_mutations_never_store_altered_bytes(pos: int, junk: bytes) -> None:
    raw = batch(records(4))
    pos %= len(raw)
    mutated = raw[:pos] + junk + raw[pos + len(junk):]
    d = World().run(mutated)
    if mutated != raw:
        assert d.kind != "store" or b"".join(r.data for r in d.records) in raw


@pytest.mark.parametrize("n", [1, 2, 1000])
def test_sizes(n: int) -> None:
    assert World().run(batch(records(n))).kind == "store"
