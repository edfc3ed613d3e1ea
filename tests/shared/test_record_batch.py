"""Records, chains and signed batches: round trips, tamper detection, and fuzzed framing."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.batch import Batch, hash_records, sign_batch, verify_signature
from shared.errors import RecordError, SignatureError
from shared.record import ChainBuilder, Record, genesis_hash, record_hash, verify_links

TS = "2026-11-26T10:00:00+08:00"
KEY = Ed25519PrivateKey.generate()


def chain(n: int, agent: str = "a1", stream: str = "s1") -> list:
    builder = ChainBuilder(agent, stream)
    return [builder.append("case.accepted", TS, {"case_id": f"C{i}", "fee_fen": i}) for i in range(n)]


def test_chain_links_from_genesis() -> None:
    records = chain(5)
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert verify_links(genesis_hash("a1", "s1"), [(r.data, r.hash) for r in records]) == 5
    assert Record.parse(records[0].data).prev == genesis_hash("a1", "s1").hex()


def test_genesis_binds_agent_and_stream() -> None:
    assert genesis_hash("a1", "s1") != genesis_hash("a2", "s1") != genesis_hash("a1", "s2")


def test_broken_link_named() -> None:
    records = chain(3)
    with pytest.raises(RecordError, match="record 3: expected seq 2"):
        verify_links(genesis_hash("a1", "s1"), [(records[0].data, records[0].hash), (records[2].data, records[2].hash)])


def test_builder_resumes_from_persisted_head() -> None:
    first = chain(3)
    builder = ChainBuilder("a1", "s1", seq=3, head=first[-1].hash)
    resumed = builder.append("case.accepted", TS, {"case_id": "C3", "fee_fen": 3})
    assert resumed == chain(4)[3]


@pytest.mark.parametrize(
    "kwargs, words",
    [({"seq": 0}, "seq"), ({"prev": "zz"}, "prev"), ({"ts": "2026-11-26T10:00:00"}, "offset"),
     ({"ts": "yesterday"}, "ISO"), ({"type": "Case"}, "type"), ({"body": []}, "body")],
)
def test_record_validation(kwargs: dict, words: str) -> None:
    base = {"seq": 1, "prev": "0" * 64, "ts": TS, "type": "case.accepted", "body": {}}
    with pytest.raises(RecordError, match=words):
        Record(**{**base, **kwargs})


def test_batch_round_trip_and_signature() -> None:
    records = chain(10)
    batch = sign_batch(KEY, "a1", "s1", records, nonce=7, sent_at=TS)
    parsed = Batch.parse(bytes(batch))
    assert parsed == batch
    verify_signature(parsed.header, KEY.public_key())
    assert hash_records(parsed) == [r.hash for r in records]


def test_signature_from_another_key_fails() -> None:
    batch = sign_batch(Ed25519PrivateKey.generate(), "a1", "s1", chain(2), 1, TS)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(batch.header, KEY.public_key())


def test_header_field_change_breaks_signature() -> None:
    batch = sign_batch(KEY, "a1", "s1", chain(2), 1, TS)
    for change in ({"nonce": 2}, {"agent": "a2"}, {"sent_at": "2026-11-26T11:00:00+08:00"}):
        with pytest.raises(SignatureError):
            verify_signature(replace(batch.header, **change), KEY.public_key())


def test_altered_last_record_fails_head_check() -> None:
    records = chain(3)
    batch = sign_batch(KEY, "a1", "s1", records, 1, TS)
    forged = Batch(batch.header, (*batch.records[:2], batch.records[2].replace(b"C2", b"C9")))
    with pytest.raises(SignatureError, match="altered"):
        hash_records(forged)


@pytest.mark.parametrize(
    "payload, words",
    [(b"", "JSON|no records"), (b"{}", "no records"), (b"{}\n{}", "fields"), (b"not json\nx", "JSON"),
     (b"[1]\nx", "object")],
)
def test_malformed_batches(payload: bytes, words: str) -> None:
    with pytest.raises(RecordError, match=words):
        Batch.parse(payload)


def test_version_must_be_the_integer_1() -> None:
    raw = bytes(sign_batch(KEY, "a1", "s1", chain(1), 1, TS))
    for bad in (b'"v":true', b'"v":"1"', b'"v":2'):
        with pytest.raises(RecordError, match="version"):
            Batch.parse(raw.replace(b'"v":1', bad))


def test_count_mismatch_and_limits() -> None:
    raw = bytes(sign_batch(KEY, "a1", "s1", chain(3), 1, TS))
    with pytest.raises(RecordError, match="carries 2"):
        Batch.parse(raw.rsplit(b"\n", 1)[0])
    with pytest.raises(RecordError, match="exceeds the limit"):
        Batch.parse(raw, max_bytes=100)


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_fuzzed_payloads_raise_only_record_error(data: bytes) -> None:
    try:
        Batch.parse(data)
    except RecordError:
        pass


@settings(max_examples=200)
@given(st.integers(0, 2000), st.binary(min_size=1, max_size=3))
def test_mutated_batches_raise_only_declared_errors(pos: int, junk: bytes) -> None:
    raw = bytes(sign_batch(KEY, "a1", "s1", chain(3), 1, TS))
    pos %= len(raw)
    mutated = raw[:pos] + junk + raw[pos + len(junk):]
    try:
        batch = Batch.parse(mutated)
        verify_signature(batch.header, KEY.public_key())
        hashes = hash_records(batch)
        verify_links(genesis_hash("a1", "s1"), list(zip(batch.records, hashes)))
    except (RecordError, SignatureError):
        return
    assert mutated == raw or record_hash(mutated) is not None
