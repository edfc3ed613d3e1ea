"""What the simulator's violation rates mean for the hub: cards and scores per department-month.

:func:`month` plans the cases a department accepts in a month — the same arrivals, planner and
per-department :func:`~simulator.planner.discipline` as the simulator, without a database — and
tallies what the hub's rules (DOMAIN.md §4) will find in them: cards per rule, completed cases on
time and early, ratings per level. :meth:`DeptMonth.score` applies DOMAIN.md §5 to that tally.
The department's complaints and disclosure requests of the month come from the complaints system's
planner (:mod:`simulator.complaints`, the same rates as ``--schema complaints``): complaints
handled late and substantiated ones go into the complaints block as the hub scores it, their R2
cards are counted among the month's cards (not as time cards: the hub scores them in the
complaints block), a late disclosure answer is an R2 time card of the department.
It is the simulator's own expectation, not the hub's verdict: it knows what it injected, and
counts an R11 for every bad rating the department does not put right (``Flow.rating_rectified``
of them are, well within the 15 working days), and assumes no yellow card escalates (a late case is
done within a day or three, before its 督办 deadline). ``xiaoneng-sim rates`` prints it;
``tests/simulator/test_plausibility.py`` keeps the defaults within DOMAIN.md's bounds.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from hub.engine.cards import Card, CardDecision
from hub.engine.clock import Outcome
from hub.engine.config import Level, ScoringConfig
from hub.engine.scoring import CaseFact, ComplaintFact, Facts, RatingFact, Score, grade_of, score_entities
from simulator.catalogue import Catalogue, Department
from simulator.complaints import WORKDAYS_PER_MONTH, ComplaintPlanner, ComplaintRates, matter_mix
from simulator.engine import RATE_PER_WINDOW, SHANGHAI
from simulator.planner import Planned, Planner, Violations, discipline
from simulator.workdays import OFFICE_MINUTES_PER_DAY, add_office_minutes

#: The level of each card the simulator can lead to (the hub's defaults, DOMAIN.md §4).
LEVELS = {"R2": "yellow", "R3": "red", "R4": "red", "R5": "yellow", "R6": "yellow",
          "R8": "yellow", "R9": "yellow", "R11": "yellow"}
FAILING = ScoringConfig().failing_grade


@dataclass
class DeptMonth:
    """A department's month as the hub will see it."""

    code: str
    name: str
    factor: float
    cases: int = 0
    completed: int = 0
    on_time: int = 0
    early: int = 0
    cards: Counter[str] = field(default_factory=Counter)
    ratings: Counter[int] = field(default_factory=Counter)
    complaints: list[tuple[bool, bool]] = field(default_factory=list)  # (handled on time, 属实)
    complaint_cards: int = 0  # R2 on complaints: counted among the cards, scored as complaints
    disclosures: int = 0

    @property
    def standing(self) -> int:
        """Yellow and red cards (complaints' cards included)."""
        return sum(self.cards.values()) + self.complaint_cards

    @property
    def red(self) -> int:
        return sum(n for rule, n in self.cards.items() if LEVELS[rule] == "red")

    @property
    def per_100(self) -> float:
        """Yellow + red cards per 100 cases accepted."""
        return 100 * self.standing / self.cases if self.cases else 0.0

    @property
    def on_time_rate(self) -> float:
        return self.on_time / self.completed if self.completed else 1.0

    def scored(self) -> Score:
        """DOMAIN.md §5 as the hub scores it (:mod:`hub.engine.scoring`), on this tally: the cases
        by outcome, the cards by rule, the complaints, the ratings by level."""
        outcomes = ([Outcome.EARLY] * self.early + [Outcome.ON_TIME] * (self.on_time - self.early)
                    + [Outcome.OVERDUE] * (self.completed - self.on_time))
        cases = tuple(CaseFact(f"{self.code}-{i}", self.code, o) for i, o in enumerate(outcomes))
        moment = datetime(2026, 1, 1, tzinfo=SHANGHAI)
        cards = tuple(
            Card.raise_(CardDecision(key=f"{rule}|{self.code}|{i}", rule=rule, level=Level(LEVELS[rule]),
                                     rule_type="", subject=f"case:{self.code}-{rule}-{i}", moment=moment,
                                     message="", dept_code=self.code), moment)
            for rule, n in self.cards.items() for i in range(n))
        ratings = tuple(RatingFact(f"{self.code}-r{level}-{i}", level, self.code)
                        for level, n in self.ratings.items() for i in range(n))
        complaints = tuple(ComplaintFact(f"{self.code}-t{i}", self.code, well, proven)
                           for i, (well, proven) in enumerate(self.complaints))
        facts = Facts(cases=cases, cards=cards, complaints=complaints, ratings=ratings)
        (score,) = score_entities(facts, "department", ScoringConfig()) or (None,)
        if score is None:  # nothing at all in the month: full marks
            return Score("department", self.code, 100.0, 100.0, 100.0, grade_of(100.0, ScoringConfig()), {})
        return score

    def blocks(self) -> dict[str, float]:
        """The five blocks of DOMAIN.md §5."""
        return dict(self.scored().blocks)

    def score(self) -> float:
        return self.scored().score

    def grade(self) -> str:
        return self.scored().grade

    def unfair(self) -> bool:
        """On time ≥ 95 %, no red card, and still 不合格 (DOMAIN.md §4 forbids it)."""
        return self.on_time_rate >= 0.95 and self.red == 0 and self.grade() == FAILING

    def unfair_by_cards(self) -> bool:
        """:meth:`unfair` even with the complaints block at full marks: the cards alone fail a
        punctual department (the complaints block costs a small department a lot at once)."""
        if not self.unfair():
            return False
        config = ScoringConfig()
        lost = config.complaint_points - self.blocks()["complaints"]
        return grade_of(self.score() + lost, config) == FAILING


def tally(plan: list[Planned], dm: DeptMonth) -> None:
    """Add one case's plan to ``dm``: the cards the hub's rules will raise on it, and more."""
    dm.cases += 1
    repeated = False
    for p in plan:
        d = p.data
        if p.late:
            dm.cards["R8"] += 1
        if p.kind == "refuse" and not d.get("reason"):
            dm.cards["R5"] += 1
        elif p.kind == "supp_request" and d["supplement_no"] > 1:
            repeated = True
        elif p.kind == "special_start" and d["kind"] == 2 and not d["reason"]:
            dm.cards["R9"] += 1
        elif p.kind == "complete":
            dm.completed += 1
            dm.on_time += not d["overdue"]
            dm.early += bool(d.get("early"))
            if d["result_code"] in (1, 2, 3, 5, 7) and not d["reason"]:
                dm.cards["R5"] += 1
            if d["overdue"]:
                dm.cards["R2"] += 1
            if d.get("statutory_overdue"):
                dm.cards["R3"] += 1
            if d["fee_over"]:
                dm.cards["R4"] += 1
        elif p.kind == "rate":
            dm.ratings[d["level"]] += 1
            if d["level"] >= 4 and not d.get("rectified"):  # put right in time: no R11
                dm.cards["R11"] += 1
    if repeated:
        dm.cards["R6"] += 1


def tally_matter(plan: list[Planned], dm: DeptMonth) -> None:
    """Add one complaint's or disclosure request's plan (:mod:`simulator.complaints`) to ``dm``."""
    kinds = {p.kind: p.data for p in plan}
    if "d_receive" in kinds:
        dm.disclosures += 1
        if kinds["d_answer"].get("late"):
            dm.cards["R2"] += 1  # a late disclosure answer: a time card of the department
        return
    late = sum(bool(kinds.get(k, {}).get("late")) for k in ("c_accept", "c_answer"))
    dm.complaint_cards += late
    dm.complaints.append((late == 0, bool(kinds.get("c_close", {}).get("substantiated"))))


def department_month(dept: Department, planner: Planner, start: date, days: int,
                     seed: int, matters: ComplaintPlanner | None = None,
                     matter_rates: dict[tuple[str, str], float] | None = None) -> DeptMonth:
    """The cases ``dept`` accepts in ``days`` days from ``start`` (arrivals as the simulator's:
    a Poisson stream over office minutes, :data:`RATE_PER_WINDOW` per window)."""
    rng = random.Random(f"xiaoneng-sim/plausibility/{seed}/{dept.code}")
    dm = DeptMonth(dept.code, dept.name, discipline(dept.code) if planner.spread else 1.0)
    rate = RATE_PER_WINDOW * len(dept.windows)
    moment = datetime.combine(start, time(0, 0), SHANGHAI)
    end = moment + timedelta(days=days)
    weights = [1 / (i + 1) ** 0.6 for i in range(len(dept.items))]
    if matters is not None:
        for kind in ("complaint", "disclosure"):
            per_minute = (matter_rates or {}).get((kind, dept.code), 0.0) / (
                WORKDAYS_PER_MONTH * OFFICE_MINUTES_PER_DAY)
            if per_minute <= 0:
                continue
            mrng = random.Random(f"xiaoneng-sim/plausibility/{seed}/{dept.code}/{kind}")
            t = datetime.combine(start, time(0, 0), SHANGHAI)
            while (t := add_office_minutes(t, mrng.expovariate(per_minute))) < end:
                tally_matter(matters.plan(kind, f"{dept.code}-{kind}", t, dept,
                                          random.Random(mrng.getrandbits(64))), dm)
    seq = 0
    while True:
        moment = add_office_minutes(moment, rng.expovariate(rate))
        if moment >= end:
            return dm
        seq += 1
        item = rng.choices(dept.items, weights)[0]
        window = dept.window_for(item, rng)
        case_rng = random.Random(rng.getrandbits(64))
        tally(planner.plan(f"{dept.code}-{seq}", moment, dept, item, window, case_rng), dm)


def month(catalogue: Catalogue, violations: Violations | None = None, *, spread: bool = True,
          start: date = date(2026, 11, 1), days: int = 30, seed: int = 1,
          complaints: ComplaintRates | None = None) -> list[DeptMonth]:
    """Every department of ``catalogue`` over ``days`` days (default: November 2026), with its
    complaints and disclosure requests at ``complaints`` (the defaults; ``ComplaintRates.parse(
    "complaints_per_dept_month=0,disclosures_per_dept_month=0")`` for none)."""
    planner = Planner(violations or Violations(), spread=spread)
    rates = complaints or ComplaintRates()
    matter_rates: dict[tuple[str, str], float] = {}
    matters: ComplaintPlanner | None = None
    if rates.complaints_per_dept_month > 0 or rates.disclosures_per_dept_month > 0:
        mix = matter_mix(catalogue, rates)
        for kind, dept, n in zip(mix.kinds, mix.departments, mix.weights, strict=True):
            matter_rates[(kind, dept.code)] = n
        matters = ComplaintPlanner(rates)
    return [department_month(d, planner, start, days, seed, matters, matter_rates)
            for d in catalogue.departments]


@dataclass(frozen=True)
class CityMonth:
    """City-wide figures of a month: cards per 100 cases, grades, departments graded unfairly."""

    cases: int
    cards: int
    cards_per_100_cases: float
    by_rule: dict[str, int]
    grades: dict[str, int]
    departments_unfair: int
    departments_unfair_by_cards: int = 0
    complaints: int = 0
    complaints_substantiated: int = 0
    complaints_late: int = 0
    disclosures: int = 0


def summary(months: list[DeptMonth]) -> CityMonth:
    """The city-wide figures of ``months`` (one per department)."""
    cases = sum(m.cases for m in months)
    cards = sum(m.standing for m in months)
    return CityMonth(
        cases=cases,
        cards=cards,
        cards_per_100_cases=round(100 * cards / cases, 2) if cases else 0.0,
        by_rule=dict(sorted(sum((m.cards for m in months), Counter()).items())),
        grades=dict(Counter(m.grade() for m in months)),
        departments_unfair=sum(m.unfair() for m in months),
        departments_unfair_by_cards=sum(m.unfair_by_cards() for m in months),
        complaints=sum(len(m.complaints) for m in months),
        complaints_substantiated=sum(p for m in months for _w, p in m.complaints),
        complaints_late=sum(not w for m in months for w, _p in m.complaints),
        disclosures=sum(m.disclosures for m in months),
    )
