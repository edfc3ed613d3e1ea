"""Performance evaluation (绩效评估): the 100-point scheme of DOMAIN.md §5, as rates a leader can
recompute by hand.

Let ``n`` be the cases completed in the period, at least ``min_cases`` (20), and a card's weight
3 (yellow) or 10 (red), counting *standing* cards only (:attr:`Card.counts`: not a reminder, not
withdrawn, not waiting for an appeal decision); a card belongs to the period of its ``moment``.
Blocks (every number in :class:`~hub.engine.config.ScoringConfig`):

- **timeliness** (40): on-time rate × 30 + early rate × 10 over the completed cases (on time
  includes early; with none completed both rates count as 1), minus 100 × Σ weight(R2, R3, R9) / n,
  that deduction capped at 20.
- **conformity** (15): 15 − 100 × Σ weight(R5, R6, R7 upheld, R8, R10) / n, capped at 15.
- **fees** (10): 10 − 100 × Σ weight(R4) / n, capped at 10.
- **complaints** (15): 15 × share of the complaints judged so far that were handled on time
  (acceptance decided within its limit and answer given within its limit, or refused in time:
  :func:`hub.engine.complaints.handled_on_time`; 15 when none is judged yet), − 2 per
  substantiated complaint. A complaint's own R2 cards count here only, not as time cards.
- **satisfaction** (20): 20 × share of ratings 1–3 among all ratings (20 with no ratings), − 1 per
  standing R11 card.

Each block is floored at 0. Windows, staff and items are scored on their applicable blocks,
normalised to 100. A score carries its :class:`Counts` — exactly the numbers its deductions were
computed from — and :class:`Deduction` entries grouped per rule and level ("R2 超期 黄牌 ×3"),
each with the formula that gives its points; a cap or a floor is a negative entry, so the
deductions of a score add up to ``max_points - points``.
"""

from __future__ import annotations

import calendar as _calendar
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hub.engine.cards import Action, Card
from hub.engine.clock import Outcome
from hub.engine.config import ScoringConfig
from hub.engine.localtime import local_date
from hub.engine.rules import RULES

KINDS: Mapping[str, str] = {
    "department": "dept_code",
    "window": "window_id",
    "staff": "staff_id",
    "item": "item_code",
}
BLOCKS = ("timeliness", "conformity", "fees", "complaints", "satisfaction")
LEVEL_WORDS: Mapping[str, str] = {"yellow": "黄牌", "red": "红牌"}
BLOCK_WORDS: Mapping[str, str] = {
    "timeliness": "办件时效", "conformity": "规范性", "fees": "收费合规", "complaints": "投诉",
    "satisfaction": "满意度",
}  # fmt: skip


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
    """A case of the period: completed in it (``completed``), or open and overdue at its end
    (``completed=False``: not scored by the rates — its R2/R3 cards count — but reported)."""

    case_id: str
    dept_code: str | None
    outcome: Outcome
    window_id: str | None = None
    staff_id: str | None = None
    item_code: str | None = None
    completed: bool = True


@dataclass(frozen=True, slots=True)
class ComplaintFact:
    """A complaint: handled on time (None: not yet due), substantiated."""

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
    """Points lost in a block, and what lost them.

    ``rule``/``level``/``count``/``weight`` describe a group of cards (``kind`` "cards"); ``basis``
    is the formula of ``points`` in numbers ("100 × 3 × 3 ÷ 1000"). A negative entry (``kind``
    "cap", its ``weight`` the cap, or "floor") gives back what a cap or the block's floor does not
    let it lose."""

    block: str
    points: float
    reason: str
    kind: str = "cards"  # on_time, early, cards, cap, floor, complaints_late, substantiated, ratings
    rule: str | None = None
    level: str | None = None
    count: int = 0
    weight: float = 0.0
    basis: str = ""
    case_ids: tuple[str, ...] = ()
    card_ids: tuple[str, ...] = ()
    complaint_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The entry without its id lists (the cards list, filtered by rule, shows them)."""
        return {"block": self.block, "points": round(self.points, 2), "reason": self.reason, "kind": self.kind,
                "rule": self.rule, "level": self.level, "count": self.count, "weight": self.weight,
                "basis": self.basis}  # fmt: skip


@dataclass(frozen=True)
class Counts:
    """The numbers a score was computed from (and nothing else)."""

    completed: int = 0  # cases completed in the period
    on_time: int = 0  # of them, by their due date (early ones included)
    early: int = 0  # of them, before it
    divisor: int = 0  # n: completed, at least min_cases
    cards: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # rule -> level -> standing cards
    complaints: int = 0  # filed in the period
    complaints_judged: int = 0  # answered, or past their due date
    complaints_on_time: int = 0
    complaints_substantiated: int = 0
    ratings: Mapping[int, int] = field(default_factory=dict)  # level -> ratings

    def cards_of(self, level: str) -> int:
        return sum(by_level.get(level, 0) for by_level in self.cards.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "cases_completed": self.completed, "on_time": self.on_time, "early": self.early,
            "divisor": self.divisor,
            "cards": {rule: dict(levels) for rule, levels in self.cards.items()},
            "yellow": self.cards_of("yellow"), "red": self.cards_of("red"),
            "complaints": {"filed": self.complaints, "judged": self.complaints_judged,
                           "answered_on_time": self.complaints_on_time,
                           "substantiated": self.complaints_substantiated},
            "ratings": {str(level): n for level, n in sorted(self.ratings.items())},
        }  # fmt: skip


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
    counts: Counts = field(default_factory=Counts)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "entity": self.entity,
            "score": round(self.score, 2),
            "grade": self.grade,
            "points": round(self.points, 2),
            "max_points": round(self.max_points, 2),
            "blocks": {k: round(v, 2) for k, v in self.blocks.items()},
            "counts": self.counts.to_json(),
            "deductions": [d.to_json() for d in self.deductions],
        }


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


def block_rules(block: str, config: ScoringConfig) -> tuple[str, ...]:
    """The rules whose standing cards a block deducts."""
    return {
        "timeliness": config.time_rules,
        "conformity": config.conformity_rules,
        "fees": config.fee_rules,
        "complaints": (),
        "satisfaction": config.rating_rules,
    }[block]


def stands(card: Card, config: ScoringConfig) -> bool:
    """Whether ``card`` counts: a standing yellow or red card (a review rule's only once upheld)."""
    if not card.counts:
        return False
    return card.rule not in config.review_rules or any(t.action is Action.UPHOLD for t in card.history)


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


@dataclass(frozen=True)
class _Basis:
    """A group's facts, counted once: what the blocks compute from and the counts shown."""

    completed: int
    on_time: int
    early: int
    n: int
    cards: Mapping[tuple[str, str], list[Card]]  # (rule, level) -> standing cards
    complaints: list[ComplaintFact]
    ratings: Counter[int]


def _basis(g: _Group, config: ScoringConfig) -> _Basis:
    done = [c for c in g.cases if c.completed]
    early = sum(1 for c in done if c.outcome is Outcome.EARLY)
    on_time = early + sum(1 for c in done if c.outcome is Outcome.ON_TIME)
    cards: dict[tuple[str, str], list[Card]] = {}
    for card in g.cards:
        # a complaint's R2 card (acceptance or answer late) is scored in the complaints block, as
        # a complaint not handled in time — not a second time as a time card of the cases
        if stands(card, config) and not card.decision.subject.startswith("complaint:"):
            cards.setdefault((card.rule, card.level.value), []).append(card)
    return _Basis(len(done), on_time, early, max(len(done), config.min_cases), cards, g.complaints,
                  Counter(r.level for r in g.ratings))  # fmt: skip


def _score(kind: str, entity: str, g: _Group, blocks: Sequence[str], config: ScoringConfig) -> Score:
    b = _basis(g, config)
    deductions: list[Deduction] = []
    points: dict[str, float] = {}
    shown: dict[str, dict[str, int]] = {}
    for block in blocks:
        maximum = block_maximum(block, config)
        lost = _BLOCKS[block](b, config)
        for rule in block_rules(block, config):
            for level in ("yellow", "red"):
                if cards := b.cards.get((rule, level)):
                    shown.setdefault(rule, {})[level] = len(cards)
        lost_total = sum(d.points for d in lost)
        if lost_total - maximum > 1e-9:
            lost.append(Deduction(block, maximum - lost_total, f"{BLOCK_WORDS[block]}以 0 分为限", "floor",
                                  basis=f"{_num(lost_total)} − {_num(maximum)}"))  # fmt: skip
        deductions += lost
        points[block] = max(0.0, maximum - sum(d.points for d in lost))
    total = sum(points.values())
    maximum = sum(block_maximum(block, config) for block in blocks)
    score = 100.0 * total / maximum if maximum else 100.0
    judged = [c for c in b.complaints if c.handled_well is not None]
    counts = Counts(
        b.completed, b.on_time, b.early, b.n, dict(sorted(shown.items(), key=lambda kv: _rule_order(kv[0]))),
        len(b.complaints), len(judged), sum(1 for c in judged if c.handled_well),
        sum(1 for c in b.complaints if c.substantiated), dict(sorted(b.ratings.items())),
    )  # fmt: skip
    return Score(kind, entity, total, maximum, score, grade_of(score, config), points,
                 tuple(d for d in deductions if abs(d.points) > 1e-12), counts)  # fmt: skip


def _num(x: float) -> str:
    """A number as a person writes it: 3, 0.9, 12.35."""
    return f"{round(x, 2):g}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%"


def _rule_order(rule: str) -> tuple[int, str]:
    digits = rule[1:]
    return (int(digits) if digits.isdigit() else 99, rule)


def _card_deductions(block: str, b: _Basis, config: ScoringConfig, cap: float) -> list[Deduction]:
    """100 × Σ weight / n per rule and level, then a negative entry for what exceeds ``cap``."""
    out: list[Deduction] = []
    for rule in sorted(block_rules(block, config), key=_rule_order):
        for level in ("yellow", "red"):
            cards = b.cards.get((rule, level))
            if not cards:
                continue
            weight = config.red_weight if level == "red" else config.yellow_weight
            lost = config.card_scale * weight * len(cards) / b.n
            out.append(Deduction(
                block, lost, f"{rule} {_rule_name(rule)} {LEVEL_WORDS[level]} ×{len(cards)}", "cards", rule, level,
                len(cards), weight, f"{_num(config.card_scale)} × {len(cards)} × {_num(weight)} ÷ {b.n}",
                _case_ids(cards), tuple(sorted(c.card_id for c in cards)),
            ))  # fmt: skip
    raw = sum(d.points for d in out)
    if raw - cap > 1e-9:
        reason = f"亮牌扣分以 {_num(cap)} 分封顶"
        out.append(Deduction(block, cap - raw, reason, "cap", weight=cap, basis=f"{_num(raw)} − {_num(cap)}"))
    return out


def _rule_name(rule: str) -> str:
    spec = RULES.get(rule)
    return spec.name if spec is not None else ""


def _case_ids(cards: Iterable[Card]) -> tuple[str, ...]:
    return tuple(sorted({c.decision.case_id for c in cards if c.decision.case_id}))


def _ids(items: Iterable[Any], attr: str) -> tuple[str, ...]:
    return tuple(sorted({getattr(i, attr) for i in items if getattr(i, attr)}))


def _timeliness(b: _Basis, config: ScoringConfig) -> list[Deduction]:
    out: list[Deduction] = []
    if b.completed:
        late = b.completed - b.on_time
        if late:
            out.append(Deduction(
                "timeliness", config.on_time_points * late / b.completed,
                f"按时办结率 {_pct(b.on_time, b.completed)}（{b.on_time}/{b.completed} 件）", "on_time", count=late,
                basis=f"{_num(config.on_time_points)} × {late} ÷ {b.completed}",
            ))  # fmt: skip
        not_early = b.completed - b.early
        if not_early:
            out.append(Deduction(
                "timeliness", config.early_points * not_early / b.completed,
                f"提前办结率 {_pct(b.early, b.completed)}（{b.early}/{b.completed} 件）", "early", count=not_early,
                basis=f"{_num(config.early_points)} × {not_early} ÷ {b.completed}",
            ))  # fmt: skip
    return out + _card_deductions("timeliness", b, config, config.time_card_cap)


def _conformity(b: _Basis, config: ScoringConfig) -> list[Deduction]:
    return _card_deductions("conformity", b, config, config.conformity_card_cap)


def _fees(b: _Basis, config: ScoringConfig) -> list[Deduction]:
    return _card_deductions("fees", b, config, config.fee_card_cap)


def _complaints(b: _Basis, config: ScoringConfig) -> list[Deduction]:
    out: list[Deduction] = []
    judged = [c for c in b.complaints if c.handled_well is not None]
    late = [c for c in judged if not c.handled_well]
    if late:
        out.append(Deduction(
            "complaints", config.complaint_points * len(late) / len(judged),
            f"投诉未按时答复 {len(late)}/{len(judged)} 件", "complaints_late", count=len(late),
            basis=f"{_num(config.complaint_points)} × {len(late)} ÷ {len(judged)}",
            complaint_ids=_ids(late, "complaint_id"),
        ))  # fmt: skip
    if proven := [c for c in b.complaints if c.substantiated]:
        out.append(Deduction(
            "complaints", config.complaint_deduction * len(proven), f"投诉属实 ×{len(proven)}", "substantiated",
            count=len(proven), weight=config.complaint_deduction,
            basis=f"{_num(config.complaint_deduction)} × {len(proven)}", complaint_ids=_ids(proven, "complaint_id"),
        ))  # fmt: skip
    return out


def _satisfaction(b: _Basis, config: ScoringConfig) -> list[Deduction]:
    out: list[Deduction] = []
    total = sum(b.ratings.values())
    unhappy = sum(n for level, n in b.ratings.items() if level not in config.satisfied_levels)
    if unhappy:
        levels = "、".join(str(level) for level in sorted(b.ratings) if level not in config.satisfied_levels)
        out.append(Deduction(
            "satisfaction", config.satisfaction_points * unhappy / total,
            f"不满意评价（{levels} 级）{unhappy}/{total} 个", "ratings", count=unhappy,
            basis=f"{_num(config.satisfaction_points)} × {unhappy} ÷ {total}",
        ))  # fmt: skip
    for rule in sorted(config.rating_rules, key=_rule_order):
        for level in ("yellow", "red"):
            if cards := b.cards.get((rule, level)):
                out.append(Deduction(
                    "satisfaction", config.rating_card_deduction * len(cards),
                    f"{rule} {_rule_name(rule)} {LEVEL_WORDS[level]} ×{len(cards)}", "cards", rule, level, len(cards),
                    config.rating_card_deduction, f"{_num(config.rating_card_deduction)} × {len(cards)}",
                    _case_ids(cards), tuple(sorted(c.card_id for c in cards)),
                ))  # fmt: skip
    return out


_BLOCKS = {
    "timeliness": _timeliness,
    "conformity": _conformity,
    "fees": _fees,
    "complaints": _complaints,
    "satisfaction": _satisfaction,
}


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
                cases.append(CaseFact(case.case_id, case.dept_code, Outcome.OVERDUE, **who, completed=False))
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
        well = state.handled_on_time(calendar, config, period.end)
        complaints.append(ComplaintFact(state.complaint_id, state.target_dept, well,
                                        bool(state.substantiated), state.target_staff))  # fmt: skip
    return Facts(tuple(cases), cards, tuple(complaints), tuple(ratings))
