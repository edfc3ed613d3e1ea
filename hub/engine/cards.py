"""Cards (预警/黄牌/红牌) and their lifecycle (DOMAIN.md §4).

    raised ──notify──▶ notified ──appeal──▶ appealed ──uphold──▶ upheld ──rectify──▶ rectified ──close──▶ closed
       │                  │                    └──withdraw──▶ withdrawn (final)          ▲
       └──rectify─────────┴──rectify─────────────────────────────────────────────────────┘
    (a reminder may also go notified ──close──▶ closed; reminders cannot be appealed)
    any state but closed/withdrawn, or closed as recorded ──retract (system only)──▶ withdrawn (final)
    raised ──record (system only)──▶ closed   (已办结·记录在案: the matter was already closed when the
                                               hub raised the card, or before anyone was told)

A :class:`Card` is immutable; :meth:`Card.apply` returns the card in its next state or raises
:class:`InvalidTransition`. A card's id is derived from its *key* — ``rule|subject|detail``, e.g.
``R2|case:C1|2026-10-09`` — so a restarted hub that decides the same card again recognises it.

A yellow card carries a 督办 deadline (a date, computed on the working-day clock). If it is still
raised, notified or upheld when the deadline has passed, the scheduler raises a red R3 card that
``escalates`` it. An appeal stops that clock; upholding restarts it from the decision date.

``record`` is the engine's own action too: a card whose matter is already closed when it is raised
(a case completed late, a fact from imported history) is *closed as recorded*. It counts for scores
and reports in the period of its moment, needs no action and never escalates. Such a card is
``historical`` when its moment lies before the hub raised it by more than the R8 delay: it belongs
to its own period, not to today's figures, the live wall or notifications.

``retract`` is the engine's own action (actor ``system``), never a person's: a time card that a
later-arriving record contradicts is withdrawn with that record's hash as evidence
(:mod:`hub.engine.retraction`).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from hub.engine.config import Level
from shared.errors import XiaonengError


class InvalidTransition(XiaonengError):
    """A lifecycle action that the card's current state does not allow."""


class CardState(enum.StrEnum):
    """Where a card is in its lifecycle."""

    RAISED = "raised"
    NOTIFIED = "notified"
    APPEALED = "appealed"
    UPHELD = "upheld"
    WITHDRAWN = "withdrawn"
    RECTIFIED = "rectified"
    CLOSED = "closed"


class Action(enum.StrEnum):
    """What a person (or the hub) does to a card."""

    NOTIFY = "notify"
    APPEAL = "appeal"
    UPHOLD = "uphold"
    WITHDRAW = "withdraw"
    RECTIFY = "rectify"
    CLOSE = "close"
    RETRACT = "retract"  # the engine's own withdrawal of a card later records contradict
    RECORD = "record"  # the engine's own closing of a card whose matter was already closed


S, A = CardState, Action
TRANSITIONS: Mapping[tuple[CardState, Action], CardState] = {
    (S.RAISED, A.NOTIFY): S.NOTIFIED,
    (S.RAISED, A.RECTIFY): S.RECTIFIED,
    (S.NOTIFIED, A.APPEAL): S.APPEALED,
    (S.NOTIFIED, A.RECTIFY): S.RECTIFIED,
    (S.NOTIFIED, A.CLOSE): S.CLOSED,  # reminders only
    (S.APPEALED, A.UPHOLD): S.UPHELD,
    (S.APPEALED, A.WITHDRAW): S.WITHDRAWN,
    (S.UPHELD, A.RECTIFY): S.RECTIFIED,
    (S.RECTIFIED, A.CLOSE): S.CLOSED,
}
ESCALATABLE = frozenset({S.RAISED, S.NOTIFIED, S.UPHELD})
FINAL = frozenset({S.WITHDRAWN, S.CLOSED})
#: States the system may retract a card from (:data:`Action.RETRACT`; not offered to people).
RETRACTABLE = frozenset({S.RAISED, S.NOTIFIED, S.APPEALED, S.UPHELD, S.RECTIFIED})
#: Actions only the engine takes (people never do: the web refuses them).
SYSTEM_ACTIONS = frozenset({A.RETRACT, A.RECORD})


def card_id_for(key: str) -> str:
    """The stable id of the card decided under ``key``."""
    return "card-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True, slots=True, kw_only=True)
class CardDecision:
    """A rule's decision that a card is due — what the engine proposes before it is a card."""

    key: str
    rule: str
    level: Level
    rule_type: str
    subject: str  # "case:C1", "window:W3", "disclosure:R9", "complaint:T2"
    moment: datetime  # when the condition became true
    message: str
    evidence: tuple[str, ...] = ()
    case_id: str | None = None
    dept_code: str | None = None
    window_id: str | None = None
    staff_id: str | None = None
    item_code: str | None = None
    escalates: str | None = None  # id of the yellow card a red R3 card escalates
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transition:
    """One lifecycle step, kept in the card's history."""

    action: Action
    state: CardState
    at: datetime
    actor: str = ""
    note: str = ""
    evidence: tuple[str, ...] = ()  # hashes of the records behind a system action


@dataclass(frozen=True, slots=True, kw_only=True)
class Card:
    """A raised card: the decision plus its id, lifecycle state, 督办 deadline and history."""

    card_id: str
    decision: CardDecision
    raised_at: datetime
    state: CardState = CardState.RAISED
    deadline: date | None = None  # 督办 deadline (inclusive)
    deadline_provisional: bool = False
    history: tuple[Transition, ...] = ()
    historical: bool = False  # moment before raised_at by more than the R8 delay, closed as recorded

    @classmethod
    def raise_(
        cls,
        decision: CardDecision,
        raised_at: datetime,
        deadline: date | None = None,
        provisional: bool = False,
    ) -> Card:
        """A new card in state ``raised``."""
        return cls(
            card_id=card_id_for(decision.key),
            decision=decision,
            raised_at=raised_at,
            deadline=deadline,
            deadline_provisional=provisional,
        )

    # convenient read-through properties
    @property
    def key(self) -> str:
        return self.decision.key

    @property
    def rule(self) -> str:
        return self.decision.rule

    @property
    def level(self) -> Level:
        return self.decision.level

    @property
    def recorded(self) -> bool:
        """Closed as recorded (已办结·记录在案): the engine closed it on raising."""
        return self.state is S.CLOSED and any(t.action is A.RECORD for t in self.history)

    @property
    def counts(self) -> bool:
        """Whether the card counts against its department in scoring (not a reminder, not
        withdrawn, not waiting for an appeal decision)."""
        return self.level is not Level.REMINDER and self.state not in (S.APPEALED, S.WITHDRAWN)

    @property
    def escalatable(self) -> bool:
        """A yellow card with a 督办 deadline that nobody has rectified, withdrawn or appealed."""
        return (
            self.level is Level.YELLOW and self.deadline is not None and self.state in ESCALATABLE
        )

    def apply(
        self,
        action: Action,
        at: datetime,
        actor: str = "",
        note: str = "",
        deadline: date | None = None,
        provisional: bool = False,
        evidence: tuple[str, ...] = (),
    ) -> Card:
        """The card after ``action``; ``deadline`` replaces the 督办 deadline (used on uphold)."""
        if action is A.RETRACT:
            if self.state not in RETRACTABLE and not self.recorded:
                raise InvalidTransition(f"card {self.card_id} is {self.state}: cannot retract")
            step = Transition(action, S.WITHDRAWN, at, actor, note, evidence)
            return replace(self, state=S.WITHDRAWN, history=(*self.history, step))
        if action is A.RECORD:
            if self.state is not S.RAISED:
                raise InvalidTransition(f"card {self.card_id} is {self.state}: only a card nobody "
                                        "was told of yet can be closed as recorded")
            step = Transition(action, S.CLOSED, at, actor, note, evidence)
            return replace(self, state=S.CLOSED, history=(*self.history, step))
        target = TRANSITIONS.get((self.state, action))
        if target is None or (
            action is A.CLOSE and self.state is S.NOTIFIED and self.level is not Level.REMINDER
        ):
            raise InvalidTransition(
                f"card {self.card_id} ({self.rule}, {self.level}) is {self.state}: "
                f"cannot {action}; allowed: {', '.join(self.allowed()) or 'nothing (final)'}"
            )
        if action is A.APPEAL and self.level is Level.REMINDER:
            raise InvalidTransition(f"card {self.card_id} is a reminder: it cannot be appealed")
        return replace(
            self,
            state=target,
            history=(*self.history, Transition(action, target, at, actor, note, evidence)),
            deadline=deadline if deadline is not None else self.deadline,
            deadline_provisional=provisional if deadline is not None else self.deadline_provisional,
        )

    def allowed(self) -> list[str]:
        """Actions the current state allows."""
        out = []
        for (state, action), _ in TRANSITIONS.items():
            if state is not self.state:
                continue
            if action is A.CLOSE and state is S.NOTIFIED and self.level is not Level.REMINDER:
                continue
            if action is A.APPEAL and self.level is Level.REMINDER:
                continue
            out.append(action.value)
        return out

    # -- persistence ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the adapter stores it; :meth:`from_json` reads it back)."""
        d = self.decision
        return {
            "card_id": self.card_id,
            "key": d.key,
            "rule": d.rule,
            "level": d.level.value,
            "rule_type": d.rule_type,
            "subject": d.subject,
            "case_id": d.case_id,
            "dept_code": d.dept_code,
            "window_id": d.window_id,
            "staff_id": d.staff_id,
            "item_code": d.item_code,
            "moment": d.moment.isoformat(),
            "raised_at": self.raised_at.isoformat(),
            "message": d.message,
            "evidence": list(d.evidence),
            "escalates": d.escalates,
            "details": dict(d.details),
            "state": self.state.value,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "deadline_provisional": self.deadline_provisional,
            "historical": self.historical,
            "history": [
                {"action": t.action.value, "state": t.state.value, "at": t.at.isoformat(),
                 "actor": t.actor, "note": t.note, **({"evidence": list(t.evidence)} if t.evidence else {})}
                for t in self.history
            ],
        }  # fmt: skip

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Card:
        """Inverse of :meth:`to_json`."""
        decision = CardDecision(
            key=obj["key"], rule=obj["rule"], level=Level(obj["level"]),
            rule_type=obj["rule_type"], subject=obj["subject"],
            moment=datetime.fromisoformat(obj["moment"]), message=obj["message"],
            evidence=tuple(obj["evidence"]), case_id=obj["case_id"], dept_code=obj["dept_code"],
            window_id=obj["window_id"], staff_id=obj["staff_id"], item_code=obj.get("item_code"),
            escalates=obj["escalates"],
            details=dict(obj["details"]),
        )  # fmt: skip
        return cls(
            card_id=obj["card_id"],
            decision=decision,
            raised_at=datetime.fromisoformat(obj["raised_at"]),
            state=CardState(obj["state"]),
            deadline=date.fromisoformat(obj["deadline"]) if obj["deadline"] else None,
            deadline_provisional=bool(obj["deadline_provisional"]),
            historical=bool(obj.get("historical", False)),
            history=tuple(
                Transition(Action(t["action"]), CardState(t["state"]),
                           datetime.fromisoformat(t["at"]), t["actor"], t["note"],
                           tuple(t.get("evidence", ())))
                for t in obj["history"]
            ),
        )  # fmt: skip
