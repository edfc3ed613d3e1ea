"""The 100-point scheme of DOMAIN.md §5: a hand-computed month of a 9,000-case and a 25-case
department, the n ≥ 20 floor, caps, the satisfaction share, counts that recompute the score, grades,
ranking, 约谈, and plausibility (on time ≥ 95 % and no red card is never 不合格)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
LEVELS = {"R1": Level.REMINDER, "R2": Level.YELLOW, "R3": Level.RED, "R4": Level.RED, "R5": Level.YELLOW,
          "R6": Level.YELLOW, "R7": Level.REMINDER, "R8": Level.YELLOW, "R9": Level.YELLOW, "R10": Level.YELLOW,
          "R11": Level.YELLOW}  # fmt: skip


def cards(rule: str, n: int, dept: str, *actions: Action, level: Level | None = None) -> list[Card]:
    """``n`` cards of ``rule`` (distinct ids), each taken through ``actions``."""
    out = []
    for i in range(n):
        decision = CardDecision(
            key=f"{rule}|case:{dept}-{rule}-{i}|{len(actions)}", rule=rule, level=level or LEVELS[rule],
            rule_type="时效", subject=f"case:{dept}-{rule}-{i}", moment=at("2026-11-10"), message=rule,
            case_id=f"{dept}-{rule}-{i}", dept_code=dept, window_id=f"{dept}-W1", staff_id=f"{dept}-S1",
        )  # fmt: skip
        c = Card.raise_(decision, at("2026-11-10"), d("2026-11-13"))
        for action in actions:
            c = c.apply(action, at("2026-11-11"), note="x")
        out.append(c)
    return out


def cases(dept: str, early: int, on_day: int, late: int) -> list[CaseFact]:
    out = []
    for outcome, n in ((EARLY, early), (ONDAY, on_day), (LATE, late)):
        out += [CaseFact(f"{dept}-{outcome}-{i}", dept, outcome, f"{dept}-W1", f"{dept}-S1") for i in range(n)]
    return out


def ratings(dept: str, **per_level: int) -> list[RatingFact]:
    return [RatingFact(f"{dept}-r{level}-{i}", int(level[1:]), dept, window_id=f"{dept}-W1")
            for level, n in per_level.items() for i in range(n)]  # fmt: skip


def month() -> Facts:
    """BIG: 9,000 completed cases; SMALL: 25; TINY: 5 (scored with n = 20)."""
    big_cards = (
        cards("R2", 270, "BIG") + cards("R3", 6, "BIG") + cards("R9", 3, "BIG")
        + cards("R5", 30, "BIG") + cards("R8", 15, "BIG") + cards("R10", 6, "BIG")
        + cards("R10", 40, "BIG", level=Level.REMINDER)  # a single absence: a reminder, weight 0
        + cards("R7", 10, "BIG")  # reminders for manual review: not upheld, count nothing
        + cards("R6", 5, "BIG", Action.NOTIFY, Action.APPEAL)  # waiting for the appeal decision
        + cards("R5", 4, "BIG", Action.NOTIFY, Action.APPEAL, Action.WITHDRAW)  # withdrawn
        + cards("R2", 7, "BIG", Action.RETRACT)  # withdrawn by the system (系统撤销)
        + cards("R1", 500, "BIG")  # reminders count nothing
        + cards("R4", 9, "BIG") + cards("R11", 3, "BIG")
    )  # fmt: skip
    big_complaints = [ComplaintFact(f"T{i}", "BIG", i != 0, substantiated=i == 1) for i in range(10)]
    big_complaints.append(ComplaintFact("T-open", "BIG", None))  # not yet due: not judged
    small_cards = cards("R2", 1, "SMALL") + cards("R3", 1, "SMALL") + cards("R5", 1, "SMALL")
    tiny_cards = cards("R6", 2, "TINY")
    tiny_complaints = [ComplaintFact(f"U{i}", "TINY", True, substantiated=True) for i in range(8)]
    return Facts(
        cases=tuple(cases("BIG", 5400, 3330, 270) + cases("SMALL", 10, 14, 1) + cases("TINY", 5, 0, 0)),
        cards=tuple(big_cards + small_cards + tiny_cards),
        complaints=tuple(big_complaints + tiny_complaints),
        ratings=tuple(ratings("BIG", l1=3000, l2=700, l3=200, l4=60, l5=40) + ratings("TINY", l2=2)),
    )


FACTS = month()


def by_entity(scores: list[Score]) -> dict[str, Score]:
    return {s.entity: s for s in scores}


@pytest.fixture(scope="module")
def departments() -> dict[str, Score]:
    return by_entity(score_entities(FACTS, "department", CFG))


def test_a_large_department_by_hand(departments: dict[str, Score]) -> None:
    big = departments["BIG"]
    # timeliness: on time 8,730/9,000 × 30 = 29.1, early 5,400/9,000 × 10 = 6; cards 100 × Σw / 9,000:
    # R2 270 × 3 = 810 → 9, R3 6 × 10 = 60 → 0.667, R9 3 × 3 = 9 → 0.1: 35.1 − 9.767 = 25.333
    # conformity: R5 30 × 3 → 1, R8 15 × 3 → 0.5, R10 6 × 3 → 0.2: 15 − 1.7 = 13.3
    # fees: R4 9 × 10 = 90 → 1: 9; complaints: 9 of 10 judged on time, 1 substantiated: 13.5 − 2 = 11.5
    # satisfaction: 3,900 of 4,000 ratings are 1–3: 19.5, minus 3 R11 cards: 16.5
    assert big.blocks == pytest.approx({"timeliness": 35.1 - 9 - 60 / 90 - 0.1, "conformity": 13.3, "fees": 9.0,
                                        "complaints": 11.5, "satisfaction": 16.5})  # fmt: skip
    assert big.score == pytest.approx(25.333333 + 13.3 + 9 + 11.5 + 16.5) and big.grade == "合格"
    c = big.counts
    assert (c.completed, c.on_time, c.early, c.divisor) == (9000, 8730, 5400, 9000)
    assert c.cards == {
        "R2": {"yellow": 270},
        "R3": {"red": 6},
        "R4": {"red": 9},
        "R5": {"yellow": 30},
        "R8": {"yellow": 15},
        "R9": {"yellow": 3},
        "R10": {"yellow": 6},
        "R11": {"yellow": 3},
    }
    assert (c.cards_of("yellow"), c.cards_of("red")) == (327, 15)
    assert (c.complaints, c.complaints_judged, c.complaints_on_time, c.complaints_substantiated) == (11, 10, 9, 1)
    assert c.ratings == {1: 3000, 2: 700, 3: 200, 4: 60, 5: 40}


def test_a_small_department_by_hand_card_cap(departments: dict[str, Score]) -> None:
    small = departments["SMALL"]
    # timeliness: 24/25 × 30 = 28.8, 10/25 × 10 = 4; cards R2 100 × 3 / 25 = 12, R3 100 × 10 / 25 = 40:
    # 52 capped at 20 → 32.8 − 20 = 12.8. conformity: R5 12 → 3. fees 10, complaints 15 (none),
    # satisfaction 20 (no ratings) → 60.8 合格.
    assert small.blocks == pytest.approx({"timeliness": 12.8, "conformity": 3.0, "fees": 10.0, "complaints": 15.0,
                                          "satisfaction": 20.0})  # fmt: skip
    assert small.score == pytest.approx(60.8) and small.grade == "合格"
    explained = [(x.block, x.kind, x.rule, x.count, round(x.points, 4), x.basis) for x in small.deductions]
    assert explained == [
        ("timeliness", "on_time", None, 1, 1.2, "30 × 1 ÷ 25"),
        ("timeliness", "early", None, 15, 6.0, "10 × 15 ÷ 25"),
        ("timeliness", "cards", "R2", 1, 12.0, "100 × 1 × 3 ÷ 25"),
        ("timeliness", "cards", "R3", 1, 40.0, "100 × 1 × 10 ÷ 25"),
        ("timeliness", "cap", None, 0, -32.0, "52 − 20"),
        ("conformity", "cards", "R5", 1, 12.0, "100 × 1 × 3 ÷ 25"),
    ]
    assert [x.reason for x in small.deductions][:4] == [
        "按时办结率 96.0%（24/25 件）",
        "提前办结率 40.0%（10/25 件）",
        "R2 超期 黄牌 ×1",
        "R3 督办逾期/超法定时限 红牌 ×1",
    ]


def test_a_tiny_department_is_divided_by_at_least_20(departments: dict[str, Score]) -> None:
    tiny = departments["TINY"]
    # 5 cases, n = 20: two R6 yellow cards are 100 × 6 / 20 = 30, capped at 15 → conformity 0;
    # 8 substantiated complaints: 15 − 16 floored at 0; two 满意 (level 2) ratings cost nothing.
    assert tiny.counts.divisor == 20 and tiny.counts.completed == 5
    assert tiny.blocks == {"timeliness": 40.0, "conformity": 0.0, "fees": 10.0, "complaints": 0.0,
                           "satisfaction": 20.0}  # fmt: skip
    assert tiny.score == pytest.approx(70.0)
    kinds = [(x.block, x.kind, round(x.points, 4)) for x in tiny.deductions]
    assert kinds == [("conformity", "cards", 30.0), ("conformity", "cap", -15.0), ("complaints", "substantiated", 16.0),
                     ("complaints", "floor", -1.0)]  # fmt: skip


def test_satisfaction_is_the_share_of_ratings_1_to_3() -> None:
    facts = Facts(cases=tuple(cases("D", 20, 0, 0)), ratings=tuple(ratings("D", l1=1, l2=5, l3=2, l4=1, l5=1)),
                  cards=tuple(cards("R11", 2, "D")))  # fmt: skip
    (s,) = score_entities(facts, "department", CFG)
    assert s.blocks["satisfaction"] == pytest.approx(20 * 8 / 10 - 2)
    (lost, r11) = [x for x in s.deductions if x.block == "satisfaction"]
    assert lost.reason == "不满意评价（4、5 级）2/10 个" and lost.points == pytest.approx(4.0)
    assert r11.rule == "R11" and r11.count == 2 and r11.points == 2.0


def test_every_lost_point_is_explained_and_counts_recompute_the_score() -> None:
    for kind in ("department", "window", "staff", "item"):
        for s in score_entities(FACTS, kind, CFG):
            assert sum(x.points for x in s.deductions) == pytest.approx(s.max_points - s.points)
            assert recompute(s.to_json()["counts"], s.blocks.keys()) == pytest.approx(dict(s.blocks))
            shown = s.to_json()["counts"]
            for x in s.deductions:
                if x.kind == "cards":
                    assert shown["cards"][x.rule][x.level] == x.count == len(x.card_ids)


def test_windows_are_scored_on_their_blocks_normalised_to_100() -> None:
    w = by_entity(score_entities(FACTS, "window", CFG))["SMALL-W1"]
    assert w.max_points == 75.0 and set(w.blocks) == {"timeliness", "conformity", "satisfaction"}
    assert w.points == pytest.approx(12.8 + 3 + 20) and w.score == pytest.approx(100 * 35.8 / 75)
    # a window has no fee block: its R4 cards are neither deducted nor shown
    assert "R4" not in by_entity(score_entities(FACTS, "window", CFG))["BIG-W1"].counts.cards


def test_grades_ranking_and_interview_flag(departments: dict[str, Score]) -> None:
    assert [grade_of(s, CFG) for s in (100, 90, 89.99, 80, 60, 59.9)] == [
        "优秀", "优秀", "良好", "良好", "合格", "不合格",
    ]  # fmt: skip
    ranked = rank(departments.values())
    assert [(r, s.entity) for r, s in ranked] == [(1, "BIG"), (2, "TINY"), (3, "SMALL")]
    previous = score_entities(Facts(cases=(*cases("SMALL", 0, 0, 20), *cases("BIG", 20, 0, 0))), "department", CFG)
    assert interview_flags(previous, list(departments.values())) == ["SMALL"]
    assert interview_flags(previous[:1], list(departments.values())) == []  # one department is never "last"
    tie = score_entities(Facts(cases=(*cases("A", 1, 0, 0), *cases("B", 1, 0, 0))), "department", CFG)
    assert [r for r, _ in rank(tie)] == [1, 1]


def test_weights_caps_and_bands_from_config() -> None:
    cfg = parse_config("scoring: {red_weight: 1, time_card_cap: 100, min_cases: 1, grades: {A: 60}, "
                       "failing_grade: F, satisfied_levels: [1]}", "t.yaml").scoring  # fmt: skip
    small = by_entity(score_entities(FACTS, "department", cfg))["SMALL"]
    assert small.blocks["timeliness"] == pytest.approx(32.8 - 12 - 4)
    assert small.grade == "A"
    tiny = by_entity(score_entities(FACTS, "department", cfg))["TINY"]
    assert tiny.counts.divisor == 5 and tiny.blocks["satisfaction"] == 0.0  # level 2 no longer counts as satisfied


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
    assert sorted((c.case_id, c.outcome, c.completed) for c in facts.cases) == [
        ("C1", EARLY, True), ("C2", ONDAY, True), ("C3", LATE, False),
    ]  # fmt: skip
    assert {"R1", "R2"} <= {c.rule for c in facts.cards}
    (d1,) = score_entities(facts, "department", CFG)
    # two completed (both on time, one early): 30 + 5; C3's cards are divided by n = 20
    weight = 3 * d1.counts.cards_of("yellow") + 10 * d1.counts.cards_of("red")
    assert d1.counts.cards["R2"] == {"yellow": 1} and d1.counts.divisor == 20
    assert d1.blocks["timeliness"] == pytest.approx(35 - min(20, 100 * weight / 20))
    assert d1.blocks["satisfaction"] == 20.0


def test_a_card_counts_in_the_month_its_condition_arose_not_when_it_was_raised() -> None:
    """A history import (or a hub that was down) raises September's overdue card in October."""
    drv = Driver(parse_config("rules: {R1: {enabled: false}, R3: {enabled: false}}", "t.yaml"))
    drv.accept(when="2026-09-01T10:00", limit=5, statutory=None)  # due 09-08: R2 from 09-09
    (card,) = drv.tick("2026-10-05T09:00")
    assert card.raised_at.month == 10 and card.decision.moment.month == 9
    assert [c.card_id for c in collect_facts(drv.sup, Period.parse("2026-09")).cards] == [card.card_id]
    assert collect_facts(drv.sup, Period.parse("2026-10")).cards == ()


# -- plausibility -----------------------------------------------------------------------------------


def recompute(counts: Mapping[str, Any], blocks: Any) -> dict[str, float]:
    """DOMAIN.md §5 by hand from the counts the API shows (default weights)."""
    done, n = counts["cases_completed"], counts["divisor"]
    w = {rule: 3 * levels.get("yellow", 0) + 10 * levels.get("red", 0) for rule, levels in counts["cards"].items()}

    def weight(*rules: str) -> float:
        return float(sum(w.get(r, 0) for r in rules))

    complaints, rated = counts["complaints"], counts["ratings"]
    total = sum(rated.values())
    share = sum(rated.get(k, 0) for k in ("1", "2", "3")) / total if total else 1.0
    on_time = complaints["answered_on_time"] / complaints["judged"] if complaints["judged"] else 1.0
    r11 = sum(counts["cards"].get("R11", {}).values())
    full = {
        "timeliness": (30 * counts["on_time"] / done + 10 * counts["early"] / done if done else 40)
        - min(20, 100 * weight("R2", "R3", "R9") / n),
        "conformity": 15 - min(15, 100 * weight("R5", "R6", "R7", "R8", "R10") / n),
        "fees": 10 - min(10, 100 * weight("R4") / n),
        "complaints": 15 * on_time - 2 * complaints["substantiated"],
        "satisfaction": 20 * share - r11,
    }
    return {b: max(0.0, full[b]) for b in blocks}


@settings(max_examples=80, deadline=None)
@given(
    completed=st.integers(1, 12000),
    on_time_share=st.floats(0.95, 1.0),
    early_share=st.floats(0.0, 1.0),
    yellow_per_100=st.floats(0.0, 2.0),
    split=st.lists(st.sampled_from(["R2", "R5", "R6", "R8", "R9", "R10", "R11"]), min_size=1, max_size=7),
    judged=st.integers(0, 30),
    complaints_on_time=st.floats(0.8, 1.0),
    substantiated=st.integers(0, 2),
    rated=st.integers(0, 6000),
    satisfied=st.floats(0.9, 1.0),
)
def test_on_time_95_and_no_red_card_is_never_failing_under_a_plausible_load(
    completed: int, on_time_share: float, early_share: float, yellow_per_100: float, split: list[str],
    judged: int, complaints_on_time: float, substantiated: int, rated: int, satisfied: float,
) -> None:  # fmt: skip
    """Plausible (DOMAIN.md §4): yellow cards ≤ 2 per 100 cases (at most 5 of them R11), ≥ 80 % of
    complaints answered on time with ≤ 2 substantiated, ≥ 90 % of ratings 1–3. Then the score is at
    least 28.5 − 6 + 15 + 10 + (12 − 4) + (18 − 5) = 68.5 (or 9 conformity and 28.5 timeliness)."""
    on_time = max(round(completed * on_time_share), -(-completed * 95 // 100))
    early = min(on_time, round(on_time * early_share))
    yellow = int(max(completed, 1) * yellow_per_100 / 100)
    facts_cases = (
        (CaseFact("e", "D", EARLY),) * early + (CaseFact("o", "D", ONDAY),) * (on_time - early)
        + (CaseFact("l", "D", LATE),) * (completed - on_time)
    )  # fmt: skip
    facts_cards: list[Card] = []
    for i, rule in enumerate(split):
        share = yellow // len(split) + (1 if i < yellow % len(split) else 0)
        facts_cards += cards(rule, min(share, 5) if rule == "R11" else share, "D")
    answered = math.ceil(judged * complaints_on_time - 1e-9)
    complaints = [ComplaintFact(f"T{i}", "D", i < answered if i < judged else None, substantiated=i < substantiated)
                  for i in range(max(judged, substantiated))]  # fmt: skip
    good = math.ceil(rated * satisfied - 1e-9)
    rating_facts = (RatingFact("r", 2, "D"),) * good + (RatingFact("r", 5, "D"),) * (rated - good)
    facts = Facts(facts_cases, tuple(facts_cards), tuple(complaints), rating_facts)
    (s,) = score_entities(facts, "department", CFG)
    assert s.counts.cards_of("red") == 0 and s.counts.on_time >= 0.95 * s.counts.completed
    assert s.grade != "不合格", (s.score, s.blocks)
    assert s.blocks == pytest.approx(recompute(s.to_json()["counts"], s.blocks.keys()))
