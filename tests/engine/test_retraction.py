"""系统撤销: time cards that a later-arriving record contradicts are retracted, with evidence;
a record dated after a card's moment never undoes it."""

from __future__ import annotations

import pytest

from hub.engine.cards import Action, CardState, InvalidTransition
from hub.engine.config import parse_config
from tests.engine.helpers import Driver, at, rules_of

NO_R1 = parse_config("rules: {R1: {enabled: false}}", "t.yaml")


def retracted(drv: Driver) -> dict[str, str]:
    """{rule: note} of the cards the engine retracted since the last call."""
    out = {}
    for card in drv.sup.take_changed():
        assert card.state is CardState.WITHDRAWN
        last = card.history[-1]
        assert (last.action, last.actor) == (Action.RETRACT, "system")
        out[card.rule if card.decision.escalates is None else "R3-escalation"] = last.note
    return out


def test_a_pause_arriving_after_the_completion_retracts_the_overdue_cards() -> None:
    """The first import of a department's history: the case row (accepted + completed) arrives
    before the special procedure that paused the clock."""
    drv = Driver()
    drv.accept(when="2026-09-01T10:36", limit=20, statutory=20)  # due 2026-09-29 without the pause
    cards = drv.case("completed", when="2026-10-10T16:46", result_code=6)
    # decided on what was known; the case is done: closed as recorded, and no reminder for it
    assert sorted(rules_of(cards)) == ["R2", "R3"] and all(c.recorded for c in cards)
    assert drv.sup.take_changed() == []
    drv.case("suspended", when="2026-09-01T12:52", kind=2, reason="专家评审")
    evidence = drv.log[-1][2]
    notes = retracted(drv)  # an open pause from before the due date: no due date yet
    assert set(notes) == {"R2", "R3"}
    assert "暂停" in notes["R2"] and "特别程序开始" in notes["R2"] and evidence not in notes["R2"]
    drv.case("resumed", when="2026-09-08T10:46")
    assert drv.sup.take_changed() == []
    assert all(c.state is not CardState.WITHDRAWN for c in drv.sup.cards.values())
    assert not drv.sup.cards_of.get("case:C1")  # final cards leave memory; their keys stay raised
    assert drv.sup.deadlines("C1").promised.day.isoformat() == "2026-10-12"  # type: ignore[union-attr]


def test_the_retracting_record_is_kept_as_evidence_and_survives_json() -> None:
    drv = Driver(NO_R1)
    drv.accept(when="2026-09-01T10:00", limit=5, statutory=None)  # due 09-08
    (card,) = drv.case("completed", when="2026-09-10T10:00", result_code=6)
    drv.case("suspended", when="2026-09-02T10:00", kind=1, reason="延长", extension_days=3)
    (done,) = drv.sup.take_changed()  # due 09-08 + 3 working days = 09-11: completed in time
    assert "2026-09-11" in done.history[-1].note and "未超期" in done.history[-1].note
    assert done.card_id == card.card_id
    assert done.history[-1].evidence == (drv.log[-1][2],)
    again = type(done).from_json(done.to_json())
    assert again == done


def test_a_fact_after_the_cards_moment_does_not_undo_it() -> None:
    """An extension applied for after the due date (R9's business) leaves R2 standing."""
    drv = Driver(NO_R1)
    drv.accept(when="2026-09-01T10:00", limit=5, statutory=None)  # due 09-08
    (r2,) = drv.tick("2026-09-09T00:00")
    assert r2.rule == "R2"
    cards = drv.case("suspended", when="2026-09-10T10:00", kind=1, reason="延长", extension_days=10)
    assert "R9" in rules_of(cards)
    assert drv.sup.take_changed() == []
    drv.case("completed", when="2026-09-15T10:00", result_code=6)  # before the extended due date
    (done,) = drv.sup.take_changed()  # standing; put right by the completion itself
    assert done.card_id == r2.card_id and done.state is CardState.RECTIFIED and done.counts
    assert done.history[-1].actor == "system" and "2026-09-15 10:00 办结" in done.history[-1].note


def test_an_extension_granted_in_time_but_reported_late_retracts_r2() -> None:
    """The hub ticked on a case whose extension, granted before the due date, was on its way."""
    drv = Driver(NO_R1)
    drv.accept(when="2026-09-01T10:00", limit=5, statutory=None)  # due 09-08
    (r2,) = drv.tick("2026-09-09T00:00")
    drv.case("suspended", when="2026-09-07T10:00", kind=1, reason="延长", extension_days=10,
             now="2026-09-09T10:00")  # fmt: skip
    notes = retracted(drv)  # due 09-21 now (09-20, a Sunday, is worked): not overdue yet
    assert set(notes) == {"R2"} and "2026-09-21" in notes["R2"] and "尚未到期" in notes["R2"]
    drv.case("completed", when="2026-09-18T10:00", result_code=6, now="2026-09-22T10:00")
    assert drv.sup.take_changed() == [] and drv.tick("2026-09-30") == []


def test_a_completion_late_from_an_outage_retracts_r2_and_its_escalation() -> None:
    """The hub ticked while the department's agent was offline; the completion it was holding
    shows the case finished on time."""
    drv = Driver(NO_R1)
    drv.accept(when="2026-09-01T10:00", limit=5, statutory=None)  # due 09-08
    (r2,) = drv.tick("2026-09-09T00:00")
    (red,) = drv.tick("2026-10-15T00:00")  # the 督办 deadline of R2 passed: escalated
    assert red.decision.escalates == r2.card_id
    drv.case("completed", when="2026-09-08T15:00", result_code=6, now="2026-10-16T09:00")
    notes = retracted(drv)
    assert set(notes) == {"R2", "R3-escalation"}
    # the escalated yellow card is named by its title, never by its internal id
    assert r2.decision.message in notes["R3-escalation"] and "card-" not in notes["R3-escalation"]


def test_a_completion_after_the_due_date_keeps_r2_but_retracts_a_premature_escalation() -> None:
    drv = Driver(NO_R1)
    drv.accept(when="2026-09-01T10:00", limit=5, statutory=None)  # due 09-08
    (r2,) = drv.tick("2026-09-09T00:00")
    (red,) = drv.tick("2026-10-15T00:00")  # 督办 deadline 09-14: escalated from 09-15
    assert red.decision.moment == at("2026-09-15")
    drv.case("completed", when="2026-09-11T15:00", result_code=6, now="2026-10-16T09:00")
    changed = {c.card_id: c for c in drv.sup.take_changed()}
    assert changed[r2.card_id].state is CardState.RECTIFIED  # R2 stands, put right late
    (note,) = [c.history[-1].note for c in changed.values() if c.state is CardState.WITHDRAWN]
    assert "督办期限内" in note and changed[red.card_id].state is CardState.WITHDRAWN


def test_an_open_case_whose_due_date_moved_later_loses_a_premature_r2() -> None:
    drv = Driver(NO_R1)
    drv.accept(when="2026-09-01T10:00", limit=5, statutory=None)  # due 09-08
    (r2,) = drv.tick("2026-09-09T00:00")
    drv.case("suspended", when="2026-09-02T10:00", kind=2, reason="现场核查", now="2026-09-09T10:00")
    notes = retracted(drv)
    assert set(notes) == {"R2"} and "暂停" in notes["R2"]
    drv.case("resumed", when="2026-09-10T10:00")
    # counting starts 09-02, paused 09-02..09-10 (both ends excluded): 09-11, 14, 15, 16, 17
    assert drv.sup.deadlines("C1").promised.day.isoformat() == "2026-09-17"  # type: ignore[union-attr]
    assert drv.tick("2026-09-17T23:59") == []
    (again,) = drv.tick("2026-09-18T00:00")
    assert again.rule == "R2" and again.card_id != r2.card_id


def test_a_late_presence_record_retracts_an_absence_card() -> None:
    drv = Driver()
    drv.send("presence.absent", window_id="W1", camera_id="c", at=at("2026-11-02T10:00").isoformat())
    (r10,) = drv.tick("2026-11-02T10:20")
    assert r10.rule == "R10"
    drv.send("presence.present", window_id="W1", camera_id="c", at=at("2026-11-02T10:05").isoformat(),
             now="2026-11-02T10:21")
    notes = retracted(drv)
    assert set(notes) == {"R10"} and "15 分钟" in notes["R10"]


def test_a_disclosure_answer_arriving_late_retracts_the_overdue_card() -> None:
    drv = Driver(NO_R1)
    body = {"request_id": "R9", "dept_code": "D1"}
    drv.send("disclosure.received", at=at("2026-11-02T10:00").isoformat(), **body)
    (r2,) = drv.tick("2026-12-01T00:00")  # 20 working days: due 11-27 (Fri), R2 from 11-28
    assert r2.rule == "R2"
    drv.send("disclosure.answered", at=at("2026-11-27T15:00").isoformat(), now="2026-12-01T09:00", **body)
    assert set(retracted(drv)) == {"R2"}


def test_a_complaint_accepted_in_time_but_reported_late_loses_its_r2() -> None:
    drv = Driver()
    body = {"complaint_id": "T1", "target_dept": "D1"}
    drv.send("complaint.filed", at=at("2026-11-02T10:00").isoformat(), **body)
    (r2,) = drv.tick("2026-11-10T00:00")  # accept within 5 working days: by 11-09
    assert r2.decision.details["stage"] == "accept"
    drv.send("complaint.accepted", at=at("2026-11-06T10:00").isoformat(), now="2026-11-10T09:00", **body)
    assert set(retracted(drv)) == {"R2"}


def test_retracted_cards_are_never_raised_again_after_a_restart() -> None:
    drv = Driver()
    drv.accept(when="2026-09-01T10:36", limit=20, statutory=20)
    drv.case("completed", when="2026-10-10T16:46", result_code=6)
    drv.case("suspended", when="2026-09-01T12:52", kind=2, reason="专家评审")
    drv.case("resumed", when="2026-09-08T10:46")
    stored = {c.card_id: c for c in drv.sup.take_changed()}
    assert len(stored) == 2  # R2 and statutory R3, recorded then retracted; no reminder
    fresh = Driver()
    fresh.sup.restore(stored.values())
    with fresh.sup.replaying():
        for type_, body, evidence, moment, reported in drv.log:
            assert fresh.sup.ingest_record(type_, body, evidence, moment, reported) == []
    assert fresh.sup.take_changed() == []
    assert fresh.sup.tick(at("2026-11-26")) == []


def test_people_cannot_retract_and_final_cards_cannot_be_retracted() -> None:
    drv = Driver(NO_R1)
    drv.accept(when="2026-09-01T10:00", limit=5, statutory=None)
    (r2,) = drv.tick("2026-09-09T00:00")
    assert "retract" not in r2.allowed()
    done = r2.apply(Action.RETRACT, at("2026-09-10"), "system", "测试")
    with pytest.raises(InvalidTransition):
        done.apply(Action.RETRACT, at("2026-09-11"), "system", "again")
