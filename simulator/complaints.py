"""Complaints (投诉) and information-disclosure requests (政府信息公开申请) of the simulated city.

The city's 12345 hotline / complaints system files complaints against the departments and keeps
the disclosure requests the departments receive (schema ``complaints``, simulator/schema.py). This
module plans each matter's whole life when it arrives — pure, given a random generator — as the
case planner does for approval cases (:mod:`simulator.planner`). The hub's clocks (DOMAIN.md §6,
hub/engine/complaints.py and disclosure.py) judge the plans:

- a complaint is accepted within 1–3 working days (the hub allows 5), answered within 3–13
  working days of acceptance (the hub allows 15) and closed 1–3 working days after the answer with
  a finding (属实 / 部分属实 / 不属实); ``not_accepted`` of them are closed without acceptance
  (不予受理); ``late_accept`` are accepted 6–7 working days after filing and ``late_answer``
  answered 1–2 working days after the due date (R2 yellow, inside the 督办 deadline, no R3);
- a disclosure request is answered within 5–18 counted working days; ``supplement`` of them get a
  补正 notice 2–5 working days after receipt (the period restarts on the corrected request),
  ``consultation`` a third-party consultation of 5–15 working days (not counted), ``extension`` an
  extension of 10–20 working days before the due date (answered within it), ``late_disclosure``
  are answered 1–2 working days after the due date.

Lateness rates are multiplied by the department's discipline factor (:func:`discipline`) taken
at most ×2 — DOMAIN.md §5 scores 15 × the share handled on time, so one late answer among a small
department's two complaints already costs 7.5 points, and a problem department that is on time
with its cases must not fail on that alone (DOMAIN.md §4 "Plausibility"); the number of complaints
a department gets is weighted by its windows (its volume) times (1 + factor / 10).
docs/simulator.md gives the rates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from simulator.catalogue import Catalogue, Department, person_name
from simulator.planner import Planned, discipline, office_time
from simulator.workdays import OFFICE_MINUTES_PER_DAY, counted_date, workday_on_or_after

#: Departments that receive information-disclosure requests (planning, land, housing, the
#: environment, the police, market regulation, transport: where citizens ask for documents).
DISCLOSURE_DEPTS = ("ZRZY", "ZFCX", "STHJ", "GA", "SCJG", "JTYS")
#: Working days in a month, for turning monthly counts into an arrival rate.
WORKDAYS_PER_MONTH = 21.75

CHANNELS = ("12345热线电话", "12345网站", "政务服务网", "来信", "现场投诉")
COMPLAINT_TOPICS = (
    "窗口工作人员态度生硬，对咨询不耐烦",
    "办件超过承诺时限仍未办结，多次催问无答复",
    "窗口要求提交清单之外的材料",
    "工作时间窗口无人，等候时间过长",
    "一次性告知不到位，往返多次补交材料",
    "收费项目和标准未公示",
    "网上申请后长时间无人受理",
    "工作人员推诿，让申请人到其他部门办理",
)
REPLY_TEXTS = ("已约谈相关工作人员并向投诉人致歉", "已督促部门限期办结并回复投诉人",
               "经核查，窗口按规定办理，已向投诉人解释", "已完善一次性告知单，并回访投诉人")
DISCLOSURE_TOPICS = (
    "某地块国有土地使用权出让合同", "某小区规划许可证及总平面图", "某项目环境影响评价批复文件",
    "某路段交通改造工程立项批复", "某企业行政处罚决定书", "本人户籍迁移审批材料",
    "某建设项目施工许可信息", "某片区征收补偿方案",
)
APPLY_WAYS = ("网上申请", "信函申请", "当面申请")
#: 答复类型 codes of the complaints system (the profile translates them to words).
REPLY_TYPES = {"1": "予以公开", "2": "部分公开", "3": "不予公开", "4": "信息不存在",
               "5": "非本机关负责公开", "6": "不予处理"}
_REPLY_WEIGHTS = (55, 15, 6, 14, 7, 3)


def _rate(default: float, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class ComplaintRates:
    """How many complaints and disclosure requests arrive, and how they go (module doc)."""

    complaints_per_dept_month: float = _rate(
        3.0, "complaints per department per month on average (volume- and discipline-weighted)")
    substantiated: float = _rate(0.2, "of accepted complaints: found 属实 or 部分属实")
    not_accepted: float = _rate(0.1, "of complaints: closed without acceptance (不予受理)")
    late_accept: float = _rate(0.02, "of complaints: accepted after the 5 working days (R2)")
    late_answer: float = _rate(0.04, "of accepted complaints: answered 1–2 working days late (R2)")
    disclosures_per_dept_month: float = _rate(
        2.0, "disclosure requests per month for each of " + ", ".join(DISCLOSURE_DEPTS))
    supplement: float = _rate(0.15, "of requests: a 补正 notice, the period restarts")
    consultation: float = _rate(0.1, "of requests: a third-party consultation (not counted)")
    extension: float = _rate(0.1, "of requests: one extension of 10–20 working days")
    late_disclosure: float = _rate(0.04, "of requests: answered 1–2 working days late (R2)")

    @classmethod
    def parse(cls, text: str, base: ComplaintRates | None = None) -> ComplaintRates:
        """``"late_answer=0.2,complaints_per_dept_month=5"`` on top of ``base`` (the defaults)."""
        values = {f.name: getattr(base or cls(), f.name) for f in fields(cls)}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, raw = part.partition("=")
            name = name.strip().replace("-", "_")
            if name not in values:
                raise ValueError(f"unknown complaint rate {name!r}; known: {', '.join(values)}")
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"complaint rate {raw!r} for {name} is not a number") from None
            monthly = name.endswith("_month")
            if value < 0 or (not monthly and value > 1) or (monthly and value > 1000):
                raise ValueError(f"complaint rate for {name} out of range: {value}")
            values[name] = value
        return cls(**values)

    def to_text(self) -> str:
        return ",".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))

    @classmethod
    def describe(cls) -> list[tuple[str, float, str]]:
        """(name, default, what it is) of every rate, for help texts."""
        base = cls()
        return [(f.name, getattr(base, f.name), f.metadata["doc"]) for f in fields(cls)]


def late_rate(rate: float, dept_code: str) -> float:
    """A lateness rate for ``dept_code``: times its discipline factor, the factor at most 2."""
    return min(0.5, rate * min(2.0, discipline(dept_code)))


def complaint_weight(dept: Department) -> float:
    """A department's share of complaints: its windows times (1 + discipline factor / 10)."""
    return len(dept.windows) * (1 + discipline(dept.code) / 10)


@dataclass(frozen=True)
class MatterMix:
    """Which department and which kind of matter the next arrival is."""

    departments: tuple[Department, ...]
    weights: tuple[float, ...]
    kinds: tuple[str, ...]  # "complaint" / "disclosure", parallel to departments
    per_month: float

    def draw(self, rng: random.Random) -> tuple[str, Department]:
        i = rng.choices(range(len(self.departments)), self.weights)[0]
        return self.kinds[i], self.departments[i]

    @property
    def rate_per_min(self) -> float:
        """Arrivals per minute of office time."""
        return self.per_month / (WORKDAYS_PER_MONTH * OFFICE_MINUTES_PER_DAY)


def matter_mix(catalogue: Catalogue, rates: ComplaintRates) -> MatterMix:
    """The arrival mix: complaints over every department, requests over :data:`DISCLOSURE_DEPTS`."""
    depts = catalogue.departments
    total = sum(complaint_weight(d) for d in depts) or 1.0
    city = rates.complaints_per_dept_month * len(depts)
    entries: list[tuple[str, Department, float]] = [
        ("complaint", d, city * complaint_weight(d) / total) for d in depts]
    entries += [("disclosure", d, rates.disclosures_per_dept_month) for d in depts
                if d.code in DISCLOSURE_DEPTS]
    entries = [e for e in entries if e[2] > 0]
    if not entries:
        raise ValueError("no complaints and no disclosure requests at these rates")
    return MatterMix(tuple(e[1] for e in entries), tuple(e[2] for e in entries),
                     tuple(e[0] for e in entries), sum(e[2] for e in entries))


def _on(day: date, rng: random.Random, tz: Any, after: datetime | None = None) -> datetime:
    return office_time(day, rng, tz, after)


def _wd(start: date, n: int) -> date:
    return counted_date(start, n, "G")


class ComplaintPlanner:
    """Plans complaints and disclosure requests; holds no state between matters."""

    def __init__(self, rates: ComplaintRates | None = None):
        self.rates = rates or ComplaintRates()

    def plan(self, kind: str, number: str, t0: datetime, dept: Department,
             rng: random.Random) -> list[Planned]:
        """The whole life of the matter ``number`` arriving at ``t0``; sorted by recording time."""
        facts = (self.complaint(number, t0, dept, rng) if kind == "complaint"
                 else self.disclosure(number, t0, dept, rng))
        for f in facts:
            f.due = f.at  # the complaints system records each step as it happens
        return sorted(facts, key=lambda f: f.due)

    def complaint(self, number: str, t0: datetime, dept: Department,
                  rng: random.Random) -> list[Planned]:
        r, tz = self.rates, t0.tzinfo
        clerks = [s for w in dept.windows for s in w.staff]
        staff = rng.choice(clerks) if clerks and rng.random() < 0.6 else None
        head = {"dept_code": dept.code, "dept_name": dept.name,
                "staff_id": staff.staff_id if staff else None,
                "staff_name": staff.name if staff else None,
                "channel": rng.choice(CHANNELS), "complainant": person_name(rng),
                "content": rng.choice(COMPLAINT_TOPICS)}
        out = [Planned("c_file", t0, head)]
        filed = t0.date()
        if rng.random() < r.not_accepted:
            closed = _on(_wd(filed, rng.randint(1, 3)), rng, tz)
            out.append(Planned("c_close", closed, {"verify": None, "status": "90"}))
            return out
        late_accept = rng.random() < late_rate(r.late_accept, dept.code)
        accepted = _on(_wd(filed, rng.randint(6, 7) if late_accept else rng.randint(1, 3)), rng, tz)
        out.append(Planned("c_accept", accepted, {"late": late_accept}))
        late_answer = rng.random() < late_rate(r.late_answer, dept.code)
        # The hub's answer due date: 15 working days after acceptance (firmware_configs/rules).
        days = 15 + rng.randint(1, 2) if late_answer else rng.randint(3, 13)
        answered = _on(_wd(accepted.date(), days), rng, tz)
        out.append(Planned("c_answer", answered, {"late": late_answer,
                                                  "reply": rng.choice(REPLY_TEXTS)}))
        proven = rng.random() < r.substantiated
        verify = rng.choice(("1", "2")) if proven else "3"
        closed = _on(_wd(answered.date(), rng.randint(1, 3)), rng, tz)
        out.append(Planned("c_close", closed, {"verify": verify, "status": "40",
                                               "substantiated": proven}))
        return out

    def disclosure(self, number: str, t0: datetime, dept: Department,
                   rng: random.Random) -> list[Planned]:
        r, tz = self.rates, t0.tzinfo
        head = {"dept_code": dept.code, "dept_name": dept.name,
                "applicant_name": person_name(rng), "apply_way": rng.choice(APPLY_WAYS),
                "content": "申请公开" + rng.choice(DISCLOSURE_TOPICS)}
        out = [Planned("d_receive", t0, head)]
        start = workday_on_or_after(t0.date())
        if rng.random() < r.supplement:
            notice = _on(_wd(t0.date(), rng.randint(2, 5)), rng, tz)
            back = _on(_wd(notice.date(), rng.randint(3, 10)), rng, tz)
            out += [Planned("d_supp_request", notice, {}), Planned("d_supp_receive", back, {})]
            start = back.date()
        late = rng.random() < late_rate(r.late_disclosure, dept.code)
        extension = 0
        shift = 0
        if not late and rng.random() < r.consultation:
            # A consultation of ``length`` working days, not counted; answered ``length + 2``
            # counted days later than without it, whichever way the hub counts its ends.
            begin = rng.randint(3, 8)
            length = rng.randint(5, 15)
            c_start = _on(_wd(start, begin), rng, tz)
            c_end = _on(_wd(c_start.date(), length), rng, tz)
            out += [Planned("d_consult_start", c_start, {}), Planned("d_consult_end", c_end, {})]
            shift = length + 2
        if not late and rng.random() < r.extension:
            extension = rng.randint(10, 20)
            extended = _on(_wd(start, rng.randint(15, 18) + shift), rng, tz)
            out.append(Planned("d_extend", extended, {"days": extension}))
            n = rng.randint(21, 18 + extension) + shift
        elif late:
            n = 20 + rng.randint(1, 2)
        else:
            n = rng.randint(5, 18) + shift
        after = max(f.at for f in out)
        day = max(_wd(start, n), after.date())
        answered = _on(day, rng, tz, after if after.date() == day else None)
        reply = rng.choices(list(REPLY_TYPES), _REPLY_WEIGHTS)[0]
        out.append(Planned("d_answer", answered, {"reply_type": reply, "late": late}))
        return out


def expected_month(catalogue: Catalogue, rates: ComplaintRates | None = None) -> dict[str, Any]:
    """What a month brings on average: complaints and requests per department, and the expected
    substantiated complaints and late answers (for docs/simulator.md and the plausibility check)."""
    r = rates or ComplaintRates()
    mix = matter_mix(catalogue, r)
    out: dict[str, Any] = {}
    for kind, dept, n in zip(mix.kinds, mix.departments, mix.weights, strict=True):
        row = out.setdefault(dept.code, {"complaints": 0.0, "substantiated": 0.0,
                                         "late_answers": 0.0, "disclosures": 0.0,
                                         "late_disclosures": 0.0})
        if kind == "complaint":
            accepted = n * (1 - r.not_accepted)
            row["complaints"] += n
            row["substantiated"] += accepted * r.substantiated
            row["late_answers"] += accepted * late_rate(r.late_answer, dept.code)
        else:
            row["disclosures"] += n
            row["late_disclosures"] += n * late_rate(r.late_disclosure, dept.code)
    return {code: {k: round(v, 2) for k, v in row.items()} for code, row in out.items()}


def complaint_block(complaints: float, substantiated: float, late: float,
                    points: float = 15.0, deduction: float = 2.0) -> float:
    """DOMAIN.md §5's complaints block for expected counts: ``points`` × on-time share minus
    ``deduction`` per substantiated complaint, floored at 0 (15 with no complaint judged)."""
    on_time = 1.0 if complaints <= 0 else max(0.0, 1 - late / complaints)
    return max(0.0, points * on_time - deduction * substantiated)

