"""Strict, bounded parsing of what an agent says about its link: heartbeats and status — pure.

These messages arrive on the hub's MQTT network thread from any agent login, so nothing here may
raise anything but :class:`Rejected`, recurse without bound, or hand a number to the store that
SQLite cannot hold. The checks, cheapest first:

1. size (``MAX_CONTROL_BYTES``; heartbeats ``MAX_HEALTH_BYTES``) and first byte (``{``), before any parsing;
2. nesting depth (``MAX_DEPTH``), measured on the bytes with strings removed (C-speed), before
   parsing — a deeply nested payload never reaches the JSON parser's recursion;
3. strict JSON: UTF-8, no NaN/Infinity, no float that overflows, no integer of more than 16 digits;
4. the schema: a known field of the wrong type rejects the whole message; every number the hub
   stores is within ±(2**53-1). Fields the hub does not know are kept (for the UI) but not
   interpreted.

Each rejection carries one of :data:`REASONS` (bounded label values for the metrics).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

MAX_CONTROL_BYTES = 16 * 1024
#: Heartbeats may be larger than status messages: an agent with many cameras lists each one (id,
#: hall, windows, feed state, reason). Measured with agent/camera/service.py's compact fields:
#: ~200 bytes a camera with the demo's ids, ~850 with 64-character ids, 8 windows of 64-character
#: ids and an 80-character reason — 64 such cameras plus the uplink's fields are ~56 KiB.
MAX_HEALTH_BYTES = 64 * 1024
MAX_DEPTH = 8
MAX_SAFE_INT = 2**53 - 1
MAX_TEXT = 500

REASONS = ("too_large", "not_object", "not_utf8", "too_deep", "not_json", "bad_number", "bad_field")

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


class Rejected(Exception):
    """A control message the hub refuses; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def nesting_depth(payload: bytes, limit: int = MAX_DEPTH) -> int:
    """How deep ``[`` / ``{`` nest outside strings, up to ``limit + 1`` ("deeper than the limit";
    also for brackets that do not balance). C-speed: strings removed by a regular expression,
    then innermost empty pairs removed once per level."""
    opening = payload.count(b"[") + payload.count(b"{")
    if opening <= 1:
        return opening
    brackets = _STRING.sub(b"", payload).translate(None, _NOT_BRACKET)
    if b"[" * (limit + 1) in brackets or b"{" * (limit + 1) in brackets:
        return limit + 1
    depth = 0
    while brackets:
        if depth > limit:
            return limit + 1
        shorter = _EMPTY_PAIR.sub(b"", brackets)
        if len(shorter) == len(brackets):
            return limit + 1  # unbalanced: no JSON the parser would take
        brackets, depth = shorter, depth + 1
    return depth


def _bad_constant(text: str) -> Any:
    raise Rejected("bad_number", f"{text} is not a number JSON allows")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Rejected("bad_number", f"{text[:40]} overflows a double")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 16:
        raise Rejected("bad_number", f"integer of {len(text)} digits")
    return int(text)


_DECODER = json.JSONDecoder(parse_constant=_bad_constant, parse_float=_float, parse_int=_int)


def parse_object(payload: bytes, max_bytes: int = MAX_CONTROL_BYTES, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """A JSON object of at most ``max_bytes`` nested at most ``max_depth`` deep, or :class:`Rejected`."""
    if len(payload) > max_bytes:
        raise Rejected("too_large", f"{len(payload)} bytes, the limit is {max_bytes}")
    if not payload[:1] == b"{":
        raise Rejected("not_object", "does not start with '{'")
    if nesting_depth(payload, max_depth) > max_depth:
        raise Rejected("too_deep", f"nested deeper than {max_depth} (or brackets that do not balance)")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("not_utf8", f"not UTF-8 at byte {exc.start}") from None
    try:
        value = _DECODER.decode(text)
    except Rejected:
        raise
    except RecursionError:
        raise Rejected("too_deep", "nested too deeply to parse") from None
    except ValueError as exc:
        raise Rejected("not_json", str(exc)[:200]) from None
    if not isinstance(value, dict):
        raise Rejected("not_object", f"a JSON {type(value).__name__}, not an object")
    return value


def _number(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Rejected("bad_field", f"{key} must be a number, not {type(value).__name__}")
    if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        raise Rejected("bad_field", f"{key} is outside ±(2**53-1)")
    return int(value)


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Rejected("bad_field", f"{key} must be a string, not {type(value).__name__}")
    return value[:MAX_TEXT] or None


def _flag(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise Rejected("bad_field", f"{key} must be true or false, not {type(value).__name__}")
    return value


#: Heartbeat numbers the hub stores (each an integer column of ``agent_link``) or uses.
HEALTH_NUMBERS = ("rtt_ms", "reconnects", "outbox_depth", "oldest_unacked_s", "acked_seq", "cdc_lag_s", "ping",
                  "config_version")


@dataclass(frozen=True)
class Health:
    """A heartbeat, checked. ``numbers`` holds every :data:`HEALTH_NUMBERS` field (None if absent);
    ``body`` the whole message (re-serialised for the UI by the caller)."""

    numbers: dict[str, int | None]
    catching_up: bool
    source_health: str | None
    degraded: str | None
    body: dict[str, Any]
    #: Why the newest pushed configuration was refused or rolled back (agent.configsync).
    config_error: str | None = None

    @property
    def ping(self) -> int | None:
        return self.numbers["ping"]


def parse_health(payload: bytes) -> Health:
    """A heartbeat (``xn/v1/agents/{id}/health``, at most :data:`MAX_HEALTH_BYTES`), or :class:`Rejected`."""
    body = parse_object(payload, MAX_HEALTH_BYTES)
    return Health(
        numbers={key: _number(body, key) for key in HEALTH_NUMBERS},
        catching_up=_flag(body, "catching_up") is True,
        source_health=_text(body, "source_health"),
        degraded=_text(body, "degraded"),
        body=body,
        config_error=_text(body, "config_error"),
    )


@dataclass(frozen=True)
class Status:
    """An agent's retained status (``online`` / ``offline``), checked."""

    online: bool
    stream: str | None


def parse_status(payload: bytes) -> Status:
    """A status message (``xn/v1/agents/{id}/status``): ``state`` must be ``online`` or ``offline``."""
    body = parse_object(payload)
    state = body.get("state")
    if state not in ("online", "offline"):
        shown = repr(state[:40]) if isinstance(state, str) else type(state).__name__
        raise Rejected("bad_field", f"state must be 'online' or 'offline', not {shown}")
    return Status(online=state == "online", stream=_text(body, "stream"))


def shallow_object(payload: bytes, max_bytes: int, max_depth: int = MAX_DEPTH) -> None:
    """The cheap checks of :func:`parse_object` without parsing (for messages another module
    parses, e.g. WebRTC signalling): raise :class:`Rejected` or return."""
    if len(payload) > max_bytes:
        raise Rejected("too_large", f"{len(payload)} bytes, the limit is {max_bytes}")
    if not payload[:1] == b"{":
        raise Rejected("not_object", "does not start with '{'")
    if nesting_depth(payload, max_depth) > max_depth:
        raise Rejected("too_deep", f"nested deeper than {max_depth} (or brackets that do not balance)")

