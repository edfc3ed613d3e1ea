"""What may be entered at the desk, and when: the steps of a complaint and of a disclosure request,
checked against the facts already recorded (pure: no database, time passed in).

A complaint goes filed → accepted → answered → closed (closing says whether it was substantiated), or
filed → closed without acceptance (不予受理, with its reason; not substantiated).
A disclosure request is received, then: 补正 requested → received (again if need be), extended,
consultation started → ended, answered — nothing after the answer, a 补正 or consultation ended
only when one is open, the answer not while a consultation is open.

Every step's time is a local moment not in the future and not before the step it follows. A
refusal (:class:`Refused`) carries a message key and its values for the UI, and an English
sentence for the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.engine.calendar import FIRST_YEAR

COMPLAINT_STEPS = ("accepted", "answered", "closed")
DISCLOSURE_STEPS = (
    "supplement_requested", "supplement_received", "extended", "consult_started", "consult_ended", "answered",
)  # fmt: skip
#: How a complaint or request reached the bureau (来信, 来访, 电话, 网上, 12345 热线, 其他).
CHANNELS = ("letter", "visit", "phone", "web", "hotline", "other")
#: How a disclosure request was answered (2019 regulation art. 36).
ANSWER_TYPES = ("public", "partial", "withheld", "not_exist", "not_ours", "abandoned", "other")
MAX_TEXT = 2000
MAX_NAME = 100
MAX_EXTENSION_DAYS = 60
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class Refused(ValueError):
    """A desk entry that is not accepted: ``key`` (message of the UI), its ``params``, and ``detail``
    (the same in English, for the API)."""

    def __init__(self, key: str, detail: str, **params: Any) -> None:
        super().__init__(detail)
        self.key = key
        self.params = params
        self.detail = detail


def check_id(value: str, what: str) -> str:
    """A complaint / request number: 1–64 of ``A-Za-z0-9_.-``, starting with a letter or digit."""
    if not _ID.match(value):
        raise Refused("desk.error.bad_id", f"{what} must be 1-64 of A-Za-z0-9_.- starting with a letter or digit")
    return value


def check_text(value: str, what: str, limit: int = MAX_TEXT, required: bool = False) -> str:
    text = value.strip()
    if required and not text:
        raise Refused("desk.error.required", f"{what} is required", field=what)
    if len(text) > limit:
        raise Refused("desk.error.too_long", f"{what} is longer than {limit} characters", field=what, limit=limit)
    return text


def check_moment(at: datetime, now: datetime, after: datetime | None, after_step: str | None) -> datetime:
    """``at`` not in the future, not before ``FIRST_YEAR``, not before ``after`` (the previous step)."""
    if at.tzinfo is None:
        raise Refused("desk.error.bad_time", "the time must carry a UTC offset")
    if at > now:
        raise Refused("desk.error.future", f"{at.isoformat()} is in the future (now {now.isoformat()})",
                      at=at.strftime("%Y-%m-%d %H:%M"))  # fmt: skip
    if at.year < FIRST_YEAR:
        raise Refused("desk.error.too_old", f"{at.isoformat()} is before {FIRST_YEAR}", year=FIRST_YEAR)
    if after is not None and at < after:
        raise Refused("desk.error.before_previous",
                      f"{at.isoformat()} is before the previous step ({after_step} at {after.isoformat()})",
                      at=at.strftime("%Y-%m-%d %H:%M"), previous=after.strftime("%Y-%m-%d %H:%M"),
                      step=after_step or "")  # fmt: skip
    return at


def _moment(body: Mapping[str, Any]) -> datetime | None:
    value = body.get("at")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and value else None


@dataclass
class ComplaintFacts:
    """A complaint as its records tell it (captured or entered at the desk), in record order."""

    complaint_id: str
    target_dept: str | None = None
    target_staff: str | None = None
    case_id: str | None = None
    text: str | None = None
    channel: str | None = None
    complainant: str | None = None
    substantiated: bool | None = None
    times: dict[str, datetime] = field(default_factory=dict)  # filed / accepted / answered / closed

    @classmethod
    def fold(cls, complaint_id: str, events: Iterable[tuple[str, Mapping[str, Any]]]) -> ComplaintFacts:
        facts = cls(complaint_id)
        for type_, body in events:
            kind = type_.split(".", 1)[1] if "." in type_ else type_
            for name in ("target_dept", "target_staff", "case_id", "channel", "complainant"):
                if value := _text(body, name):
                    setattr(facts, name, value)
            if kind == "filed" and (text := _text(body, "text")):
                facts.text = text
            if isinstance(body.get("substantiated"), bool):
                facts.substantiated = body["substantiated"]
            moment = _moment(body)
            if moment is not None and kind in ("filed", "accepted", "answered", "closed"):
                facts.times.setdefault(kind, moment)
        return facts

    @property
    def filed(self) -> bool:
        return "filed" in self.times

    def last(self) -> tuple[str | None, datetime | None]:
        """The latest step recorded and its time."""
        for kind in ("closed", "answered", "accepted", "filed"):
            if kind in self.times:
                return kind, self.times[kind]
        return None, None

    def next_steps(self) -> list[str]:
        """The steps the desk offers now."""
        if not self.filed or "closed" in self.times:
            return []
        if "answered" in self.times:
            return ["closed"]
        if "accepted" in self.times:
            return ["answered"]
        return ["accepted", "closed"]  # closed before acceptance: 不予受理, with its reason

    @property
    def refused(self) -> bool:
        """Closed without being accepted (不予受理)."""
        return "closed" in self.times and "accepted" not in self.times


@dataclass
class DisclosureFacts:
    """A disclosure request as its records tell it."""

    request_id: str
    dept_code: str | None = None
    text: str | None = None
    channel: str | None = None
    applicant: str | None = None
    received: datetime | None = None
    answered: datetime | None = None
    answer_type: str | None = None
    supplement_open: bool = False
    consult_open: bool = False
    extensions: int = 0
    extension_days: int = 0
    last_kind: str | None = None
    last_at: datetime | None = None

    @classmethod
    def fold(cls, request_id: str, events: Iterable[tuple[str, Mapping[str, Any]]]) -> DisclosureFacts:
        facts = cls(request_id)
        for type_, body in events:
            kind = type_.split(".", 1)[1] if "." in type_ else type_
            for name in ("dept_code", "channel", "applicant"):
                if value := _text(body, name):
                    setattr(facts, name, value)
            moment = _moment(body)
            if kind == "received":
                facts.received = facts.received or moment
                facts.text = _text(body, "text") or facts.text
            elif kind == "supplement_requested":
                facts.supplement_open = True
            elif kind == "supplement_received":
                facts.supplement_open = False
            elif kind == "extended":
                facts.extensions += 1
                days = body.get("extension_days")
                facts.extension_days += days if isinstance(days, int) and not isinstance(days, bool) else 0
            elif kind == "consult_started":
                facts.consult_open = True
            elif kind == "consult_ended":
                facts.consult_open = False
            elif kind == "answered":
                facts.answered = facts.answered or moment
                facts.answer_type = _text(body, "answer_type") or facts.answer_type
            if moment is not None and (facts.last_at is None or moment >= facts.last_at):
                facts.last_kind, facts.last_at = kind, moment
        return facts

    def next_steps(self) -> list[str]:
        """The steps the desk offers now."""
        if self.received is None or self.answered is not None:
            return []
        out = ["supplement_received"] if self.supplement_open else ["supplement_requested"]
        out.append("extended")
        out.append("consult_ended" if self.consult_open else "consult_started")
        if not self.consult_open:
            out.append("answered")
        return out


def _order(step: str, offered: list[str], what: str) -> None:
    if step not in offered:
        possible = ", ".join(offered) or "none"
        raise Refused("desk.error.order", f"{what}: step {step!r} is not possible now (possible: {possible})",
                      step=step)


def complaint_step(
    facts: ComplaintFacts, step: str, at: datetime, now: datetime, *, entered_by: str,
    substantiated: bool | None = None, text: str = "",
) -> dict[str, Any]:  # fmt: skip
    """The body of ``complaint.<step>`` for ``facts``; :class:`Refused` if out of order or badly timed."""
    if step not in COMPLAINT_STEPS:
        raise Refused("desk.error.unknown_step", f"unknown complaint step {step!r}", step=step)
    _order(step, facts.next_steps(), f"complaint {facts.complaint_id}")
    last, last_at = facts.last()
    check_moment(at, now, last_at, last)
    body: dict[str, Any] = {"complaint_id": facts.complaint_id, "at": at.isoformat(), "entered_by": entered_by}
    if facts.target_dept:
        body["target_dept"] = facts.target_dept
    if facts.target_staff:
        body["target_staff"] = facts.target_staff
    note = check_text(text, "text")
    if step == "closed" and "accepted" not in facts.times:  # 不予受理: nothing to substantiate, a reason owed
        if not note:
            raise Refused("desk.error.reason_required", "a complaint closed without acceptance needs the reason")
        body["substantiated"] = False
    elif step == "closed":
        if substantiated is None:
            raise Refused("desk.error.substantiated", "closing a complaint says whether it was substantiated")
        body["substantiated"] = substantiated
    if note:
        body["text"] = note
    return body


def disclosure_step(
    facts: DisclosureFacts, step: str, at: datetime, now: datetime, *, entered_by: str,
    extension_days: int | None = None, answer_type: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The body of ``disclosure.<step>``; :class:`Refused` if out of order or badly timed."""
    if step not in DISCLOSURE_STEPS:
        raise Refused("desk.error.unknown_step", f"unknown disclosure step {step!r}", step=step)
    _order(step, facts.next_steps(), f"request {facts.request_id}")
    check_moment(at, now, facts.last_at, facts.last_kind)
    assert facts.dept_code is not None  # received: it names its department
    body: dict[str, Any] = {"request_id": facts.request_id, "dept_code": facts.dept_code, "at": at.isoformat(),
                            "entered_by": entered_by}  # fmt: skip
    if step == "extended":
        if extension_days is None or not 1 <= extension_days <= MAX_EXTENSION_DAYS:
            raise Refused("desk.error.extension_days",
                          f"extension_days must be a whole number of working days, 1 to {MAX_EXTENSION_DAYS}",
                          limit=MAX_EXTENSION_DAYS)  # fmt: skip
        body["extension_days"] = extension_days
    if step == "answered":
        if answer_type not in ANSWER_TYPES:
            raise Refused("desk.error.answer_type", f"answer_type must be one of {', '.join(ANSWER_TYPES)}")
        body["answer_type"] = answer_type
    return body
