"""The card lifecycle: transitions, appeal, escalation, persistence."""

from __future__ import annotations

import json

import pytest

from hub.engine.cards import (
    RETRACTABLE,
    TRANSITIONS,
    Action,
    Card,
    CardDecision,
    CardState,
    InvalidTransition,
    card_id_for,
)
from hub.engine.config import Level
from tests.engine.helpers import Driver, at, d


def decision(level: Level = Level.YELLOW, key: str = "R2|case:C1|2026-10-09") -> CardDecision:
    return CardDecision(
        key=key, rule="R2", level=level, rule_type="时效", subject="case:C1",
        moment=at("2026-10-10"), message="超期", evidence=("ab" * 32,), case_id="C1",
        dept_code="D1", window_id="W1", staff_id="S1", details={"due_date": "2026-10-09"},
    )  # fmt: skip


def yellow() -> Card:
    return Card.raise_(decision(), at("2026-10-10T00:00"), d("2026-10-14"))


def test_full_path_and_history() -> None:
    card = yellow()
    assert card.card_id == card_id_for(card.key) and card.state is CardState.RAISED
    card = card.apply(Action.NOTIFY, at("2026-10-10T00:01"), "hub")
    card = card.apply(Action.APPEAL, at("2026-10-11T09:00"), "D1", "系统故障导致")
    assert not card.counts and not card.escalatable
    card = card.apply(Action.UPHOLD, at("2026-10-12T09:00"), "监察科", deadline=d("2026-10-15"))
    assert card.counts and card.escalatable and card.deadline == d("2026-10-15")
    card = card.apply(Action.RECTIFY, at("2026-10-13T09:00"), "D1")
    card = card.apply(Action.CLOSE, at("2026-10-14T09:00"), "监察科")
    assert card.state is CardState.CLOSED and card.allowed() == []
    assert [t.state for t in card.history] == [
        CardState.NOTIFIED, CardState.APPEALED, CardState.UPHELD, CardState.RECTIFIED,
        CardState.CLOSED,
    ]  # fmt: skip


def test_withdrawn_is_final_and_does_not_count() -> None:
    card = yellow().apply(Action.NOTIFY, at("2026-10-10")).apply(Action.APPEAL, at("2026-10-11"))
    card = card.apply(Action.WITHDRAW, at("2026-10-12"), "监察科", "数据错误")
    assert card.state is CardState.WITHDRAWN and not card.counts
    with pytest.raises(InvalidTransition, match="nothing"):
        card.apply(Action.RECTIFY, at("2026-10-13"))


@pytest.mark.parametrize("state", list(CardState))
@pytest.mark.parametrize("action", list(Action))
def test_every_pair_is_either_allowed_or_raises(state: CardState, action: Action) -> None:
    card = Card.raise_(decision(), at("2026-10-10"), d("2026-10-14"))
    card = Card(card_id=card.card_id, decision=card.decision, raised_at=card.raised_at, state=state)
    target = TRANSITIONS.get((state, action))
    if action is Action.RETRACT:  # the system's withdrawal: from every state that is not final
        if state in RETRACTABLE:
            assert card.apply(action, at("2026-10-11"), "system").state is CardState.WITHDRAWN
        else:
            with pytest.raises(InvalidTransition, match=f"is {state.value}: cannot retract"):
                card.apply(action, at("2026-10-11"))
        return
    if action is Action.RECORD:  # closed as recorded: only a card nobody was told of yet
        if state is CardState.RAISED:
            assert card.apply(action, at("2026-10-11"), "system").recorded
        else:
            with pytest.raises(InvalidTransition, match="only a card nobody was told of"):
                card.apply(action, at("2026-10-11"))
        return
    if target is None or (state is CardState.NOTIFIED and action is Action.CLOSE):
        with pytest.raises(InvalidTransition, match=f"is {state.value}: cannot {action.value}"):
            card.apply(action, at("2026-10-11"))
    else:
        assert card.apply(action, at("2026-10-11")).state is target


def test_reminders_close_after_notification_and_cannot_be_appealed() -> None:
    reminder = Card.raise_(decision(Level.REMINDER, "R1|case:C1|2026-10-09"), at("2026-10-09"))
    notified = reminder.apply(Action.NOTIFY, at("2026-10-09"))
    assert notified.apply(Action.CLOSE, at("2026-10-09")).state is CardState.CLOSED
    with pytest.raises(InvalidTransition, match="reminder"):
        notified.apply(Action.APPEAL, at("2026-10-09"))
    assert not reminder.counts and not reminder.escalatable


def test_json_round_trip() -> None:
    card = yellow().apply(Action.NOTIFY, at("2026-10-10T00:01"), "hub", "已推送")
    again = Card.from_json(json.loads(json.dumps(card.to_json(), ensure_ascii=False)))
    assert again == card


def test_appeal_pauses_escalation_and_uphold_restarts_the_deadline() -> None:
    drv = Driver()
    drv.accept(statutory=None)
    drv.tick("2026-10-09")
    (card,) = drv.tick("2026-10-10")
    sup = drv.sup
    sup.transition(card.card_id, Action.NOTIFY, at("2026-10-10T08:00"))
    sup.transition(card.card_id, Action.APPEAL, at("2026-10-12T09:00"), "D1", "申请人未到场")
    assert drv.tick("2026-10-20") == []  # past the deadline, but under appeal
    upheld = sup.transition(card.card_id, Action.UPHOLD, at("2026-10-20T10:00"), "监察科")
    assert upheld.deadline == d("2026-10-23")  # 3 G after Tuesday 10-20
    assert drv.tick("2026-10-23T23:00") == []
    (red,) = drv.tick("2026-10-24T00:00")
    assert red.rule == "R3" and red.decision.escalates == card.card_id


def test_withdrawn_appeal_never_escalates() -> None:
    drv = Driver()
    drv.accept(statutory=None)
    drv.tick("2026-10-09")
    (card,) = drv.tick("2026-10-10")
    drv.sup.transition(card.card_id, Action.NOTIFY, at("2026-10-10T08:00"))
    drv.sup.transition(card.card_id, Action.APPEAL, at("2026-10-12T09:00"))
    drv.sup.transition(card.card_id, Action.WITHDRAW, at("2026-10-13T09:00"))
    assert drv.tick("2026-12-31") == []
    with pytest.raises(KeyError):
        drv.sup.transition("card-nope", Action.NOTIFY, at("2026-10-13"))
