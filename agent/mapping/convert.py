"""Converting raw database values into event field values — pure, and strict about bad input.

Every function here raises :class:`Unmappable` with a stable ``reason`` word and a human detail
when a value cannot be converted; the engine turns that into an ``agent.mapping_error`` record.
Database drivers hand us ``str``, ``bytes``/``memoryview`` (legacy GBK text, BLOBs), ``int``,
``float`` (SQLite REAL, doubles), ``Decimal`` (DECIMAL columns) and ``date``/``datetime``.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_SAFE_INT = 2**53 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FORMATS = (
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y%m%d%H%M%S",
    "%Y%m%d %H:%M:%S",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日",
)
MIN_YEAR, MAX_YEAR = 1980, 2100


class Unmappable(Exception):
    """A value that cannot become an event field. ``reason`` is a stable word."""

    def __init__(self, reason: str, detail: str, column: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.column = column


def decode_text(value: Any, encoding: str) -> Any:
    """Bytes from the database decoded with the source's encoding; other values unchanged.

    A string that already holds U+FFFD was decoded lossily by the driver (legacy GBK read as
    UTF-8): that is undecodable text too, never silently passed on.
    """
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode(encoding)
        except UnicodeDecodeError as exc:
            raise Unmappable(
                "undecodable_text",
                f"bytes are not valid {encoding} at offset {exc.start}",
            ) from None
    if isinstance(value, str) and "\ufffd" in value:
        raise Unmappable("undecodable_text", "text holds U+FFFD: it was decoded with the wrong "
                         f"encoding before it reached us (expected {encoding})")
    return value


def code_key(value: Any) -> str:
    """The text form used to look a value up in a code table or compare it in a condition."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if _integral_decimal(value):
        return str(int(value))
    return str(value).strip()


def _integral_decimal(value: Any) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value()


def to_text(value: Any, max_len: int, *, strip: bool) -> str:
    """A string field. Integers become their decimal text; floats are refused (not exact)."""
    if isinstance(value, bool):
        raise Unmappable("bad_value", f"expected text, got boolean {value}")
    if isinstance(value, int) or _integral_decimal(value):
        text = str(int(value))
    elif isinstance(value, str):
        text = value.strip() if strip else value.rstrip(" ")
    elif isinstance(value, (datetime, date)):
        text = value.isoformat()
    else:
        raise Unmappable("bad_value", f"expected text, got {type(value).__name__}")
    if len(text) > max_len:
        raise Unmappable("too_large", f"text of {len(text)} characters exceeds {max_len}")
    return text


def to_int(value: Any, *, low: int = -MAX_SAFE_INT, high: int = MAX_SAFE_INT) -> int:
    """An integer field from int, integral Decimal/float or decimal text."""
    if isinstance(value, bool):
        return int(value)
    number: int
    if isinstance(value, int):
        number = value
    elif isinstance(value, (float, Decimal)):
        finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        if not finite:
            raise Unmappable("bad_number", f"{value!r} is not a number")
        if value != int(value):
            raise Unmappable("bad_number", f"{value!r} is not a whole number")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                dec = Decimal(text)
            except InvalidOperation:
                raise Unmappable("bad_number", f"{text[:40]!r} is not a number") from None
            if not dec.is_finite() or dec != dec.to_integral_value():
                raise Unmappable("bad_number", f"{text[:40]!r} is not a whole number") from None
            number = int(dec)
    else:
        raise Unmappable("bad_number", f"expected a number, got {type(value).__name__}")
    if not low <= number <= high:
        raise Unmappable("too_large", f"{number} is outside {low}..{high}")
    return number


def to_fen(value: Any, *, yuan: bool, high: int) -> int:
    """Money as integer fen. ``yuan=True``: the source holds yuan with up to 2 decimals."""
    if not yuan:
        return to_int(value, low=0, high=high)
    if isinstance(value, bool):
        raise Unmappable("bad_number", "expected an amount, got a boolean")
    try:
        if isinstance(value, float):
            # A double such as 12.3 is really 12.29999…; the nearest decimal repr is what was meant.
            amount = Decimal(repr(value))
        elif isinstance(value, (int, Decimal)):
            amount = Decimal(value)
        elif isinstance(value, str):
            amount = Decimal(value.strip().replace(",", ""))
        else:
            raise Unmappable("bad_number", f"expected an amount, got {type(value).__name__}")
    except InvalidOperation:
        raise Unmappable("bad_number", f"{str(value)[:40]!r} is not an amount") from None
    if not amount.is_finite():
        raise Unmappable("bad_number", f"{value!r} is not an amount")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise Unmappable("bad_number", f"{value} yuan is not a whole number of fen")
    number = int(fen)
    if not 0 <= number <= high:
        raise Unmappable("too_large", f"{number} fen is outside 0..{high}")
    return number


def to_bool(value: Any) -> bool:
    """A boolean from 1/0, true/false, Y/N, 是/否."""
    key = code_key(value).lower()
    if key in ("1", "true", "t", "y", "yes", "是"):
        return True
    if key in ("0", "false", "f", "n", "no", "否"):
        return False
    raise Unmappable("bad_value", f"{key[:40]!r} is not a yes/no value")


def _parse_text_time(text: str, fmt: str | None) -> datetime:
    if fmt:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            raise Unmappable("bad_datetime", f"{text[:40]!r} does not match {fmt!r}") from None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for candidate in _FORMATS:
        try:
            return datetime.strptime(text, candidate)
        except ValueError:
            continue
    raise Unmappable("bad_datetime", f"{text[:40]!r} is not a date/time")


def to_datetime(value: Any, fmt: str | None, source_zone: tzinfo, output_zone: tzinfo) -> str:
    """ISO-8601 with offset in ``output_zone``. Naive source times are in ``source_zone``.

    ``fmt`` may be a ``strptime`` format, ``epoch_s`` or ``epoch_ms`` (integers since 1970 UTC).
    """
    moment: datetime
    if fmt in ("epoch_s", "epoch_ms"):
        number = to_int(value)
        delta = timedelta(milliseconds=number) if fmt == "epoch_ms" else timedelta(seconds=number)
        try:
            moment = _EPOCH + delta
        except OverflowError:
            raise Unmappable("bad_datetime", f"{number} is not a plausible {fmt}") from None
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise Unmappable("bad_datetime", "empty date/time text")
        moment = _parse_text_time(text, fmt)
    else:
        raise Unmappable("bad_datetime", f"expected a date/time, got {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=source_zone)
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise Unmappable("bad_datetime", f"year {moment.year} is implausible "
                         f"(outside {MIN_YEAR}..{MAX_YEAR})")
    return moment.astimezone(output_zone).isoformat(timespec="seconds")


def preview(value: Any, limit: int) -> str:
    """A short, JSON-safe rendering of a raw value for error records (bytes as hex)."""
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
        text = "0x" + data[: max(1, limit // 2)].hex()
        return text + (f"… ({len(data)} bytes)" if len(data) > limit // 2 else "")
    text = "NULL" if value is None else str(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"
