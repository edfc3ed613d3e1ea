"""The MQTT signalling messages (shared/rtcsignal.py): round trips, exact errors, fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import RecordError
from shared.rtcsignal import (
    Answer,
    Closed,
    Error,
    Keepalive,
    Offer,
    Stop,
    parse_down,
    parse_up,
    topic_leaf,
)

SDP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n"
SESSION = "abcDEF123_-x"


@pytest.mark.parametrize("message", [
    Offer(SESSION, "cam1", SDP), Stop(SESSION), Keepalive((SESSION, "other-session-1")), Keepalive(()),
])
def test_hub_messages_round_trip(message: Offer | Stop | Keepalive) -> None:
    leaf = topic_leaf(message)
    assert leaf.startswith("down/")
    assert parse_down(leaf.split("/")[1], bytes(message)) == message


@pytest.mark.parametrize("message", [
    Answer(SESSION, "cam1", SDP), Error(SESSION, "cam1", "unknown_camera", "no camera 'cam1'"),
    Closed(SESSION, "connection failed"), Closed(SESSION),
])
def test_agent_messages_round_trip(message: Answer | Error | Closed) -> None:
    leaf = topic_leaf(message)
    assert leaf.startswith("up/")
    assert parse_up(leaf.split("/")[1], bytes(message)) == message


def body(**fields: object) -> bytes:
    return json.dumps({"v": 1, **fields}).encode()


@pytest.mark.parametrize(("leaf", "payload", "error"), [
    ("hello", body(), "unknown agent message 'hello' (known: answer, closed, error)"),
    ("answer", b"{", "rtc answer: not JSON"),
    ("answer", b"[1]", "rtc answer: message must be a JSON object"),
    ("answer", json.dumps({"v": 2}).encode(), "rtc answer: unsupported version 2 (this side speaks 1)"),
    ("answer", body(session="short", camera_id="c", sdp=SDP), "session 'short' must be 8-64"),
    ("answer", body(session=SESSION, camera_id="c", sdp="hello"), "rtc answer: sdp does not start with 'v=0'"),
    ("answer", body(session=SESSION, camera_id="../x", sdp=SDP), "camera_id '../x' is not a valid id"),
    ("answer", body(session=SESSION, camera_id="c", sdp=1), "rtc answer: 'sdp' must be a string"),
    ("error", body(session=SESSION, camera_id="c", error="boom"), "error 'boom' is not one of"),
    ("answer", b" " * 80_000, "is larger than"),
])
def test_malformed_agent_messages_say_exactly_what_is_wrong(leaf: str, payload: bytes, error: str) -> None:
    with pytest.raises(RecordError, match=error.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_up(leaf, payload)


def test_malformed_hub_messages() -> None:
    with pytest.raises(RecordError, match="unknown hub message 'answer'"):
        parse_down("answer", body())
    with pytest.raises(RecordError, match="'sessions' must be a list of at most 256"):
        parse_down("keepalive", body(sessions=[SESSION] * 257))


@given(st.sampled_from(["offer", "stop", "keepalive", "answer", "error", "closed", "x"]), st.binary(max_size=300))
def test_parsers_raise_only_record_errors_on_bytes(leaf: str, payload: bytes) -> None:
    for parse in (parse_up, parse_down):
        try:
            parse(leaf, payload)
        except RecordError:
            pass


@given(st.dictionaries(st.sampled_from(["v", "session", "camera_id", "sdp", "error", "detail", "sessions",
                                        "reason"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=20), st.just(1), st.just(SESSION),
                                 st.just(SDP), st.lists(st.text(max_size=12), max_size=3))))
def test_parsers_raise_only_record_errors_on_json(fields: dict[str, object]) -> None:
    payload = json.dumps(fields).encode()
    for leaf in ("answer", "error", "closed"):
        try:
            parse_up(leaf, payload)
        except RecordError:
            pass
    for leaf in ("offer", "stop", "keepalive"):
        try:
            parse_down(leaf, payload)
        except RecordError:
            pass
