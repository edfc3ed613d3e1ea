"""The event schema of DOMAIN.md §2: which fields each record type carries, and their kinds.

Pure and shared: the agent checks what its mapping produces, the hub checks what it ingests.

Field kinds:

- ``id``     a non-empty string (case ids, codes, names)
- ``text``   a string that may be empty (reasons, opinions: an *empty* reason is a rule
             violation the hub must see, not a malformed record)
- ``ts``     ISO-8601 with a UTC offset
- ``int``    an integer (never a bool, never a float)
- ``fen``    a non-negative integer amount of money in fen
- ``days``   a non-negative integer number of days
- ``limit``  ``{"value": int >= 0, "unit": "G" | "Z"}``
- ``bool``   true / false
- ``any``    any JSON value (the agent's own diagnostics)

Some fields also restrict their values (``choices``): ``case_kind`` 1/2, special-procedure ``kind``
1/2, rating ``level`` 1..5, ``result_code`` 0,1,2,3,5,6,7 and step ``action`` 通过/退回/其他.
Unknown extra fields are allowed (they are kept, DOMAIN.md §2); an unknown *type* is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from shared.errors import RecordError
from shared.record import check_ts

KINDS = frozenset({"id", "text", "ts", "int", "fen", "days", "limit", "bool", "any"})
UNITS = ("G", "Z")
RESULT_CODES = (0, 1, 2, 3, 5, 6, 7)
#: Result codes that need a reason (DOMAIN.md §2); checked by rule R5 at the hub, not here.
RESULT_CODES_NEEDING_REASON = (1, 2, 3, 5, 7)
STEP_ACTIONS = ("通过", "退回", "其他")
RATING_LEVELS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class FieldRule:
    """The kind of one body field and, optionally, the values it may take."""

    kind: str
    choices: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")


@dataclass(frozen=True)
class EventSpec:
    """Required and optional fields of one record type."""

    required: Mapping[str, FieldRule]
    optional: Mapping[str, FieldRule] = field(default_factory=dict)

    def rule(self, name: str) -> FieldRule | None:
        """The rule of field ``name``, or None for a field the schema does not know."""
        return self.required.get(name) or self.optional.get(name)


def _f(kind: str, *choices: Any) -> FieldRule:
    return FieldRule(kind, tuple(choices) if choices else None)


ID, TEXT, TS, INT, FEN, DAYS, LIMIT, BOOL, ANY = (
    _f(k) for k in ("id", "text", "ts", "int", "fen", "days", "limit", "bool", "any")
)


def _spec(required: dict[str, FieldRule], optional: dict[str, FieldRule] | None = None) -> EventSpec:
    return EventSpec(MappingProxyType(dict(required)), MappingProxyType(dict(optional or {})))


# ``channel`` (how it reached the bureau), ``complainant`` / ``applicant``, ``text`` and ``entered_by``
# (the hub user who entered it at the desk, hub.desk) are optional: captured records need none of them.
_COMPLAINT = _spec(
    {"complaint_id": ID, "at": TS},
    {"target_dept": ID, "target_staff": ID, "case_id": ID, "substantiated": BOOL, "text": TEXT,
     "channel": ID, "complainant": TEXT, "entered_by": ID},
)
_DISCLOSURE = _spec(
    {"request_id": ID, "dept_code": ID, "at": TS},
    {"answer_type": TEXT, "extension_days": DAYS, "text": TEXT, "channel": ID, "applicant": TEXT, "entered_by": ID},
)
_PRESENCE = _spec(
    {"window_id": ID, "camera_id": ID, "at": TS}, {"confidence": INT, "snapshot_ref": TEXT}
)
_FREE = _spec({})

EVENTS: Mapping[str, EventSpec] = MappingProxyType(
    {
        "case.accepted": _spec(
            {
                "case_id": ID,
                "item_code": ID,
                "item_name": ID,
                "dept_code": ID,
                "dept_name": ID,
                "accepted_at": TS,
                "case_kind": _f("int", 1, 2),
                "promised_limit": LIMIT,
                "statutory_limit": LIMIT,
            },
            {
                "window_id": ID,
                "window_name": TEXT,  # 窗口名称 ("1号窗口（综合受理）"): the hub shows it for the id
                "staff_id": ID,
                "staff_name": TEXT,
                "applicant_name": TEXT,
                "applicant_type": TEXT,
                "fee_standard_fen": FEN,
                "source_id": ID,
            },
        ),
        "case.refused": _spec(
            {"case_id": ID, "item_code": ID, "dept_code": ID, "at": TS, "reason": TEXT},
            {"window_id": ID, "window_name": TEXT, "staff_id": ID, "staff_name": TEXT, "source_id": ID},
        ),
        "case.step": _spec(
            {"case_id": ID, "step_name": ID, "action": _f("id", *STEP_ACTIONS), "started_at": TS},
            {"step_code": ID, "handler": TEXT, "opinion": TEXT, "ended_at": TS},
        ),
        "case.supplement_requested": _spec(
            {"case_id": ID, "at": TS}, {"reason": TEXT, "materials": TEXT}
        ),
        "case.supplement_received": _spec({"case_id": ID, "at": TS}),
        "case.suspended": _spec(
            {"case_id": ID, "at": TS, "kind": _f("int", 1, 2), "reason": TEXT},
            {"kind_name": TEXT, "extension_days": DAYS, "limit": LIMIT},
        ),
        "case.resumed": _spec({"case_id": ID, "at": TS}, {"result": TEXT, "fee_fen": FEN}),
        "case.completed": _spec(
            {"case_id": ID, "at": TS, "result_code": _f("int", *RESULT_CODES)},
            {"result_text": TEXT, "fee_charged_fen": FEN, "licence_no": TEXT, "reason": TEXT},
        ),
        "case.rated": _spec(
            {"case_id": ID, "at": TS, "level": _f("int", *RATING_LEVELS), "channel": ID},
            {"comment": TEXT},
        ),
        # A bad rating (level 4–5) put right by the department (差评整改): stops R11. ``rating_at``
        # names the rating when the case has several (without it: every bad rating up to ``at``).
        "case.rating_rectified": _spec(
            {"case_id": ID, "at": TS},
            {"rating_at": TS, "measure": TEXT, "handler": TEXT, "source_id": ID},
        ),
        **{f"complaint.{leaf}": _COMPLAINT for leaf in ("filed", "accepted", "answered", "closed")},
        **{
            f"disclosure.{leaf}": _DISCLOSURE
            for leaf in (
                "received",
                "supplement_requested",
                "supplement_received",
                "extended",
                "consult_started",
                "consult_ended",
                "answered",
            )
        },
        "presence.absent": _PRESENCE,
        "presence.present": _PRESENCE,
        "queue.long": _spec({"hall_id": ID, "camera_id": ID, "at": TS, "people": INT}),
        "agent.health": _FREE,
        "agent.capture_gap": _FREE,
        # A row the mapping could not turn into an event (issue 3): names table, key, column, why.
        "agent.mapping_error": _spec(
            {"source": ID, "table": ID, "key": ANY, "column": TEXT, "reason": ID, "detail": TEXT},
            {"event_type": TEXT, "event_name": TEXT, "raw": ANY, "profile": TEXT},
        ),
        # A mapped source row was deleted in the department database (seen by trigger capture or
        # by a watermark reconciliation). Deleting case data is itself worth a look.
        "agent.row_deleted": _spec(
            {"source": ID, "table": ID, "key": ANY}, {"profile": TEXT, "case_id": ID}
        ),
    }
)


def field_problem(rule: FieldRule, value: Any) -> str | None:
    """Why ``value`` does not fit ``rule``, or None when it does."""
    kind = rule.kind
    if kind == "any":
        return None
    if kind in ("id", "text"):
        if not isinstance(value, str):
            return f"must be a string, got {type(value).__name__}"
        if kind == "id" and not value.strip():
            return "must not be empty"
    elif kind == "ts":
        try:
            check_ts(value)
        except RecordError as exc:
            return str(exc)
    elif kind in ("int", "fen", "days"):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, got {type(value).__name__}"
        if kind != "int" and value < 0:
            return f"must not be negative, got {value}"
    elif kind == "bool":
        if not isinstance(value, bool):
            return f"must be true or false, got {type(value).__name__}"
    elif kind == "limit":
        if not isinstance(value, dict) or set(value) != {"value", "unit"}:
            return 'must be {"value": int, "unit": "G"|"Z"}'
        number, unit = value["value"], value["unit"]
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            return f"value must be a non-negative integer, got {number!r}"
        if unit not in UNITS:
            return f"unit must be G or Z, got {unit!r}"
    if rule.choices is not None and value not in rule.choices:
        return f"must be one of {', '.join(map(str, rule.choices))}, got {value!r}"
    return None


def event_problems(type_: str, body: Any) -> list[str]:
    """Every way ``body`` breaks the schema of ``type_`` (an empty list: it is valid)."""
    spec = EVENTS.get(type_)
    if spec is None:
        return [f"unknown event type {type_!r}"]
    if not isinstance(body, dict):
        return [f"{type_}: body must be an object"]
    problems = []
    for name, rule in spec.required.items():
        if name not in body or body[name] is None:
            problems.append(f"{type_}: required field {name!r} is missing")
            continue
        why = field_problem(rule, body[name])
        if why:
            problems.append(f"{type_}: field {name!r} {why}")
    for name, rule in spec.optional.items():
        if name in body and body[name] is not None:
            why = field_problem(rule, body[name])
            if why:
                problems.append(f"{type_}: field {name!r} {why}")
    return problems


def check_event(type_: str, body: Any) -> None:
    """Raise :class:`RecordError` naming the first problems if ``body`` breaks the schema."""
    problems = event_problems(type_, body)
    if problems:
        raise RecordError("; ".join(problems[:5]))
