"""Planning one case's whole life at the moment it is accepted — pure, given a random generator.

A plan is a list of :class:`Planned` facts (受理 or 不予受理, 环节 start/end, 补正告知/补交受理,
特别程序 start/end, 办结, 评价), each with the moment it *happened* and the moment it is
*recorded* in the department's system (the same, except for injected late reporting). The
timeline respects the clock of DOMAIN.md §3: pauses (补正, kind-2 special procedures) come first
and are contiguous from the acceptance date, so counted days all fall after them; an extension
adds days; normal cases finish on or before their due date, injected overdue ones after it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from simulator.catalogue import Department, Item, Staff, Window, company_name, person_name
from simulator.catalogue_data import (
    DENY_REASONS,
    RATING_CHANNELS,
    RATING_COMMENTS,
    REFUSE_REASONS,
    RETURN_REASONS,
    SPECIAL_KINDS,
    SPECIAL_REASONS,
    SUPPLEMENT_MATERIALS,
)
from simulator.workdays import (
    SESSIONS,
    add_office_minutes,
    counted_date,
    dates_between,
    next_workday,
    office_minutes_between,
    workday_on_or_after,
    workday_on_or_before,
)

RESULT_NAMES = {0: "出证办结", 1: "退回办结", 2: "作废办结", 3: "删除办结", 5: "补正不来办结",
                6: "准予许可", 7: "不予许可"}


def _rate(default: float, card: str, doc: str) -> Any:
    """A violation rate field: its default, the card it leads to and what it is a share of."""
    return field(default=default, metadata={"card": card, "doc": doc})


@dataclass(frozen=True)
class Violations:
    """Rates of injected rule violations (DOMAIN.md §4), each a probability per eligible case.

    The defaults are modest — a city's departments keep their promises almost always, and the
    hub's cards must stay the exception (DOMAIN.md §4 "Plausibility": yellow + red ≤ 2 per 100
    cases). With ``spread`` each department gets these rates times its :func:`discipline`
    factor (0.1 … 2.5). docs/simulator.md explains every rate and the cards it leads to;
    ``tests/simulator/test_plausibility.py`` keeps the defaults within the bounds.
    """

    overdue: float = _rate(0.006, "R2 超期 yellow (R3 red past the statutory limit)",
                           "of completed cases: finished 1–3 days after the promised due date")
    refusal_no_reason: float = _rate(0.03, "R5 yellow", "of refusals (3 % of cases): no reason given")
    return_no_reason: float = _rate(0.02, "R5 yellow",
                                    "of completions with result 1, 2, 3, 5 or 7 (≈ 8 %): no reason")
    fee_over: float = _rate(0.001, "R4 red",
                            "of successful completions: fee above the standard (or on a free item)")
    repeated_supplement: float = _rate(0.015, "R6 yellow",
                                       "of cases with 补正 (12 % of 承诺件): a second request")
    late_report: float = _rate(0.0015, "R8 yellow",
                               "of cases done ≥ 2 days before the due date: 办结 recorded 25–96 h late")
    suspension_no_reason: float = _rate(0.03, "R9 yellow",
                                        "of suspensions (≈ 4 % of 承诺件): no reason given")
    bad_rating: float = _rate(0.002, "R11 yellow unless rectified",
                              "of ratings of cases done on time: level 4–5 (late cases: 25×, ≤ ½)")

    @classmethod
    def none(cls) -> Violations:
        """No violations at all."""
        return cls(**{f.name: 0.0 for f in fields(cls)})

    @classmethod
    def parse(cls, text: str, base: Violations | None = None) -> Violations:
        """``"overdue=0.1,late_report=0"`` on top of ``base`` (default rates); ``none`` = all 0."""
        values = {f.name: getattr(base or cls(), f.name) for f in fields(cls)}
        for part in filter(None, (p.strip() for p in text.split(","))):
            if part == "none":
                values = {k: 0.0 for k in values}
                continue
            name, _, raw = part.partition("=")
            name = name.strip().replace("-", "_")
            if name not in values:
                raise ValueError(f"unknown violation {name!r}; known: {', '.join(values)}")
            try:
                rate = float(raw)
            except ValueError:
                raise ValueError(f"violation rate {raw!r} for {name} is not a number") from None
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"violation rate for {name} must be within 0..1, got {rate}")
            values[name] = rate
        return cls(**values)

    def scaled(self, factor: float) -> Violations:
        """Every rate times ``factor`` (at most 1)."""
        return Violations(**{f.name: min(1.0, getattr(self, f.name) * factor) for f in fields(self)})

    def to_text(self) -> str:
        return ",".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))

    @classmethod
    def describe(cls) -> list[tuple[str, float, str, str]]:
        """(name, default rate, card, what it is a share of) of every rate, for help texts."""
        base = cls()
        return [(f.name, getattr(base, f.name), f.metadata["card"], f.metadata["doc"])
                for f in fields(cls)]


@dataclass(frozen=True)
class Flow:
    """Rates of the ordinary (lawful) case flow."""

    refusal: float = 0.03
    supplement: float = 0.12
    supplement_abandoned: float = 0.08   # of cases with 补正: never received → result 5
    special: float = 0.06
    step_return: float = 0.05
    rating: float = 0.6
    rating_rectified: float = 0.8  # of bad ratings: put right (差评整改) within 1–10 working days


@dataclass
class Planned:
    """One fact of a plan: ``kind``, when it happened (``at``), when it is recorded (``due``).

    ``report_by`` (planning only, never stored): the latest moment a late report of this fact
    may be recorded without the hub meanwhile seeing the case open near or past its due date."""

    kind: str
    at: datetime
    data: dict[str, Any]
    due: datetime = field(default=datetime.min)
    late: bool = False
    report_by: datetime | None = None


#: What a department did about a bad rating (差评整改), as its staff record it.
RECTIFY_MEASURES = (
    "已电话回访申请人，说明办理情况并致歉，申请人表示理解",
    "已复核办理流程，对经办人员进行提醒谈话，优化窗口引导",
    "已约见申请人当面沟通，补充说明所需材料，问题已解决",
    "已将申请人反映的问题纳入窗口服务改进清单并落实",
)


def office_time(day: date, rng: random.Random, tz: Any, after: datetime | None = None) -> datetime:
    """A random moment in the office hours of ``day`` (later than ``after`` when given)."""
    start, end = SESSIONS[0][0], SESSIONS[-1][1]
    first = datetime.combine(day, start, tz)
    if after is not None and after >= first:
        first = after + timedelta(minutes=1)
    last = datetime.combine(day, end, tz)
    if first >= last:
        return first + timedelta(minutes=rng.randint(1, 20))
    minutes = office_minutes_between(first, last)
    return add_office_minutes(first, rng.uniform(0, minutes)) if minutes else first


#: How rule-abiding each department is: its violation rates are the configured rates times its
#: factor. A city has model departments and problem ones, so the monthly ranking spreads over the
#: grades instead of every department scoring alike; weighted by volume (windows) the factors
#: average ≈ 1, so the configured rates stay the city's average. Unknown departments: 1.
DISCIPLINE_TIERS = {
    0.1: ("SHUIWU", "ZFCX", "STHJ", "CGJ"),                   # 示范 model departments
    0.4: ("SCJG", "GA", "WSJK", "JY", "SL"),                  # 良好 good
    1.0: ("ZRZY", "RLSB", "JTYS", "NYNC", "YB", "SHANGWU"),  # 一般 average
    2.5: ("MZ", "WGLY", "XZSP"),                              # 较差 sloppy
    6.0: ("YJGL", "LY"),                                      # 问题 problem departments
}
DISCIPLINE = {code: factor for factor, codes in DISCIPLINE_TIERS.items() for code in codes}


def discipline(dept_code: str) -> float:
    """The violation-rate factor of a department (:data:`DISCIPLINE`; 1 for an unknown code)."""
    return DISCIPLINE.get(dept_code, 1.0)


class Planner:
    """Draws case plans from the catalogue; holds no state between cases.

    With ``spread`` each department's violation rates are scaled by :func:`discipline`."""

    def __init__(self, violations: Violations, flow: Flow | None = None, spread: bool = False):
        self.base = violations
        self.v = violations
        self.flow = flow or Flow()
        self.spread = spread
        self._by_dept: dict[str, Violations] = {}

    def rates(self, dept_code: str) -> Violations:
        """The violation rates that apply to ``dept_code``."""
        if not self.spread:
            return self.base
        rates = self._by_dept.get(dept_code)
        if rates is None:
            rates = self._by_dept[dept_code] = self.base.scaled(discipline(dept_code))
        return rates

    def plan(self, case_no: str, t0: datetime, dept: Department, item: Item, window: Window,
             rng: random.Random) -> list[Planned]:
        """The whole life of a case accepted at ``t0``; sorted by recording time."""
        self.v = self.rates(dept.code)
        clerk = rng.choice(window.staff)
        applicant_type = "2" if rng.random() < 0.55 else "1"
        applicant = (company_name(rng, dept.industries) if applicant_type == "2"
                     else person_name(rng))
        head = {
            "dept_code": dept.code, "dept_name": dept.name, "item_code": item.code,
            "item_name": item.name, "case_kind": item.case_kind,
            "statutory": item.statutory.to_dict(), "promised": item.promised.to_dict(),
            "fee_fen": item.fee_fen, "window_id": window.window_id, "window_name": window.name,
            "staff_id": clerk.staff_id,
            "staff_name": clerk.name, "applicant_name": applicant,
            "applicant_type": applicant_type,
        }
        if rng.random() < self.flow.refusal:
            reason = "" if rng.random() < self.v.refusal_no_reason else rng.choice(REFUSE_REASONS)
            planned = [Planned("refuse", t0, {**head, "reason": reason})]
        elif item.case_kind == 1:
            planned = self._immediate(t0, dept, item, clerk, head, rng)
        else:
            planned = self._promised(t0, dept, item, head, rng)
        return self._record_times(planned, rng)

    # -- immediate cases (即办件) -----------------------------------------------------------
    def _immediate(self, t0: datetime, dept: Department, item: Item, clerk: Staff,
                   head: dict[str, Any], rng: random.Random) -> list[Planned]:
        start = t0 + timedelta(minutes=rng.randint(1, 5))
        if rng.random() < self.v.overdue:
            end = office_time(next_workday(t0.date()), rng, t0.tzinfo)
        else:
            end = start + timedelta(minutes=rng.randint(8, 60))
        step = {"step_no": 1, "step_code": "JB", "step_name": "受理即办",
                "handler_id": clerk.staff_id, "handler_name": clerk.name, "started_at": start}
        out = [Planned("accept", t0, head),
               Planned("step_start", start, step),
               Planned("step_end", end, {**step, "action": "通过", "opinion": "材料齐全，当场办结"})]
        statutory = counted_date(t0.date(), item.statutory.value, item.statutory.unit)
        return out + self._finish(end + timedelta(minutes=1), dept, item, rng, [],
                                  overdue=end.date() > t0.date(), due=(t0.date(), statutory))

    # -- promised cases (承诺件) ------------------------------------------------------------
    def _promised(self, t0: datetime, dept: Department, item: Item, head: dict[str, Any],
                  rng: random.Random) -> list[Planned]:
        tz = t0.tzinfo
        out = [Planned("accept", t0, head)]
        paused: set[date] = set()
        last = t0
        abandoned: datetime | None = None
        if rng.random() < self.flow.supplement:
            rounds = 2 if rng.random() < self.v.repeated_supplement else 1
            for n in range(1, rounds + 1):
                notice = last + timedelta(minutes=rng.randint(10, 120))
                materials = "、".join(rng.sample(SUPPLEMENT_MATERIALS, rng.randint(1, 3)))
                out.append(Planned("supp_request", notice, {
                    "supplement_no": n, "reason": "申请材料不齐全，一次性告知需补正的全部内容",
                    "materials": materials}))
                if n == rounds and rng.random() < self.flow.supplement_abandoned:
                    abandoned = office_time(counted_date(notice.date(), 10, "G"), rng, tz)
                    break
                back = counted_date(notice.date(), rng.randint(1, 5), "G")
                received = office_time(back, rng, tz, after=notice)
                out.append(Planned("supp_receive", received, {"supplement_no": n}))
                paused |= dates_between(notice.date(), received.date())
                last = received
        if abandoned is not None:
            return out + self._finish(abandoned, dept, item, rng, [], overdue=False, code=5)
        extension = 0
        sp_code = ""
        if rng.random() < self.flow.special:
            sp_code, sp_name, kind, _ = rng.choices(SPECIAL_KINDS, [k[3] for k in SPECIAL_KINDS])[0]
            if kind == 2:
                start = last + timedelta(minutes=rng.randint(30, 180))
                limit = rng.choice((5, 10, 15))
                end = office_time(counted_date(start.date(), rng.randint(2, limit), "G"), rng, tz,
                                  after=start)
                reason = ("" if rng.random() < self.v.suspension_no_reason
                          else SPECIAL_REASONS[sp_code])
                fee = 0 if sp_code != "3" else rng.choice((0, 30000, 80000))
                out.append(Planned("special_start", start, {
                    "special_no": 1, "code": sp_code, "name": sp_name, "kind": 2,
                    "reason": reason, "limit": limit, "unit": "G", "extension_days": None}))
                out.append(Planned("special_end", end, {
                    "special_no": 1, "code": sp_code, "result": f"{sp_name}完成", "fee_fen": fee}))
                paused |= dates_between(start.date(), end.date())
                last = end
            else:
                extension = 10
        promised = item.promised
        n_eff = promised.value + extension
        overdue = rng.random() < self.v.overdue
        if overdue:
            # late by a day or two, rarely three: put right before the 督办 deadline (3 working
            # days from the day the hub raises R2), so a late case is a yellow card, not a red one
            k = n_eff + rng.choices((1, 2, 3), (6, 3, 1))[0]
        elif extension:
            k = rng.randint(promised.value + 1, n_eff)
        elif rng.random() < 0.12:
            k = n_eff
        else:
            k = rng.randint(max(1, math.ceil(n_eff * 0.2)), max(1, n_eff - 1))
        due = counted_date(t0.date(), n_eff, promised.unit, paused)
        statutory = counted_date(t0.date(), item.statutory.value + extension, item.statutory.unit,
                                 paused)
        finish_day = counted_date(t0.date(), k, promised.unit, paused)
        if overdue:
            finish_day = workday_on_or_after(finish_day)
        else:
            finish_day = max(last.date(), workday_on_or_before(min(finish_day, due)))
        finish = office_time(finish_day, rng, tz, after=last if finish_day == last.date() else None)
        if extension:
            ask_day = counted_date(t0.date(), max(1, promised.value - 1), promised.unit, paused)
            ask = office_time(workday_on_or_before(ask_day), rng, tz,
                              after=last if ask_day <= last.date() else None)
            ask = min(ask, finish - timedelta(minutes=30))
            out.append(Planned("special_start", ask, {
                "special_no": 1, "code": sp_code, "name": "延长审批", "kind": 1,
                "reason": SPECIAL_REASONS["1"], "limit": extension, "unit": "G",
                "extension_days": extension}))
        return out + self._finish(finish, dept, item, rng, [], overdue=overdue,
                                  steps_from=(t0, last), due=(due, statutory))

    # -- steps, completion, rating -----------------------------------------------------------
    def _steps(self, t0: datetime, anchor: datetime, finish: datetime, dept: Department,
               item: Item, rng: random.Random, final_opinion: str) -> list[Planned]:
        steps: list[tuple[str, ...]] = list(item.steps)
        if len(steps) >= 3 and rng.random() < self.flow.step_return:
            steps = [steps[0], steps[1] + ("退回",), *steps]
        officers = {s.role: [o for o in dept.officers if o.role == s.role] for s in dept.officers}
        role_of = {"CB": "承办", "SH": "审核", "FG": "审批", "PZ": "审批", "QF": "签发"}
        span = max(1.0, office_minutes_between(anchor, finish) - 5)
        cuts = sorted(rng.uniform(0, span) for _ in range(len(steps) - 1))
        ends = [add_office_minutes(anchor, c) for c in cuts]
        ends.append(finish - timedelta(minutes=rng.randint(1, 4)))
        out: list[Planned] = []
        start = t0 + timedelta(minutes=rng.randint(2, 10))
        for no, (step, end) in enumerate(zip(steps, ends, strict=True), start=1):
            code, name = step[0], step[1]
            returned = len(step) > 2
            end = max(end, start + timedelta(minutes=2))
            officer = rng.choice(officers.get(role_of.get(code, "承办"), list(dept.officers)))
            info = {"step_no": no, "step_code": code, "step_name": name,
                    "handler_id": officer.staff_id, "handler_name": officer.name,
                    "started_at": start}
            if returned:
                action, opinion = "退回", "材料审查意见不完整，退回承办人重新审查"
            elif no == len(steps):
                action, opinion = "通过", final_opinion
            else:
                action, opinion = "通过", rng.choice(("同意，报审核", "材料齐全，符合法定条件", "拟同意"))
            out.append(Planned("step_start", start, info))
            out.append(Planned("step_end", end, {**info, "action": action, "opinion": opinion}))
            start = end + timedelta(minutes=rng.randint(1, 15))
        return out

    def _finish(self, finish: datetime, dept: Department, item: Item, rng: random.Random,
                out: list[Planned], *, overdue: bool, code: int | None = None,
                steps_from: tuple[datetime, datetime] | None = None,
                due: tuple[date, date] | None = None) -> list[Planned]:
        """Steps (with ``steps_from``), 办结 and maybe a rating; ``due`` = (promised, statutory)
        due dates, which the 办结's ``early`` / ``overdue`` / ``statutory_overdue`` flags record
        (what the hub's clock will find; None for a case ended while waiting for 补正)."""
        if code is None:
            r = rng.random()
            code = (7 if r < 0.03 else 1 if r < 0.05 else 2 if r < 0.06 else 3 if r < 0.065
                    else 6 if "许可" in item.name else 0)
        reason = ""
        if code in (1, 2, 3, 5, 7) and rng.random() >= self.v.return_no_reason:
            reason = {7: rng.choice(DENY_REASONS), 5: "申请人逾期未补正申请材料"}.get(
                code, rng.choice(RETURN_REASONS))
        success = code in (0, 6)
        fee = item.fee_fen if success else 0
        if success and rng.random() < self.v.fee_over:
            fee = item.fee_fen * 2 if item.fee_fen else rng.choice((5000, 10000, 20000))
        opinion = "同意，准予办理" if success else f"拟{RESULT_NAMES[code]}"
        if steps_from is not None:
            steps = self._steps(steps_from[0], steps_from[1], finish, dept, item, rng, opinion)
            finish = max(finish, steps[-1].at + timedelta(minutes=1))
            out = out + steps
        licence = f"{dept.code}{finish.year}{rng.randrange(10**6):06d}" if success else ""
        if due is not None:
            overdue = overdue or finish.date() > due[0]
        early = due is not None and finish.date() < due[0]
        statutory_overdue = due is not None and finish.date() > due[1]
        # a late 办结 must arrive before the hub's clock could act on the case: before the day
        # the R1 reminder (remaining ≤ 1 day) falls on, let alone the due date (R2)
        report_by = (datetime.combine(workday_on_or_before(due[0] - timedelta(days=1)), time(0, 0),
                                      finish.tzinfo)
                     if due is not None and not overdue else None)
        out.append(Planned("complete", finish, report_by=report_by, data={
            "result_code": code, "result_text": RESULT_NAMES[code], "reason": reason,
            "fee_fen": fee, "licence_no": licence, "fee_over": fee > item.fee_fen,
            "overdue": overdue, "early": early, "statutory_overdue": statutory_overdue,
            "finisher": rng.choice(dept.officers).name}))
        if success and rng.random() < self.flow.rating:
            bad = min(0.5, 25 * self.v.bad_rating) if overdue else self.v.bad_rating
            if rng.random() < bad:
                level = 4 if rng.random() < 0.7 else 5
            else:
                level = rng.choices((1, 2, 3), (45, 35, 20) if overdue else (75, 18, 7))[0]
            rated = finish + timedelta(minutes=rng.randint(5, 48 * 60))
            rectify = self._rectification(rated, level, dept)
            out.append(Planned("rate", rated, {
                "level": level, "channel": rng.choice(RATING_CHANNELS),
                "comment": rng.choice(RATING_COMMENTS[level]), "rectified": rectify is not None}))
            if rectify is not None:
                out.append(rectify)
        return out

    def _rectification(self, rated: datetime, level: int, dept: Department) -> Planned | None:
        """The department's 差评整改 of a bad rating (``Flow.rating_rectified`` of them), within
        1–10 working days: before R11's 15. Drawn from its own generator seeded by the rating, so
        the rest of the plan is the same with or without it."""
        if level < 4:
            return None
        rng = random.Random(f"rectify|{rated.isoformat()}|{dept.code}")
        if rng.random() >= self.flow.rating_rectified:
            return None
        day = counted_date(rated.date(), rng.randint(1, 10), "G")
        return Planned("rate_rectify", office_time(day, rng, rated.tzinfo), {
            "measure": rng.choice(RECTIFY_MEASURES), "handler": rng.choice(dept.officers).name})

    def _record_times(self, planned: list[Planned], rng: random.Random) -> list[Planned]:
        """Recording times: each fact when it happens, except an injected late 办结 (R8).

        Only the 办结 is reported late, and only while it still arrives before the day before
        the due date (``report_by``): a late acceptance would hold back every fact after it and
        make each of them a late report too (several R8 cards for one lapse), and a case whose
        办结 arrives later looks due or overdue to the hub until it does (a reminder or card the
        hub must withdraw again). A rating that would come before the late 办结 is recorded is
        moved after it (the applicant rates the result once the system shows it)."""
        planned.sort(key=lambda p: p.at)
        late = rng.random() < self.v.late_report
        due = datetime.min.replace(tzinfo=planned[0].at.tzinfo)
        for p in planned:
            if p.at < due:  # only after a late 办结: the rating
                p.at = due + timedelta(minutes=rng.randint(5, 120))
            p.due = p.at
            if late and p.kind == "complete" and p.report_by is not None:
                room = (p.report_by - p.at).total_seconds() / 60 - 1
                if room > 25 * 60:
                    p.due = p.at + timedelta(minutes=rng.uniform(25 * 60, min(96 * 60, room)))
                    p.due = p.due.replace(microsecond=0)
                    p.late = True
            due = p.due
        return planned


def day_start(moment: datetime) -> datetime:
    """Midnight at the start of ``moment``'s day, same zone."""
    return datetime.combine(moment.date(), time(0, 0), moment.tzinfo)
