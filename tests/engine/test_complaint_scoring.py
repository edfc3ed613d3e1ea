"""Complaints in the scores (DOMAIN.md §5, §6): a complaint is handled on time when its acceptance
was decided within 5 working days and its answer given within the limit; a refusal (closed without
acceptance) in time is handled on time; a complaint's R2 card is scored in the complaints block
only, not again as a time card of the cases; the counts shown are the ones deducted from."""

from __future__ import annotations

from typing import Any

import pytest

from hub.engine.cards import Action, CardState
from hub.engine.complaints import handled_on_time
from hub.engine.config import ScoringConfig
from hub.engine.scoring import Period, collect_facts, score_entities
from tests.engine.helpers import Driver, d, ts


def test_handled_on_time_by_hand() -> None:
    accept_due, answer_due, today = d("2026-11-09"), d("2026-11-30"), d("2026-12-31")
    on = handled_on_time
    assert on(d("2026-11-04"), d("2026-11-20"), None, accept_due, answer_due, today) is True
    assert on(d("2026-11-04"), d("2026-12-01"), None, accept_due, answer_due, today) is False  # answer late
    assert on(d("2026-11-10"), d("2026-11-20"), None, accept_due, answer_due, today) is False  # accepted late
    assert on(None, None, d("2026-11-06"), accept_due, None, today) is True  # 不予受理 in time
    assert on(None, None, d("2026-11-12"), accept_due, None, today) is False  # decided too late
    assert on(None, None, None, accept_due, None, d("2026-11-09")) is None  # not yet due
    assert on(None, None, None, accept_due, None, d("2026-11-10")) is False  # undecided past due
    assert on(d("2026-11-04"), None, None, accept_due, answer_due, d("2026-11-30")) is None
    assert on(d("2026-11-04"), None, None, accept_due, answer_due, d("2026-12-01")) is False
    assert on(d("2026-11-04"), None, d("2026-11-25"), accept_due, answer_due, today) is True  # closed in time


def _complaint(drv: Driver, cid: str, *events: tuple[str, str], **extra: Any) -> None:
    for kind, when in events:
        body: dict[str, Any] = dict(extra) if kind == "closed" else {}
        drv.send(f"complaint.{kind}", complaint_id=cid, target_dept="D1", target_staff="S1", at=ts(when), **body)


def test_the_complaints_block_counts_what_it_deducts_and_cards_are_not_counted_twice() -> None:
    drv = Driver()
    for i in range(20):  # 20 cases completed on time: n = 20, a clean timeliness block
        drv.accept(f"C{i}", "2026-11-02T10:00", limit=5)
        drv.case("completed", f"C{i}", "2026-11-05T10:00", result_code=6)
    _complaint(drv, "T1", ("filed", "2026-11-02T10:00"), ("accepted", "2026-11-03T10:00"),
               ("answered", "2026-11-10T10:00"), ("closed", "2026-11-11T10:00"), substantiated=True)
    _complaint(drv, "T2", ("filed", "2026-11-02T10:00"), ("accepted", "2026-11-11T10:00"),
               ("answered", "2026-11-20T10:00"), ("closed", "2026-11-23T10:00"), substantiated=False)  # accepted late
    _complaint(drv, "T3", ("filed", "2026-11-02T10:00"), ("closed", "2026-11-04T10:00"))  # 不予受理 in time
    _complaint(drv, "T4", ("filed", "2026-11-02T10:00"), ("accepted", "2026-11-03T10:00"),
               ("answered", "2026-11-26T10:00"), ("closed", "2026-11-27T10:00"), substantiated=True)  # answer late
    for day in range(2, 31):
        drv.tick(f"2026-11-{day:02d}")
    facts = collect_facts(drv.sup, Period.parse("2026-11"))
    r2 = sorted(c.decision.subject for c in facts.cards if c.rule == "R2")
    assert r2 == ["complaint:T2", "complaint:T4"]  # the engine raised both cards
    (score,) = score_entities(facts, "department", ScoringConfig())
    counts = score.counts
    assert (counts.complaints, counts.complaints_judged, counts.complaints_on_time,
            counts.complaints_substantiated) == (4, 4, 2, 2)
    # 15 × 2/4 − 2 × 2 = 3.5; the two R2 cards of complaints cost nothing in timeliness
    assert score.blocks["complaints"] == pytest.approx(15 * 2 / 4 - 2 * 2)
    assert score.blocks["timeliness"] == pytest.approx(40.0)
    assert "R2" not in counts.cards
    late = [x for x in score.deductions if x.kind == "complaints_late"]
    proven = [x for x in score.deductions if x.kind == "substantiated"]
    assert late[0].count == counts.complaints_judged - counts.complaints_on_time == 2
    assert late[0].complaint_ids == ("T2", "T4")
    assert proven[0].count == counts.complaints_substantiated and proven[0].complaint_ids == ("T1", "T4")
    (staff,) = score_entities(facts, "staff", ScoringConfig())
    assert staff.counts.complaints_substantiated == 2  # the staff member's complaints block too


def test_a_refusal_in_time_reported_late_withdraws_the_acceptance_card() -> None:
    drv = Driver()
    body = {"complaint_id": "T1", "target_dept": "D1"}
    drv.send("complaint.filed", at=ts("2026-11-02T10:00"), **body)
    (r2,) = drv.tick("2026-11-10T00:00")  # acceptance to be decided by 11-09
    assert r2.decision.details["stage"] == "accept"
    drv.sup.take_changed()
    # 不予受理 on 11-06, entered only on 11-10: decided in time, the card no longer holds
    drv.send("complaint.closed", at=ts("2026-11-06T10:00"), now="2026-11-10T09:00", **body)
    (withdrawn,) = [c for c in drv.sup.take_changed() if c.card_id == r2.card_id]
    assert withdrawn.state is CardState.WITHDRAWN and withdrawn.history[-1].action is Action.RETRACT
    late = Driver()
    late.send("complaint.filed", at=ts("2026-11-02T10:00"), **body)
    (card,) = late.tick("2026-11-10T00:00")
    late.sup.take_changed()
    late.send("complaint.closed", at=ts("2026-11-11T10:00"), **body)  # refused after the limit
    assert all(c.state is not CardState.WITHDRAWN for c in late.sup.take_changed())
    assert late.sup.cards[card.card_id].state is not CardState.WITHDRAWN
