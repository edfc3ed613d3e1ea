"""What people may do to a card from the UI, and who may do it (DOMAIN.md §4, lifecycle).

The engine owns the lifecycle (``hub.engine.cards``); this module says which of its steps the
web offers to which role, and under which UI word:

============  =====================  =================================  =========================
UI action     engine step            who                                note
============  =====================  =================================  =========================
supervise     督办 (raised→notified)  admin, monitor                     optional instructions
respond       department's answer    admin, monitor, department         required; no state change
appeal        申诉                    admin, department                  required (the grounds)
uphold        appeal refused          admin, monitor                     required (the reason)
withdraw      appeal granted          admin, monitor                     required (the reason)
rectify       整改完成                 admin, monitor, department
close         办结 the card           admin, monitor
============  =====================  =================================  =========================

Leaders only read. A department user acts only on its own department's cards (the view checks
the card through the department-scoped query before acting).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.auth.roles import Role

NOTE_MAX = 2000


@dataclass(frozen=True, slots=True)
class CardAction:
    """One action a person can take on a card."""

    name: str
    roles: frozenset[Role]
    note_required: bool
    states: frozenset[str]  # card states in which the action is offered


_A, _M, _D = Role.ADMIN, Role.MONITOR, Role.DEPARTMENT
ACTIONS: Mapping[str, CardAction] = {
    a.name: a
    for a in (
        CardAction("supervise", frozenset({_A, _M}), False, frozenset({"raised"})),
        CardAction("respond", frozenset({_A, _M, _D}), True, frozenset({"notified", "upheld", "raised"})),
        CardAction("appeal", frozenset({_A, _D}), True, frozenset({"notified"})),
        CardAction("uphold", frozenset({_A, _M}), True, frozenset({"appealed"})),
        CardAction("withdraw", frozenset({_A, _M}), True, frozenset({"appealed"})),
        CardAction("rectify", frozenset({_A, _M, _D}), False, frozenset({"raised", "notified", "upheld"})),
        CardAction("close", frozenset({_A, _M}), False, frozenset({"rectified", "notified"})),
    )
}
ACTORS = frozenset({_A, _M, _D})
"""Roles that may act on cards at all (leaders read only)."""

# the engine's own step names, where they differ from the UI word
ENGINE_STEP = {"supervise": "notify"}


def offered(card: Mapping[str, Any], role: Role) -> list[str]:
    """The actions to show ``role`` for ``card``, in lifecycle order.

    When the provider lists the steps the card allows (``allowed``, engine words), that list
    decides; otherwise the card's ``state`` does. ``respond`` is always offered while the card
    waits for the department (it records an answer and moves nothing).
    """
    state = str(card.get("state") or "")
    level = str(card.get("level") or "")
    raw_allowed = card.get("allowed")
    allowed = None if raw_allowed is None else {str(a) for a in raw_allowed}
    out = []
    for action in ACTIONS.values():
        if role not in action.roles:
            continue
        if action.name == "respond" or allowed is None:
            ok = state in action.states
            if action.name == "appeal" and level == "reminder":
                ok = False
            if action.name == "close" and state == "notified" and level != "reminder":
                ok = False
        else:
            ok = ENGINE_STEP.get(action.name, action.name) in allowed
        if ok:
            out.append(action.name)
    return out


class ActionRefused(ValueError):
    """The form asks for something this role or this card does not allow; ``key`` is the message."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key


def check(card: Mapping[str, Any], action: str, role: Role, note: str) -> None:
    """Raise :class:`ActionRefused` unless ``role`` may ``action`` ``card`` with ``note``."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise ActionRefused("cards.error_unknown_action", f"unknown action {action[:40]!r}")
    if role not in spec.roles:
        raise ActionRefused("cards.error_role", f"role {role.value} may not {action} a card")
    if len(note) > NOTE_MAX:
        raise ActionRefused("cards.error_note_long", f"the note is longer than {NOTE_MAX} characters")
    if spec.note_required and not note.strip():
        raise ActionRefused("cards.error_note_required", f"{action} needs a reason in the note")
    if action not in offered(card, role):
        raise ActionRefused(
            "cards.error_state", f"card {card.get('card_id')} is {card.get('state')}: cannot {action} it now"
        )
