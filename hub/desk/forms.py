"""Reading the desk's forms and JSON bodies into what :class:`hub.desk.service.Desk` takes.

The same rules for both: a time is ``YYYY-MM-DDTHH:MM[:SS]`` (a form's ``datetime-local``), read in
the hub's time zone (Asia/Shanghai) unless it carries an offset; empty means now. Choices
(channel, answer type, substantiated) must be one of their values. Every problem is a
:class:`hub.desk.steps.Refused` that names the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hub.desk.service import NewComplaint, NewRequest
from hub.desk.steps import ANSWER_TYPES, CHANNELS, MAX_NAME, Refused
from shared.timefmt import SHANGHAI


def _str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refused("desk.error.field", f"{name} must be a string", field=name)
    return value.strip()


def moment(data: Mapping[str, Any], name: str, now: datetime) -> datetime:
    """The time in field ``name`` (local unless it has an offset); ``now`` when empty."""
    text = _str(data, name)
    if not text:
        return now.astimezone(SHANGHAI)
    try:
        value = datetime.fromisoformat(_rfc3339(text))
    except ValueError:
        raise Refused("desk.error.bad_time", f"{name} {text[:40]!r} is not a time like 2026-11-23T09:30",
                      field=name) from None  # fmt: skip
    value = value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value
    try:
        value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset: outside what any clock can hold
        if value.year > 2000:
            raise Refused("desk.error.future", f"{name} {text[:40]!r} is in the future",
                          at=text[:16]) from None  # fmt: skip
        raise Refused("desk.error.too_old", f"{name} {text[:40]!r} is before 2000", year=2000) from None
    return value


def _rfc3339(text: str) -> str:
    """An RFC 3339 time as ``datetime.fromisoformat`` reads it: ``t``/``z`` in capitals, a leap second
    (``:60``) as the second before it."""
    text = text.upper() if "t" in text or "z" in text else text
    if len(text) > 18 and text[10] == "T" and text[16:19] == ":60":
        text = text[:17] + "59" + text[19:]
    return text


def choice(data: Mapping[str, Any], name: str, choices: tuple[str, ...], default: str | None = None) -> str:
    value = _str(data, name) or default or ""
    if value not in choices:
        raise Refused("desk.error.choice", f"{name} must be one of {', '.join(choices)}", field=name)
    return value


def yes_no(data: Mapping[str, Any], name: str) -> bool | None:
    """A form's ``yes``/``no`` (or JSON true/false); None when absent."""
    value = data.get(name)
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    if text in ("yes", "true", "1"):
        return True
    if text in ("no", "false", "0"):
        return False
    if not text:
        return None
    raise Refused("desk.error.choice", f"{name} must be yes or no", field=name)


def whole_number(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Refused("desk.error.extension_days", f"{name} must be a whole number", limit=0)
    try:
        return int(str(value).strip())
    except ValueError:
        raise Refused("desk.error.extension_days", f"{name} must be a whole number", limit=0) from None


def new_complaint(data: Mapping[str, Any], now: datetime) -> NewComplaint:
    dept = _str(data, "target_dept")
    if not dept:
        raise Refused("desk.error.required", "target_dept is required", field="target_dept")
    return NewComplaint(
        target_dept=dept, text=_str(data, "text"), channel=choice(data, "channel", CHANNELS),
        filed_at=moment(data, "filed_at", now), complaint_id=_str(data, "complaint_id") or None,
        target_staff=_str(data, "target_staff") or None, case_id=_str(data, "case_id") or None,
        complainant=_str(data, "complainant")[: MAX_NAME + 1] or None,
    )  # fmt: skip


def new_request(data: Mapping[str, Any], now: datetime) -> NewRequest:
    dept = _str(data, "dept_code")
    if not dept:
        raise Refused("desk.error.required", "dept_code is required", field="dept_code")
    return NewRequest(
        dept_code=dept, text=_str(data, "text"), channel=choice(data, "channel", CHANNELS),
        received_at=moment(data, "received_at", now), request_id=_str(data, "request_id") or None,
        applicant=_str(data, "applicant")[: MAX_NAME + 1] or None,
    )  # fmt: skip


def answer_type(data: Mapping[str, Any]) -> str | None:
    return choice(data, "answer_type", ANSWER_TYPES) if _str(data, "answer_type") else None
