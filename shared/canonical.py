"""RFC 8785 (JSON Canonicalization Scheme) bytes for the float-free JSON we sign.

Signed data never holds floats (money is integer fen, durations integer seconds), so the only
number form is an integer, which JCS prints as plain decimal. Integers are limited to the range an
IEEE double holds exactly (|n| <= 2**53 - 1), as JCS requires. Object keys are ordered by their
UTF-16 code units (RFC 8785 §3.2.3), which differs from Python's code-point order only for keys
mixing characters above U+FFFF with characters in U+E000..U+FFFF.
"""

from __future__ import annotations

import json
from typing import Any

from shared.errors import CanonicalError, RecordError

MAX_SAFE_INT = 2**53 - 1

_encoder = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=False, separators=(",", ":")
)


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _normalise(value: Any, path: str) -> Any:
    if value is None or value is True or value is False or isinstance(value, str):
        return value
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise CanonicalError(f"{path}: integer {value} is outside ±(2**53-1)")
        return value
    if isinstance(value, float):
        raise CanonicalError(f"{path}: floats are not allowed in signed data (got {value!r})")
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalError(f"{path}: object key {key!r} is not a string")
        ordered = sorted(value, key=_utf16_key) if value else []
        return {k: _normalise(value[k], f"{path}.{k}") for k in ordered}
    if isinstance(value, (list, tuple)):
        return [_normalise(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise CanonicalError(f"{path}: {type(value).__name__} has no JSON form")


def canonical(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``.

    Raises :class:`CanonicalError` for floats, out-of-range integers, non-string keys, lone
    surrogates and types JSON does not have.
    """
    text = _encoder.encode(_normalise(value, "$"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalError(f"string holds a lone surrogate: {exc.reason}") from None


def _no_float(text: str) -> Any:
    raise RecordError(f"floats are not allowed (found {text})")


def _no_constant(text: str) -> Any:
    raise RecordError(f"{text} is not JSON")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise RecordError(f"duplicate key {key!r}")
            seen.add(key)
    return obj


def parse(data: bytes | str) -> Any:
    """Parse strict JSON: no floats, no NaN/Infinity, no duplicate keys, valid UTF-8.

    Raises only :class:`RecordError`.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        return _STRICT.decode(text)
    except RecordError:
        raise
    except UnicodeDecodeError as exc:
        raise RecordError(f"not UTF-8 at byte {exc.start}") from None
    except RecursionError:
        raise RecordError("JSON nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise RecordError(f"not JSON: {exc}") from None


_STRICT = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_constant, object_pairs_hook=_pairs)
_FAST = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_constant)


def parse_fast(data: bytes) -> Any:
    """Like :func:`parse` (no floats, no NaN, valid UTF-8) but without the duplicate-key check,
    which costs a Python call per object. For the ingest hot path, where the exact bytes are
    hashed and kept; whoever interprets a body uses :func:`parse`."""
    try:
        return _FAST.decode(data.decode("utf-8"))
    except RecordError:
        raise
    except UnicodeDecodeError as exc:
        raise RecordError(f"not UTF-8 at byte {exc.start}") from None
    except RecursionError:
        raise RecordError("JSON nested too deeply") from None
    except ValueError as exc:
        raise RecordError(f"not JSON: {exc}") from None


def parse_canonical(data: bytes) -> Any:
    """Parse ``data`` and require it to be exactly the canonical form of its value."""
    value = parse(data)
    if canonical(value) != bytes(data):
        raise RecordError("JSON is not in canonical (RFC 8785) form")
    return value
