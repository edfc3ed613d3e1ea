"""Typed views of the events the engine reacts to (DOMAIN.md §2).

:func:`parse_event` turns a record's ``type`` and ``body`` into one of the dataclasses below, with
the record hash that justifies it (``evidence``) and the time the source system recorded it
(``reported_at``, the record's ``ts``: R8 compares it with the business time). Malformed bodies
raise :class:`RecordError` naming the type and the field; types the engine does not use return
``None``. Missing reasons are read as empty strings: an empty reason is what rules R5/R9 look for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.engine.clock import Limit
from hub.engine.localtime import parse_moment
from shared.errors import RecordError


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Fields every engine event has."""

    type: str
    at: datetime  # when it happened (business time)
    evidence: str  # hex hash of the record behind it
    reported_at: datetime | None = None  # when the source system recorded it


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseEvent(Event):
    """An event about one case."""

    case_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted(CaseEvent):
    """case.accepted 受理."""

    item_code: str
    item_name: str
    dept_code: str
    dept_name: str
    case_kind: int
    promised: Limit
    statutory: Limit | None
    window_id: str | None = None
    staff_id: str | None = None
    staff_name: str | None = None
    fee_standard_fen: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused(CaseEvent):
    """case.refused 不予受理."""

    item_code: str
    dept_code: str
    reason: str
    window_id: str | None = None
    staff_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Step(CaseEvent):
    """case.step 环节 (only its report delay matters to the rules)."""

    step_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplementRequested(CaseEvent):
    """case.supplement_requested 补正告知."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplementReceived(CaseEvent):
    """case.supplement_received 补交受理."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Suspended(CaseEvent):
    """case.suspended 特别程序开始: kind 1 = extension, kind 2 = pause."""

    kind: int
    reason: str
    extension_days: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Resumed(CaseEvent):
    """case.resumed 特别程序结束."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Completed(CaseEvent):
    """case.completed 办结."""

    result_code: int
    reason: str = ""
    fee_charged_fen: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rated(CaseEvent):
    """case.rated 评价 (level 1 非常满意 … 5 非常不满意)."""

    level: int
    channel: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RatingRectified(CaseEvent):
    """case.rating_rectified 差评整改: a bad rating was put right (stops R11). ``rating_at`` names
    the rating; without it every bad rating up to ``at`` counts as rectified."""

    rating_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplaintEvent(Event):
    """complaint.filed / .accepted / .answered / .closed."""

    complaint_id: str
    target_dept: str | None = None
    target_staff: str | None = None
    case_id: str | None = None
    substantiated: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DisclosureEvent(Event):
    """disclosure.* (information-disclosure request)."""

    request_id: str
    dept_code: str
    extension_days: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Presence(Event):
    """presence.absent / presence.present at a window."""

    window_id: str
    absent: bool


class _Body:
    """Field access with errors that name the event type and the field."""

    def __init__(self, type_: str, body: Mapping[str, Any]) -> None:
        if not isinstance(body, Mapping):
            raise RecordError(f"{type_}: body must be an object")
        self.type, self.body = type_, body

    def fail(self, name: str, wants: str) -> RecordError:
        return RecordError(f"{self.type}: {name} {wants}, got {self.body.get(name)!r}")

    def text(self, name: str) -> str:
        value = self.body.get(name)
        if not isinstance(value, str) or not value:
            raise self.fail(name, "must be a non-empty string")
        return value

    def opt_text(self, name: str) -> str | None:
        value = self.body.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.fail(name, "must be a string")
        return value

    def reason(self, name: str = "reason") -> str:
        value = self.body.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(name, "must be a string")
        return value.strip()

    def number(self, name: str, choices: tuple[int, ...] | None = None) -> int:
        value = self.body.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(name, "must be a non-negative integer")
        if choices is not None and value not in choices:
            raise self.fail(name, f"must be one of {list(choices)}")
        return value

    def opt_number(self, name: str) -> int | None:
        return None if self.body.get(name) is None else self.number(name)

    def moment(self, name: str) -> datetime:
        return parse_moment(self.body.get(name), f"{self.type}: {name}")

    def limit(self, name: str) -> Limit:
        try:
            return Limit.parse(self.body.get(name), name)
        except ValueError as exc:
            raise RecordError(f"{self.type}: {exc}") from None

    def opt_limit(self, name: str) -> Limit | None:
        return None if self.body.get(name) is None else self.limit(name)


def parse_event(
    type_: str, body: Mapping[str, Any], evidence: str, reported_at: datetime | None = None
) -> Event | None:
    """The typed event of a record, or ``None`` for types the engine ignores."""
    family = type_.split(".", 1)[0]
    if family == "case":
        return _case_event(type_, _Body(type_, body), evidence, reported_at)
    if family == "complaint" and type_ in COMPLAINT_TYPES:
        b = _Body(type_, body)
        substantiated = body.get("substantiated")
        if substantiated is not None and not isinstance(substantiated, bool):
            raise b.fail("substantiated", "must be true or false")
        return ComplaintEvent(
            type=type_, at=b.moment("at"), evidence=evidence, reported_at=reported_at,
            complaint_id=b.text("complaint_id"), target_dept=b.opt_text("target_dept"),
            target_staff=b.opt_text("target_staff"), case_id=b.opt_text("case_id"),
            substantiated=substantiated,
        )  # fmt: skip
    if family == "disclosure" and type_ in DISCLOSURE_TYPES:
        b = _Body(type_, body)
        return DisclosureEvent(
            type=type_, at=b.moment("at"), evidence=evidence, reported_at=reported_at,
            request_id=b.text("request_id"), dept_code=b.text("dept_code"),
            extension_days=b.opt_number("extension_days") or 0,
        )  # fmt: skip
    if type_ in ("presence.absent", "presence.present"):
        b = _Body(type_, body)
        return Presence(
            type=type_, at=b.moment("at"), evidence=evidence, reported_at=reported_at,
            window_id=b.text("window_id"), absent=type_ == "presence.absent",
        )  # fmt: skip
    return None


COMPLAINT_TYPES = frozenset(
    {"complaint.filed", "complaint.accepted", "complaint.answered", "complaint.closed"}
)
DISCLOSURE_TYPES = frozenset(
    {
        "disclosure.received", "disclosure.supplement_requested", "disclosure.supplement_received",
        "disclosure.extended", "disclosure.consult_started", "disclosure.consult_ended",
        "disclosure.answered",
    }
)  # fmt: skip


def _case_event(
    type_: str, b: _Body, evidence: str, reported_at: datetime | None
) -> CaseEvent | None:
    kind = type_.split(".", 1)[1]
    common: dict[str, Any] = {
        "type": type_, "evidence": evidence, "reported_at": reported_at,
        "case_id": b.text("case_id"),
    }  # fmt: skip
    if kind == "accepted":
        return Accepted(
            **common, at=b.moment("accepted_at"), item_code=b.text("item_code"),
            item_name=b.opt_text("item_name") or "", dept_code=b.text("dept_code"),
            dept_name=b.opt_text("dept_name") or "", case_kind=b.number("case_kind", (1, 2)),
            promised=b.limit("promised_limit"), statutory=b.opt_limit("statutory_limit"),
            window_id=b.opt_text("window_id"), staff_id=b.opt_text("staff_id"),
            staff_name=b.opt_text("staff_name"), fee_standard_fen=b.opt_number("fee_standard_fen"),
        )  # fmt: skip
    if kind == "refused":
        return Refused(
            **common, at=b.moment("at"), item_code=b.text("item_code"),
            dept_code=b.text("dept_code"), reason=b.reason(), window_id=b.opt_text("window_id"),
            staff_id=b.opt_text("staff_id"),
        )  # fmt: skip
    if kind == "step":
        # A step is reported when it ends: its moment (for R8's report delay) is ended_at when the
        # step has ended, started_at otherwise. A Friday-to-Monday step is not a late report.
        at = b.moment("ended_at") if b.opt_text("ended_at") else b.moment("started_at")
        return Step(**common, at=at, step_name=b.text("step_name"))
    if kind == "supplement_requested":
        return SupplementRequested(**common, at=b.moment("at"))
    if kind == "supplement_received":
        return SupplementReceived(**common, at=b.moment("at"))
    if kind == "suspended":
        return Suspended(
            **common, at=b.moment("at"), kind=b.number("kind", (1, 2)), reason=b.reason(),
            extension_days=b.opt_number("extension_days") or 0,
        )  # fmt: skip
    if kind == "resumed":
        return Resumed(**common, at=b.moment("at"))
    if kind == "completed":
        return Completed(
            **common, at=b.moment("at"), result_code=b.number("result_code"), reason=b.reason(),
            fee_charged_fen=b.opt_number("fee_charged_fen"),
        )  # fmt: skip
    if kind == "rated":
        return Rated(
            **common, at=b.moment("at"), level=b.number("level", (1, 2, 3, 4, 5)),
            channel=b.opt_text("channel") or "",
        )  # fmt: skip
    if kind == "rating_rectified":
        rating_at = None if b.body.get("rating_at") is None else b.moment("rating_at")
        return RatingRectified(**common, at=b.moment("at"), rating_at=rating_at)
    return None
