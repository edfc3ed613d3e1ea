"""Whether a card's matter is closed — the facts that put it right (DOMAIN.md §4).

A card's *matter* is what its rule complained of: an open overdue case is put right by completing
it (or ends with a refusal), a bad rating by its rectification, a disclosure request or a complaint
by its answer. :func:`matter_closed` says why the matter of a card is closed, in words for the
card's history, or ``None`` while it is open. Pure: the engine passes its subjects' states.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.engine.cards import Card
from hub.engine.cases import CaseState
from hub.engine.complaints import ComplaintState
from hub.engine.disclosure import DisclosureState
from hub.engine.wording import when


def matter_closed(
    card: Card,
    cases: Mapping[str, CaseState],
    disclosures: Mapping[str, DisclosureState],
    complaints: Mapping[str, ComplaintState],
) -> str | None:
    """Why the matter of ``card`` is closed, or None if it is open (or its subject unknown)."""
    kind, _, ident = card.decision.subject.partition(":")
    rule = card.decision.details.get("escalates_rule") or card.rule
    if kind == "case":
        case = cases.get(ident)
        if case is None:
            return None
        if rule == "R11":
            evidence = card.decision.evidence[-1:]
            for r in case.ratings:
                if (r.evidence,) == evidence and r.rectified_at is not None:
                    return f"差评已于 {when(r.rectified_at)} 整改"
            return None
        if case.completed_at is not None:
            return f"办件已于 {when(case.completed_at)} 办结"
        if case.refused:
            return "办件已不予受理"
        return None
    if kind == "disclosure":
        state = disclosures.get(ident)
        return None if state is None or state.is_open else "申请已答复"
    if kind == "complaint":
        cstate = complaints.get(ident)
        if cstate is None or (cstate.answered is None and cstate.closed is None):
            return None
        return "投诉已答复/办结"
    return None
