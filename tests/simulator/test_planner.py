"""Case plans: a realistic, lawful flow by default; each violation when asked for."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.catalogue import build_catalogue
from simulator.planner import Flow, Planned, Planner, Violations
from simulator.workdays import counted_date, dates_between, workday_on_or_before

TZ = ZoneInfo("Asia/Shanghai")
CAT = build_catalogue()
ITEMS = [(d, i) for d in CAT.departments for i in d.items]


def _plan(seed: int, violations: Violations, flow: Flow | None = None,
          promised: bool | None = None) -> list[Planned]:
    rng = random.Random(seed)
    choices = [(d, i) for d, i in ITEMS if promised is None or (i.case_kind == 2) == promised]
    dept, item = rng.choice(choices)
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=TZ).replace(minute=rng.randint(0, 59))
    return Planner(violations, flow).plan("C1", t0, dept, item, dept.windows[0], rng)


def _due_date(plan: list[Planned]) -> date:
    accept = plan[0]
    paused: set[date] = set()
    for p in plan:
        if p.kind == "supp_request":
            got = [q for q in plan if q.kind == "supp_receive"
                   and q.data["supplement_no"] == p.data["supplement_no"]]
            if got:
                paused |= dates_between(p.at.date(), got[0].at.date())
        if p.kind == "special_start" and p.data["kind"] == 2:
            end = next(q for q in plan if q.kind == "special_end")
            paused |= dates_between(p.at.date(), end.at.date())
    extension = sum(p.data["extension_days"] or 0 for p in plan if p.kind == "special_start")
    promised = accept.data["promised"]
    return counted_date(accept.at.date(), promised["value"] + extension, promised["unit"], paused)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**9))
def test_lawful_plans_are_ordered_complete_and_on_time(seed: int) -> None:
    plan = _plan(seed, Violations.none(), Flow(supplement=0.3, special=0.3))
    assert plan[0].kind in ("accept", "refuse")
    assert all(p.at <= p.due for p in plan)
    assert [p.due for p in plan] == sorted(p.due for p in plan)
    assert not any(p.late for p in plan)
    kinds = [p.kind for p in plan]
    if kinds[0] == "refuse":
        assert kinds == ["refuse"] and plan[0].data["reason"]
        return
    complete = next(p for p in plan if p.kind == "complete")
    assert all(p.at <= complete.at for p in plan if p.kind.startswith(("step", "supp", "special")))
    if complete.data["result_code"] in (1, 2, 3, 5, 7):
        assert complete.data["reason"]
    assert not complete.data["fee_over"]
    assert not complete.data["overdue"] and not complete.data["statutory_overdue"]
    assert all(p.data["level"] <= 3 for p in plan if p.kind == "rate")
    assert kinds.count("supp_request") <= 1
    for p in plan:
        if p.kind == "special_start":
            assert p.data["reason"]
    if plan[0].data["case_kind"] == 2 and complete.data["result_code"] != 5:
        assert complete.at.date() <= _due_date(plan)
    else:
        assert complete.at.date() == plan[0].at.date() or complete.data["result_code"] == 5


@pytest.mark.parametrize("name", ["overdue", "fee_over", "repeated_supplement", "late_report",
                                  "refusal_no_reason", "return_no_reason",
                                  "suspension_no_reason", "bad_rating"])
def test_each_violation_can_be_injected(name: str) -> None:
    forced = Violations.parse(f"none,{name}=1")
    flow = Flow(refusal=1.0 if name == "refusal_no_reason" else 0.0, rating=1.0,
                supplement=1.0 if name == "repeated_supplement" else 0.0,
                supplement_abandoned=0.0, special=1.0 if name == "suspension_no_reason" else 0.0)
    seen = 0
    for seed in range(300 if name == "return_no_reason" else 40):
        plan = _plan(seed, forced, flow, promised=True)
        complete = next((p for p in plan if p.kind == "complete"), None)
        if name == "overdue":
            seen += complete is not None and complete.at.date() > _due_date(plan)
        elif name == "fee_over":
            seen += complete is not None and complete.data["fee_over"]
        elif name == "repeated_supplement":
            seen += sum(p.kind == "supp_request" for p in plan) == 2
        elif name == "late_report":
            seen += any(p.late and (p.due - p.at).total_seconds() > 24 * 3600 for p in plan)
        elif name == "refusal_no_reason":
            seen += plan[0].kind == "refuse" and plan[0].data["reason"] == ""
        elif name == "return_no_reason":
            seen += (complete is not None and complete.data["result_code"] in (1, 2, 3, 5, 7)
                     and complete.data["reason"] == "")
        elif name == "bad_rating":
            seen += any(p.kind == "rate" and p.data["level"] >= 4 for p in plan)
        else:
            seen += any(p.kind == "special_start" and p.data["kind"] == 2
                        and p.data["reason"] == "" for p in plan)
    assert seen >= 10, seen


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**9))
def test_a_late_report_is_one_late_completion_recorded_before_the_case_looks_overdue(
        seed: int) -> None:
    """R8 by design, nothing else by accident: only the 办结 is late (a late acceptance would
    make every later fact late too), it is recorded before the hub's clock could act on the case
    (R1 the day before the due date, R2 after it: cards it would withdraw again), and a rating
    comes after it; a late case finishes 1–3 counted days late, before its 督办 deadline."""
    plan = _plan(seed, Violations.parse("none,late_report=1,overdue=0.5"), promised=True)
    late = [p for p in plan if p.late]
    assert [p.due for p in plan] == sorted(p.due for p in plan)
    assert all(p.at <= p.due for p in plan)
    complete = next((p for p in plan if p.kind == "complete"), None)
    if complete is None or complete.data["result_code"] == 5:
        return
    due = _due_date(plan)
    if complete.data["overdue"]:
        assert not late
        assert 1 <= len(dates_between(due, complete.at.date())) - 1 <= 7  # ≤ 3 working days
        return
    # before the day the R1 reminder falls on (remaining ≤ 1 day)
    report_by = datetime.combine(workday_on_or_before(due - timedelta(days=1)), time(0, 0), TZ)
    assert late == [complete] or (not late and complete.at > report_by - timedelta(hours=25))
    if late:
        assert (complete.due - complete.at).total_seconds() > 24 * 3600
        assert complete.due < report_by
        assert all(p.at >= complete.due for p in plan if p.kind == "rate")


def test_violation_rates_parse_strictly() -> None:
    v = Violations.parse("overdue=0.5, late-report=0")
    assert v.overdue == 0.5 and v.late_report == 0.0 and v.fee_over == Violations().fee_over
    for bad in ("nonsense=1", "overdue=2", "overdue=x"):
        with pytest.raises(ValueError):
            Violations.parse(bad)
    assert Violations.parse(Violations().to_text()) == Violations()


def test_departments_differ_in_discipline_but_the_city_keeps_its_rates() -> None:
    """With ``spread`` each department's violation rates are scaled by a stable factor: model
    departments and problem ones, so the monthly ranking spreads over the grades; weighted by
    volume (windows) the factors average about 1, so the configured rates are the city's."""
    from simulator.planner import DISCIPLINE, discipline

    cat = build_catalogue(1, 20)
    codes = [d.code for d in cat.departments]
    assert set(DISCIPLINE) == set(codes)  # every department of the city has its tier
    factors = [discipline(c) for c in codes]
    assert min(factors) <= 0.25 and max(factors) >= 2.5
    weights = [len(d.windows) for d in cat.departments]
    mean = sum(f * w for f, w in zip(factors, weights, strict=True)) / sum(weights)
    assert abs(mean - 1.0) < 0.1, mean
    assert discipline("NOSUCH") == 1.0
    base = Violations()
    planner = Planner(base, spread=True)
    for code, factor in zip(codes, factors, strict=True):
        assert planner.rates(code).overdue == pytest.approx(base.overdue * factor)
    assert Planner(base).rates(codes[0]) == base
    assert Violations(overdue=0.6).scaled(2.5).overdue == 1.0
