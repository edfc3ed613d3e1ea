"""Signed checkpoints: sign/verify, tampering, JSON round trip and strict parsing."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from shared.canonical import canonical, parse
from shared.checkpoint import CHECKPOINT_TAG, Checkpoint, sign_checkpoint, verify_checkpoint
from shared.errors import ProofError, RecordError
from shared.merkle import EMPTY_ROOT, leaf_hash

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
ROOT = leaf_hash(b"root")
TS = "2024-05-01T09:30:00+08:00"
ORIGIN = "hub.xiaoneng.example/ledger"


def good() -> Checkpoint:
    return sign_checkpoint(KEY, ORIGIN, 42, ROOT, TS)


def test_sign_and_verify() -> None:
    cp = good()
    assert len(cp.signature) == 64
    verify_checkpoint(cp, KEY.public_key())
    verify_checkpoint(cp, KEY.public_key(), origin=ORIGIN)


def test_signing_bytes_are_tagged_canonical_json() -> None:
    cp = good()
    assert cp.signing_bytes() == (
        b"xiaoneng/v1/checkpoint\x00"
        + b'{"origin":"hub.xiaoneng.example/ledger","root":"' + ROOT.hex().encode()
        + b'","size":42,"timestamp":"2024-05-01T09:30:00+08:00"}'
    )
    assert cp.signing_bytes().startswith(CHECKPOINT_TAG)
    KEY.public_key().verify(cp.signature, cp.signing_bytes())  # plain Ed25519, no surprises


@pytest.mark.parametrize(
    "change",
    [
        {"origin": "other-hub"},
        {"size": 43},
        {"root": leaf_hash(b"other")},
        {"timestamp": "2024-05-01T09:30:01+08:00"},
        {"timestamp": "2024-05-01T01:30:00+00:00"},  # same instant, different signed text
        {"signature": bytes(64)},
    ],
)
def test_tampering_is_detected(change: dict[str, Any]) -> None:
    with pytest.raises(ProofError, match="signature does not verify"):
        verify_checkpoint(dataclasses.replace(good(), **change), KEY.public_key())


def test_wrong_key_unsigned_and_wrong_origin() -> None:
    with pytest.raises(ProofError, match="signature does not verify with the hub's key"):
        verify_checkpoint(good(), OTHER.public_key())
    with pytest.raises(ProofError, match="is not signed"):
        verify_checkpoint(Checkpoint(ORIGIN, 42, ROOT, TS), KEY.public_key())
    with pytest.raises(ProofError, match="expected 'other-hub'"):
        verify_checkpoint(good(), KEY.public_key(), origin="other-hub")


def test_json_round_trip_through_canonical_bytes() -> None:
    cp = good()
    value = cp.to_json()
    assert value == {
        "origin": ORIGIN, "size": 42, "root": ROOT.hex(), "timestamp": TS,
        "signature": base64.b64encode(cp.signature).decode(),
    }
    again = Checkpoint.from_json(parse(canonical(value)))
    assert again == cp
    verify_checkpoint(again, KEY.public_key())
    unsigned = Checkpoint(ORIGIN, 0, EMPTY_ROOT, TS)
    assert Checkpoint.from_json(unsigned.to_json()) == unsigned


@given(
    st.from_regex(r"[\x21-\x7e]{1,255}", fullmatch=True),
    st.integers(1, 2**53 - 1),
    st.binary(min_size=32, max_size=32),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
)
def test_round_trip_property(origin: str, size: int, root: bytes, ts: str) -> None:
    cp = sign_checkpoint(KEY, origin, size, root, ts)
    again = Checkpoint.from_json(parse(canonical(cp.to_json())))
    assert again == cp
    verify_checkpoint(again, KEY.public_key())


def _with(**change: Any) -> dict[str, Any]:
    value = good().to_json()
    value.update(change)
    return {k: v for k, v in value.items() if v is not _DROP}


_DROP = object()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must be a JSON object"),
        ("checkpoint", "must be a JSON object"),
        (_with(size=_DROP), r"missing \['size'\]"),
        (_with(extra=1), r"unexpected \['extra'\]"),
        (_with(origin=""), "origin"),
        (_with(origin="has space"), "origin"),
        (_with(origin=7), "origin"),
        (_with(origin="x" * 256), "origin"),
        (_with(size="42"), "size must be an integer"),
        (_with(size=True), "size must be an integer"),
        (_with(size=-1), "outside"),
        (_with(size=2**53), "outside"),
        (_with(root=ROOT.hex().upper()), "64 lowercase hex"),
        (_with(root=ROOT.hex()[:-2]), "64 lowercase hex"),
        (_with(root=None), "64 lowercase hex"),
        (_with(size=0), "empty log"),
        (_with(timestamp="2024-05-01T09:30:00"), "no UTC offset"),
        (_with(timestamp="yesterday"), "not ISO-8601"),
        (_with(timestamp=1714527000), "ISO-8601 string"),
        (_with(signature=None), "base64 string"),
        (_with(signature="not base64!"), "not valid base64"),
        (_with(signature="é"), "not valid base64"),
        (_with(signature=base64.b64encode(bytes(63)).decode()), "64 bytes"),
        (_with(signature=base64.b64encode(bytes(64)).decode().rstrip("=")), "not valid base64"),
        (_with(signature=base64.b64encode(bytes(64)).decode()[:-3] + "B=="), "canonical base64"),
    ],
)
def test_malformed_json_raises_record_error(value: Any, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        Checkpoint.from_json(value)


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=6),
    max_leaves=20,
))
def test_from_json_raises_only_record_error(value: Any) -> None:
    try:
        Checkpoint.from_json(value)
    except RecordError:
        pass


@given(st.dictionaries(
    st.sampled_from(["origin", "size", "root", "timestamp", "signature"]),
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
))
def test_from_json_with_right_keys_wrong_values_raises_only_record_error(value: Any) -> None:
    full = {**good().to_json(), **value}
    try:
        Checkpoint.from_json(full)
    except RecordError:
        pass
