"""Canonical bytes: agree with the reference RFC 8785 implementation; reject what JCS can't sign."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.canonical import MAX_SAFE_INT, canonical, parse, parse_canonical
from shared.errors import CanonicalError, RecordError

keys = st.text(max_size=12)
scalars = st.none() | st.booleans() | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.text(max_size=30)
values = st.recursive(
    scalars, lambda kids: st.lists(kids, max_size=5) | st.dictionaries(keys, kids, max_size=5), max_leaves=25
)


def _encodable(value: object) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


@settings(max_examples=400)
@given(values)
def test_matches_reference_rfc8785(value: object) -> None:
    if not _encodable(value):
        with pytest.raises(CanonicalError):
            canonical(value)
        return
    assert canonical(value) == rfc8785.dumps(value)


@given(values)
def test_round_trip(value: object) -> None:
    if _encodable(value):
        data = canonical(value)
        assert parse_canonical(data) == value


def test_utf16_key_order_differs_from_code_points() -> None:
    # By code point U+FF61 < U+1F600; by UTF-16 code unit 0xD83D (the emoji's lead) < 0xFF61.
    value = {"\U0001f600": 1, "\uff61": 2, "a": 3}
    assert canonical(value) == rfc8785.dumps(value)
    assert canonical(value).index("\U0001f600".encode()) < canonical(value).index("\uff61".encode())
    assert json.dumps(value, sort_keys=True, ensure_ascii=False).index("\uff61") < json.dumps(
        value, sort_keys=True, ensure_ascii=False).index("\U0001f600")


def test_known_bytes() -> None:
    assert canonical({"b": [1, "x", None], "a": {"d": True, "c": "中文"}}) == (
        '{"a":{"c":"中文","d":true},"b":[1,"x",null]}'.encode()
    )
    assert canonical("\u0001\n\"\\") == b'"\\u0001\\n\\"\\\\"'


@pytest.mark.parametrize(
    "bad, words",
    [(1.5, "floats"), (2**53, "outside"), ({1: "x"}, "not a string"), ({"a": {1, 2}}, "no JSON form"),
     ("\ud800", "surrogate")],
)
def test_rejects_unsignable(bad: object, words: str) -> None:
    with pytest.raises(CanonicalError, match=words):
        canonical(bad)


@pytest.mark.parametrize(
    "data, words",
    [(b'{"a":1.0}', "floats"), (b'{"a":NaN}', "NaN"), (b'{"a":1,"a":2}', "duplicate"), (b"\xff", "UTF-8"),
     (b'{"a":', "not JSON"), (b"[" * 100000, "deep|not JSON")],
)
def test_parse_is_strict(data: bytes, words: str) -> None:
    with pytest.raises(RecordError, match=words):
        parse(data)


def test_parse_canonical_rejects_other_forms() -> None:
    with pytest.raises(RecordError, match="canonical"):
        parse_canonical(b'{"b":1, "a":2}')


@given(st.binary(max_size=200))
def test_parse_raises_only_record_error(data: bytes) -> None:
    try:
        parse(data)
    except RecordError:
        pass
