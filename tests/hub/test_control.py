"""Heartbeat and status parsing: strict, bounded, and never raising anything but ``Rejected``."""

from __future__ import annotations

import json

import pytest

from hub.control import (
    MAX_CONTROL_BYTES,
    MAX_DEPTH,
    MAX_HEALTH_BYTES,
    REASONS,
    Rejected,
    nesting_depth,
    parse_health,
    parse_status,
    shallow_object,
)

AGENT_HEARTBEAT = {
    "agent": "a1", "stream": "s1", "ts": "2026-12-03T08:00:00+08:00", "connected": True, "rtt_ms": 12,
    "reconnects": 0, "resends": 0, "rejections": 0, "outbox_depth": 3, "outbox_bytes": 900,
    "outbox_alarm": False, "outbox_full": False, "full_refusals": 0, "oldest_unacked_s": 4.5,
    "acked_seq": 10, "head_seq": 13, "last_error": "", "ping": 7, "catching_up": True,
    "capture": [{"name": "db", "state": "ok", "detail": "", "lag_seconds": 2}] * 20,
    "cdc_lag_s": 2, "source_health": "ok", "degraded": "",
    "cameras": [{"camera_id": f"c{i}", "windows": ["w1", "w2"], "feed": "live"} for i in range(30)],
}


def test_a_real_heartbeat_is_accepted_with_its_figures() -> None:
    h = parse_health(json.dumps(AGENT_HEARTBEAT).encode())
    assert h.ping == 7 and h.catching_up is True
    assert h.numbers["rtt_ms"] == 12 and h.numbers["oldest_unacked_s"] == 4 and h.numbers["acked_seq"] == 10
    assert h.source_health == "ok" and h.degraded is None
    assert h.body["cameras"][29]["camera_id"] == "c29"  # unknown fields kept for the UI


@pytest.mark.parametrize(("payload", "reason"), [
    (b"{" + b" " * MAX_HEALTH_BYTES + b"}", "too_large"),
    (b"", "not_object"),
    (b"[1, 2]", "not_object"),
    (b'"online"', "not_object"),
    (b"\xff\xfe{}", "not_object"),
    (b'{"source_health": "\xff"}', "not_utf8"),
    (b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}", "too_deep"),
    (b'{"a":' + b"[{" * 5 + b"}]" * 5 + b"}", "too_deep"),
    (b'{"a":' + b"[" * 2000, "too_deep"),
    (b'{"a": [1, 2}', "too_deep"),  # brackets that do not balance
    (b'{"ping": 1,}', "not_json"),
    (b'{"rtt_ms": NaN}', "bad_number"),
    (b'{"rtt_ms": -Infinity}', "bad_number"),
    (b'{"rtt_ms": 1e999}', "bad_number"),
    (b'{"x": ' + b"9" * 4000 + b"}", "bad_number"),
    (b'{"rtt_ms": 9007199254740993}', "bad_field"),
    (b'{"outbox_depth": -9007199254740993}', "bad_field"),
    (b'{"rtt_ms": 1e300}', "bad_field"),
    (b'{"rtt_ms": "fast"}', "bad_field"),
    (b'{"ping": true}', "bad_field"),
    (b'{"ping": {"n": 1}}', "bad_field"),
    (b'{"catching_up": "yes"}', "bad_field"),
    (b'{"source_health": 5}', "bad_field"),
])
def test_bad_heartbeats_are_rejected_with_a_bounded_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse_health(payload)
    assert caught.value.reason == reason and reason in REASONS


def test_every_number_kept_is_within_the_safe_range() -> None:
    edge = 2**53 - 1
    h = parse_health(json.dumps({"rtt_ms": edge, "acked_seq": -edge, "cdc_lag_s": 1.9}).encode())
    assert h.numbers["rtt_ms"] == edge and h.numbers["acked_seq"] == -edge and h.numbers["cdc_lag_s"] == 1


def test_strings_are_cut_and_depth_counts_outside_strings() -> None:
    h = parse_health(json.dumps({"degraded": "x" * 5000, "note": "[[[[[[[[[[[[[[[["}).encode())
    assert h.degraded == "x" * 500
    assert nesting_depth(b'{"a": "[[[[[[[[[[[[[["}') == 1
    assert nesting_depth(b'{"a": [[], {"b": [[1]]}], "c": {}}') == 5
    assert nesting_depth(b"[" * 100) == MAX_DEPTH + 1


def test_status_must_say_online_or_offline() -> None:
    assert parse_status(b'{"state": "online", "stream": "s1", "ts": "x"}').online is True
    assert parse_status(b'{"state": "offline"}').online is False
    for bad in (b'{"state": "up"}', b'{"state": 1}', b'{}', b'{"state": ["online"]}'):
        with pytest.raises(Rejected) as caught:
            parse_status(bad)
        assert caught.value.reason == "bad_field"


def test_shallow_object_checks_without_parsing() -> None:
    shallow_object(b'{"v": 1, "sdp": "v=0\\r\\n[[[[[[[[[[["}', 1000)
    for payload, reason in ((b"x" * 2000, "too_large"), (b"[]", "not_object"), (b'{"a":' + b"[" * 50, "too_deep")):
        with pytest.raises(Rejected) as caught:
            shallow_object(payload, 1000)
        assert caught.value.reason == reason


def test_a_status_is_still_limited_to_16_kib() -> None:
    with pytest.raises(Rejected) as caught:
        parse_status(b'{"state": "online", "pad": "' + b"x" * MAX_CONTROL_BYTES + b'"}')
    assert caught.value.reason == "too_large"
