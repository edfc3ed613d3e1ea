"""Performance evaluation (绩效评估): the 100-point scheme of DOMAIN.md §5, explainable.

Blocks (weights in :class:`~hub.engine.config.ScoringConfig`):

- **timeliness** (40): on-time rate × 30 + early rate × 10 over the cases completed in the period
  plus the cases still open and past their promised due date at the period's end; then −3 per
  yellow and −10 per red card that counts (not withdrawn, not waiting for an appeal decision),
  the block floored at 0.
- **conformity** (15): the share of cases without a conformity card (R5, R6, R8, R9 by default).
- **fees** (10): −5 per fee violation (R4), floored at 0.
- **complaints** (15): the share of complaints answered on time × 15, −2 per substantiated one,
  floored at 0.
- **satisfaction** (20): the mean rating mapped 1 → 20 … 5 → 0; a rectified bad rating counts as
  level 3.

A block with nothing to judge gets full points. Windows, staff and items are scored on their
applicable blocks, normalised to 100. Every lost point is a :class:`Deduction` naming the cases,
cards or complaints behind it: the deductions of a score add up to ``max_points - points``.
"""

from __future__ import annotations

import calendar as _calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hub.engine.cards import Card
from hub.engine.clock import Outcome
from hub.engine.config import Level, ScoringConfig
from hub.engine.localtime import local_date

KINDS: Mapping[str, str] = {
    "department": "dept_code",
    "window": "window_id",
    "staff": "staff_id",
    "item": "item_code",
}


@dataclass(frozen=True, slots=True)
class Period:
    """A month or a quarter, both ends included."""

    start: date
    end: date
    label: str

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        last = _calendar.monthrange(year, month)[1]
        return cls(date(year, month, 1), date(year, month, last), f"{year}-{month:02d}")

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        if not 1 <= quarter <= 4:
            raise ValueError(f"quarter must be 1..4, got {quarter}")
        first = 3 * quarter - 2
        end = cls.month(year, first + 2).end
        return cls(date(year, first, 1), end, f"{year}-Q{quarter}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2026-11`` or ``2026-Q4``."""
        if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
            month = int(m.group(2))
            if 1 <= month <= 12:
                return cls.month(int(m.group(1)), month)
        if m := re.fullmatch(r"(\d{4})-?Q([1-4])", text, re.IGNORECASE):
            return cls.quarter(int(m.group(1)), int(m.group(2)))
        raise ValueError(f"period must be like 2026-11 or 2026-Q4, got {text!r}")

    def previous(self) -> Period:
        """The month or quarter before this one."""
        before = self.start.replace(day=1) - (date(2000, 1, 2) - date(2000, 1, 1))
        if "Q" in self.label:
            return Period.quarter(before.year, (before.month - 1) // 3 + 1)
        return Period.month(before.year, before.month)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class CaseFact:
    """A case judged in the period: completed in it, or open and overdue at its end."""

    case_id: str
    dept_code: str | None
    outcome: Outcome
    window_id: str | None = None
    staff_id: str | None = None
    item_code: str | None = None


@dataclass(frozen=True, slots=True)
class ComplaintFact:
    """A complaint: answered on time (None: not yet due), substantiated."""

    complaint_id: str
    dept_code: str | None
    handled_well: bool | None
    substantiated: bool = False
    staff_id: str | None = None
    window_id: str | None = None
    item_code: str | None = None


@dataclass(frozen=True, slots=True)
class RatingFact:
    """A 评价 given in the period."""

    case_id: str
    level: int
    dept_code: str | None
    rectified: bool = False
    window_id: str | None = None
    staff_id: str | None = None
    item_code: str | None = None


@dataclass(frozen=True)
class Facts:
    """What a period is scored from."""

    cases: tuple[CaseFact, ...] = ()
    cards: tuple[Card, ...] = ()
    complaints: tuple[ComplaintFact, ...] = ()
    ratings: tuple[RatingFact, ...] = ()


@dataclass(frozen=True, slots=True)
class Deduction:
    """Points lost in a block, and what lost them."""

    block: str
    points: float
    reason: str
    case_ids: tuple[str, ...] = ()
    card_ids: tuple[str, ...] = ()
    complaint_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Score:
    """One entity's score for a period."""

    kind: str
    entity: str
    points: float  # raw points on the applicable blocks
    max_points: float
    score: float  # points normalised to 100
    grade: str
    blocks: Mapping[str, float]
    deductions: tuple[Deduction, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "entity": self.entity,
            "score": round(self.score, 2),
            "grade": self.grade,
            "points": round(self.points, 2),
            "max_points": round(self.max_points, 2),
            "blocks": {k: round(v, 2) for k, v in self.blocks.items()},
            "deductions": [
                {"block": d.block, "points": round(d.points, 2), "reason": d.reason,
                 "case_ids": list(d.case_ids), "card_ids": list(d.card_ids),
                 "complaint_ids": list(d.complaint_ids)}
                for d in self.deductions
            ],
        }  # fmt: skip


def grade_of(score: float, config: ScoringConfig) -> str:
    """The grade band of a 0–100 score (优秀 ≥ 90, 良好 ≥ 80, 合格 ≥ 60, else 不合格)."""
    for name, minimum in config.grades:
        if score >= minimum - 1e-9:
            return name
    return config.failing_grade


def block_maximum(block: str, config: ScoringConfig) -> float:
    """Full points of a block."""
    return {
        "timeliness": config.on_time_points + config.early_points,
        "conformity": config.conformity_points,
        "fees": config.fee_points,
        "complaints": config.complaint_points,
        "satisfaction": config.satisfaction_points,
    }[block]


def score_entities(facts: Facts, kind: str, config: ScoringConfig) -> list[Score]:
    """Scores of every department / window / staff member / item that appears in ``facts``."""
    attr = KINDS[kind]
    blocks: tuple[str, ...] = getattr(config, f"{kind}_blocks")
    groups: dict[str, _Group] = {}

    def group(entity: str | None) -> _Group | None:
        return None if not entity else groups.setdefault(entity, _Group())

    for case in facts.cases:
        if g := group(getattr(case, attr)):
            g.cases.append(case)
    for card in facts.cards:
        if g := group(getattr(card.decision, attr)):
            g.cards.append(card)
    for complaint in facts.complaints:
        if g := group(getattr(complaint, attr)):
            g.complaints.append(complaint)
    for rating in facts.ratings:
        if g := group(getattr(rating, attr)):
            g.ratings.append(rating)
    return [_score(kind, entity, g, blocks, config) for entity, g in sorted(groups.items())]


@dataclass
class _Group:
    cases: list[CaseFact] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    complaints: list[ComplaintFact] = field(default_factory=list)
    ratings: list[RatingFact] = field(default_factory=list)


def _score(
    kind: str, entity: str, g: _Group, blocks: Sequence[str], config: ScoringConfig
) -> Score:
    deductions: list[Deduction] = []
    points: dict[str, float] = {}
    counting = [c for c in g.cards if c.counts]
    for block in blocks:
        maximum = block_maximum(block, config)
        lost = {
            "timeliness": _timeliness,
            "conformity": _conformity,
            "fees": _fees,
            "complaints": _complaints,
            "satisfaction": _satisfaction,
        }[block](g, counting, config)
        floor = sum(d.points for d in lost) - maximum
        if floor > 1e-9:
            lost.append(Deduction(block, -floor, f"{block} 扣分以 0 分为限"))
        deductions += lost
        points[block] = maximum - sum(d.points for d in lost)
    total = sum(points.values())
    maximum = sum(block_maximum(b, config) for b in blocks)
    score = 100.0 * total / maximum if maximum else 100.0
    return Score(kind, entity, total, maximum, score, grade_of(score, config), points,
                 tuple(d for d in deductions if abs(d.points) > 1e-12))  # fmt: skip


def _ids(items: Iterable[Any], attr: str) -> tuple[str, ...]:
    return tuple(sorted({getattr(i, attr) for i in items if getattr(i, attr)}))


def _timeliness(g: _Group, cards: list[Card], config: ScoringConfig) -> list[Deduction]:
    out = []
    n = len(g.cases)
    if n:
        overdue = [c for c in g.cases if c.outcome is Outcome.OVERDUE]
        on_day = [c for c in g.cases if c.outcome is Outcome.ON_TIME]
        per_case = (config.on_time_points + config.early_points) / n
        if overdue:
            out.append(Deduction("timeliness", per_case * len(overdue),
                                 f"超期 {len(overdue)} 件 / {n} 件", _ids(overdue, "case_id")))  # fmt: skip
        if on_day:
            out.append(Deduction("timeliness", config.early_points / n * len(on_day),
                                 f"按时但未提前办结 {len(on_day)} 件 / {n} 件",
                                 _ids(on_day, "case_id")))  # fmt: skip
    for card in cards:
        value = config.red_deduction if card.level is Level.RED else config.yellow_deduction
        word = "红牌" if card.level is Level.RED else "黄牌"
        case_ids = (card.decision.case_id,) if card.decision.case_id else ()
        out.append(Deduction("timeliness", value, f"{word} {card.rule}", case_ids, (card.card_id,)))
    return out


def _conformity(g: _Group, cards: list[Card], config: ScoringConfig) -> list[Deduction]:
    bad = [c for c in cards if c.rule in config.conformity_rules]
    defective = {c.decision.case_id or c.decision.subject for c in bad}
    judged = {c.case_id for c in g.cases} | defective
    if not defective:
        return []
    lost = config.conformity_points * len(defective) / len(judged)
    return [Deduction("conformity", lost, f"不规范 {len(defective)} 件 / {len(judged)} 件",
                      tuple(sorted(defective)), tuple(sorted(c.card_id for c in bad)))]  # fmt: skip


def _fees(g: _Group, cards: list[Card], config: ScoringConfig) -> list[Deduction]:
    return [
        Deduction("fees", config.fee_deduction, f"违规收费 {c.rule}",
                  (c.decision.case_id,) if c.decision.case_id else (), (c.card_id,))
        for c in cards if c.rule in config.fee_rules
    ]  # fmt: skip


def _complaints(g: _Group, cards: list[Card], config: ScoringConfig) -> list[Deduction]:
    out = []
    judged = [c for c in g.complaints if c.handled_well is not None]
    late = [c for c in judged if not c.handled_well]
    if late:
        out.append(Deduction("complaints", config.complaint_points * len(late) / len(judged),
                             f"投诉未按时答复 {len(late)} 件 / {len(judged)} 件",
                             complaint_ids=_ids(late, "complaint_id")))  # fmt: skip
    for c in g.complaints:
        if c.substantiated:
            out.append(Deduction("complaints", config.complaint_deduction, "投诉属实",
                                 complaint_ids=(c.complaint_id,)))  # fmt: skip
    return out


def _satisfaction(g: _Group, cards: list[Card], config: ScoringConfig) -> list[Deduction]:
    n = len(g.ratings)
    if not n:
        return []
    by_level: dict[tuple[int, bool], list[RatingFact]] = {}
    for r in g.ratings:
        rectified = r.rectified and r.level > config.rectified_bad_rating_level
        by_level.setdefault((r.level, rectified), []).append(r)
    out = []
    for (level, rectified), ratings in sorted(by_level.items()):
        effective = config.rectified_bad_rating_level if rectified else level
        if effective <= 1:
            continue
        lost = config.satisfaction_points * (effective - 1) / 4 * len(ratings) / n
        note = f"（已整改，按 {effective} 级计）" if rectified else ""
        out.append(Deduction("satisfaction", lost, f"{level} 级评价 {len(ratings)} 个 / {n} 个{note}",
                             _ids(ratings, "case_id")))  # fmt: skip
    return out


# -- ranking ----------------------------------------------------------------------------------------


def rank(scores: Iterable[Score]) -> list[tuple[int, Score]]:
    """Competition ranking (1, 2, 2, 4 …) by score, highest first; ties by entity id."""
    ordered = sorted(scores, key=lambda s: (-round(s.score, 6), s.entity))
    out: list[tuple[int, Score]] = []
    for i, s in enumerate(ordered):
        tied = out and round(out[-1][1].score, 6) == round(s.score, 6)
        out.append((out[-1][0] if tied else i + 1, s))
    return out


def last_place(scores: Iterable[Score]) -> set[str]:
    """Entities tied for the lowest score (empty with fewer than two entities)."""
    items = list(scores)
    if len(items) < 2:
        return set()
    low = min(round(s.score, 6) for s in items)
    return {s.entity for s in items if round(s.score, 6) == low}


def interview_flags(previous: Iterable[Score], current: Iterable[Score]) -> list[str]:
    """约谈: entities last two months in a row (pass two consecutive months of one kind)."""
    return sorted(last_place(previous) & last_place(current))


# -- facts from the engine state -----------------------------------------------------------------


def collect_facts(sup: Any, period: Period) -> Facts:
    """The facts of ``period`` from a :class:`~hub.engine.supervision.Supervision` (for tests,
    the simulator and small hubs; a large hub builds :class:`Facts` from its database)."""
    calendar, config = sup.calendar, sup.config
    cases: list[CaseFact] = []
    ratings: list[RatingFact] = []
    for case in sup.cases.values():
        clock = case.clock
        if clock is None:
            continue
        who = {"window_id": case.window_id, "staff_id": case.staff_id, "item_code": case.item_code}
        done = local_date(case.completed_at) if case.completed_at else None
        if done is not None and done in period:
            result = clock.completion(calendar)
            if result is not None:
                cases.append(CaseFact(case.case_id, case.dept_code, result.outcome, **who))
        elif done is None or done > period.end:
            due = clock.due(calendar).day
            if due is not None and due < period.end and clock.accepted <= period.end:
                cases.append(CaseFact(case.case_id, case.dept_code, Outcome.OVERDUE, **who))
        for r in case.ratings:
            if local_date(r.at) in period:
                ratings.append(RatingFact(case.case_id, r.level, case.dept_code,
                                          r.rectified_at is not None, **who))  # fmt: skip
    # a card belongs to the period its condition arose in (a history import raises September's
    # overdue cards in October: they still count for September)
    cards = tuple(c for c in sup.cards.values() if local_date(c.decision.moment) in period)
    complaints = []
    for state in sup.complaints.values():
        if state.filed is None or state.filed not in period:
            continue
        well = state.answered_on_time(calendar, config)
        if well is None:
            due = state.answer_due(calendar, config) or state.accept_due(calendar, config)
            if due is not None and due.day is not None and due.day < period.end:
                well = False
        complaints.append(ComplaintFact(state.complaint_id, state.target_dept, well,
                                        bool(state.substantiated), state.target_staff))  # fmt: skip
    return Facts(tuple(cases), cards, tuple(complaints), tuple(ratings))
