"""The 100-point scheme on a small hand-computed example, grades, ranking, 约谈, explanations."""

from __future__ import annotations

import pytest

from hub.engine.cards import Action, Card, CardDecision
from hub.engine.clock import Outcome
from hub.engine.config import Level, ScoringConfig, parse_config
from hub.engine.scoring import (
    CaseFact,
    ComplaintFact,
    Facts,
    Period,
    RatingFact,
    Score,
    collect_facts,
    grade_of,
    interview_flags,
    rank,
    score_entities,
)
from tests.engine.helpers import Driver, at, d

CFG = ScoringConfig()
EARLY, ONDAY, LATE = Outcome.EARLY, Outcome.ON_TIME, Outcome.OVERDUE


def card(rule: str, level: Level, case_id: str, dept: str = "D1", *actions: Action) -> Card:
    decision = CardDecision(
        key=f"{rule}|case:{case_id}|x", rule=rule, level=level, rule_type="时效",
        subject=f"case:{case_id}", moment=at("2026-11-10"), message=rule, case_id=case_id,
        dept_code=dept, window_id="W1" if dept == "D1" else None,
    )  # fmt: skip
    c = Card.raise_(decision, at("2026-11-10"), d("2026-11-13"))
    for action in actions:
        c = c.apply(action, at("2026-11-11"))
    return c


def case(cid: str, outcome: Outcome, dept: str = "D1") -> CaseFact:
    return CaseFact(cid, dept, outcome, window_id="W1" if dept == "D1" else None, staff_id="S1")


FACTS = Facts(
    cases=(
        case("C1", EARLY), case("C2", EARLY), case("C3", ONDAY), case("C4", LATE),
        case("C5", EARLY, "D2"),
        case("C6", ONDAY, "D3"), case("C7", ONDAY, "D3"),
        case("C8", LATE, "D4"),
    ),
    cards=(
        card("R2", Level.YELLOW, "C4"),
        card("R4", Level.RED, "C2"),
        card("R8", Level.YELLOW, "C3"),
        card("R6", Level.YELLOW, "C3", "D1", Action.NOTIFY, Action.APPEAL),  # pending appeal
        card("R5", Level.YELLOW, "C1", "D1", Action.NOTIFY, Action.APPEAL, Action.WITHDRAW),
        card("R1", Level.REMINDER, "C4"),
        card("R11", Level.YELLOW, "C6", "D3"),
        card("R3", Level.RED, "C8", "D4"),
        card("R2", Level.RED, "C8x", "D4"),
    ),
    complaints=(
        ComplaintFact("T1", "D1", True),
        ComplaintFact("T2", "D1", False, substantiated=True),
        ComplaintFact("T3", "D1", None),
    ),
    ratings=(
        RatingFact("C1", 1, "D1", window_id="W1"),
        RatingFact("C2", 2, "D1", window_id="W1"),
        RatingFact("C3", 5, "D1", rectified=True, window_id="W1"),
        RatingFact("C4", 4, "D1", window_id="W1"),
        RatingFact("C6", 3, "D3"),
    ),
)


def by_entity(scores: list[Score]) -> dict[str, Score]:
    return {s.entity: s for s in scores}


def test_hand_computed_department_scores() -> None:
    scores = by_entity(score_entities(FACTS, "department", CFG))
    d1 = scores["D1"]
    # timeliness 30*3/4 + 10*2/4 = 27.5, minus yellow R2 (3), red R4 (10), yellow R8 (3) = 11.5
    # conformity: C3 (R8) of 4 cases -> 15 * 3/4 = 11.25; fees 10 - 5 = 5
    # complaints 15 * 1/2 - 2 = 5.5; satisfaction levels 1, 2, 3 (5 rectified), 4 -> 12.5
    assert d1.blocks == pytest.approx({"timeliness": 11.5, "conformity": 11.25, "fees": 5.0,
                                       "complaints": 5.5, "satisfaction": 12.5})  # fmt: skip
    assert d1.score == pytest.approx(45.75) and d1.grade == "不合格"
    assert scores["D2"].score == pytest.approx(100.0) and scores["D2"].grade == "优秀"
    assert scores["D3"].score == pytest.approx(77.0) and scores["D3"].grade == "合格"
    # D4: an overdue case and two red cards: the timeliness block floors at 0.
    d4 = scores["D4"]
    assert d4.blocks["timeliness"] == 0.0 and d4.score == pytest.approx(60.0)
    assert d4.grade == "合格"


def test_every_lost_point_is_explained() -> None:
    for kind in ("department", "window", "staff", "item"):
        for s in score_entities(FACTS, kind, CFG):
            assert sum(x.points for x in s.deductions) == pytest.approx(s.max_points - s.points)
    d1 = by_entity(score_entities(FACTS, "department", CFG))["D1"]
    reasons = {(x.block, x.reason): x for x in d1.deductions}
    overdue = reasons[("timeliness", "超期 1 件 / 4 件")]
    assert overdue.case_ids == ("C4",) and overdue.points == pytest.approx(10.0)
    red = next(x for x in d1.deductions if x.reason == "红牌 R4")
    assert red.card_ids == (FACTS.cards[1].card_id,) and red.case_ids == ("C2",)
    fee = next(x for x in d1.deductions if x.block == "fees")
    assert fee.card_ids == (FACTS.cards[1].card_id,)
    assert next(x for x in d1.deductions if x.reason == "投诉属实").complaint_ids == ("T2",)
    rectified = next(x for x in d1.deductions if "已整改" in x.reason)
    assert rectified.case_ids == ("C3",) and rectified.points == pytest.approx(2.5)
    # The appealed and the withdrawn cards and the reminder cost nothing.
    explained = {i for x in d1.deductions for i in x.card_ids}
    assert explained == {FACTS.cards[i].card_id for i in (0, 1, 2)}
    floor = [x for x in by_entity(score_entities(FACTS, "department", CFG))["D4"].deductions
             if x.points < 0]  # fmt: skip
    assert len(floor) == 1 and floor[0].points == pytest.approx(-20.0)


def test_windows_are_scored_on_their_blocks_normalised_to_100() -> None:
    w1 = by_entity(score_entities(FACTS, "window", CFG))["W1"]
    assert w1.max_points == 75.0 and set(w1.blocks) == {"timeliness", "conformity", "satisfaction"}
    assert w1.points == pytest.approx(11.5 + 11.25 + 12.5)
    assert w1.score == pytest.approx(100 * 35.25 / 75)


def test_grades_ranking_and_interview_flag() -> None:
    assert [grade_of(s, CFG) for s in (100, 90, 89.99, 80, 60, 59.9)] == [
        "优秀", "优秀", "良好", "良好", "合格", "不合格",
    ]  # fmt: skip
    ranked = rank(score_entities(FACTS, "department", CFG))
    assert [(r, s.entity) for r, s in ranked] == [(1, "D2"), (2, "D3"), (3, "D4"), (4, "D1")]
    previous = score_entities(Facts(cases=(case("X", LATE, "D1"), case("Y", EARLY, "D2"))), "department", CFG)
    current = score_entities(FACTS, "department", CFG)
    assert interview_flags(previous, current) == ["D1"]
    assert interview_flags(previous[:1], current) == []  # one department is never "last"
    tie = score_entities(Facts(cases=(case("A", EARLY, "D1"), case("B", EARLY, "D2"))), "department", CFG)
    assert [r for r, _ in rank(tie)] == [1, 1]


def test_weights_and_bands_from_config() -> None:
    cfg = parse_config("scoring: {red_deduction: 1, grades: {A: 60}, failing_grade: F}", "t.yaml")
    d1 = by_entity(score_entities(FACTS, "department", cfg.scoring))["D1"]
    assert d1.blocks["timeliness"] == pytest.approx(27.5 - 3 - 1 - 3)
    assert d1.grade == "F"
    assert by_entity(score_entities(FACTS, "department", cfg.scoring))["D2"].grade == "A"


def test_periods() -> None:
    assert Period.parse("2026-11") == Period(d("2026-11-01"), d("2026-11-30"), "2026-11")
    assert Period.parse("2026-Q4").start == d("2026-10-01")
    assert Period.parse("2026-Q1").end == d("2026-03-31")
    assert Period.parse("2026-01").previous().label == "2025-12"
    assert Period.parse("2026-Q1").previous().label == "2025-Q4"
    assert d("2026-11-30") in Period.parse("2026-11")
    for bad in ("2026-13", "26-11", "2026-Q5"):
        with pytest.raises(ValueError):
            Period.parse(bad)


def test_collect_facts_from_the_engine() -> None:
    drv = Driver()
    drv.accept("C1", "2026-11-02T10:00", limit=5)  # due 11-09
    drv.case("completed", "C1", "2026-11-05T10:00", result_code=6)  # early
    drv.accept("C2", "2026-11-02T10:00", limit=5)
    drv.case("completed", "C2", "2026-11-09T10:00", result_code=6)  # on time
    drv.accept("C3", "2026-11-02T10:00", limit=5)  # open, overdue at the end of November
    drv.accept("C4", "2026-11-27T10:00", limit=5)  # open, not yet due
    drv.case("rated", "C1", "2026-11-06T10:00", level=1)
    for day in range(2, 31):
        drv.tick(f"2026-11-{day:02d}")
    facts = collect_facts(drv.sup, Period.parse("2026-11"))
    assert sorted((c.case_id, c.outcome) for c in facts.cases) == [
        ("C1", EARLY), ("C2", ONDAY), ("C3", LATE),
    ]  # fmt: skip
    assert {c.rule for c in facts.cards} == {"R1", "R2", "R3"}
    (d1,) = score_entities(facts, "department", CFG)
    # timeliness 30*2/3 + 10*1/3 = 23.33, minus R2 yellow (3) and the R3 escalation (10).
    assert d1.blocks["timeliness"] == pytest.approx(30 * 2 / 3 + 10 / 3 - 13)
    assert d1.blocks["satisfaction"] == 20.0


def test_a_card_counts_in_the_month_its_condition_arose_not_when_it_was_raised() -> None:
    """A history import (or a hub that was down) raises September's overdue card in October."""
    from hub.engine.config import parse_config
    from hub.engine.scoring import Period, collect_facts

    drv = Driver(parse_config("rules: {R1: {enabled: false}, R3: {enabled: false}}", "t.yaml"))
    drv.accept(when="2026-09-01T10:00", limit=5, statutory=None)  # due 09-08: R2 from 09-09
    (card,) = drv.tick("2026-10-05T09:00")
    assert card.raised_at.month == 10 and card.decision.moment.month == 9
    assert [c.card_id for c in collect_facts(drv.sup, Period.parse("2026-09")).cards] == [card.card_id]
    assert collect_facts(drv.sup, Period.parse("2026-10")).cards == ()
