"""The simulator engine: case arrivals, the queue of planned facts, and writing them on time.

Time is injected: :meth:`Simulator.advance` moves the simulation to a given moment, writing every
fact whose recording time has come; :meth:`Simulator.run` drives ``advance`` from a clock and a
sleep function (tests pass fakes; the CLI passes the wall clock, optionally sped up).

Each unit of work — the facts written, the new planned facts persisted to ``xn_sim_pending``, the
position and counters in ``xn_sim_meta`` — commits in one transaction, so a killed simulator
resumes where its last commit left it, with nothing written twice.
"""

from __future__ import annotations

import heapq
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from simulator import schema
from simulator.catalogue import Catalogue, build_catalogue
from simulator.complaints import ComplaintPlanner, ComplaintRates, MatterMix, matter_mix
from simulator.db import Database
from simulator.meta import get_meta, set_meta
from simulator.planner import Flow, Planner, Violations
from simulator.workdays import OFFICE_MINUTES_PER_DAY, add_office_minutes
from simulator.writers import Writer, writer_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Cases per minute of office time per window: the full city (67 windows) gets 1 case a minute,
#: ≈ 420 cases per working day — about six per window, a realistic load for licence work.
RATE_PER_WINDOW = 1 / 67


@dataclass(order=True)
class Fact:
    """A planned fact waiting for its recording time (``due``)."""

    due: datetime
    fact_id: int
    kind: str = field(compare=False)
    case_no: str = field(compare=False)
    at: datetime = field(compare=False)
    data: dict[str, Any] = field(compare=False)
    late: bool = field(default=False, compare=False)
    persisted: bool = field(default=False, compare=False)

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "case_no": self.case_no, "at": self.at,
                           "due": self.due, "data": self.data, "late": self.late},
                          default=_encode, ensure_ascii=False)

    @classmethod
    def from_json(cls, fact_id: int, text: str) -> Fact:
        raw = json.loads(text, object_hook=_decode)
        return cls(raw["due"], fact_id, raw["kind"], raw["case_no"], raw["at"], raw["data"],
                   raw["late"], persisted=True)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON")


def _decode(obj: dict[str, Any]) -> Any:
    if set(obj) == {"$t"}:
        return datetime.fromisoformat(obj["$t"])
    return obj


@dataclass
class Stats:
    """What a call wrote: facts by kind, cases started, injected violations."""

    facts: Counter[str] = field(default_factory=Counter)
    cases: int = 0
    violations: Counter[str] = field(default_factory=Counter)

    def add(self, other: Stats) -> None:
        self.facts.update(other.facts)
        self.cases += other.cases
        self.violations.update(other.violations)

    def summary(self) -> str:
        facts = ", ".join(f"{k} {v}" for k, v in sorted(self.facts.items()))
        viol = ", ".join(f"{k} {v}" for k, v in sorted(self.violations.items())) or "none"
        return f"{self.cases} cases planned; written: {facts or 'nothing'}; violations: {viol}"


def initialise(db: Database, kind: str, *, seed: int = 1,
               departments: int | list[str] = 20, now: datetime | None = None) -> Catalogue:
    """Create the ``kind`` schema in ``db``, write its catalogue and remember the settings."""
    catalogue = build_catalogue(seed, departments)
    schema.create(db, kind)
    writer = writer_for(kind)
    writer.write_catalogue(db, catalogue, now or datetime.now(SHANGHAI))
    set_meta(db, "schema", kind)
    set_meta(db, "seed", str(seed))
    set_meta(db, "departments", ",".join(d.code for d in catalogue.departments))
    set_meta(db, "case_seq", "0")
    set_meta(db, "fact_seq", "0")
    writer.save_state(db)
    db.commit()
    return catalogue


class Simulator:
    """Drives one department database. Use :meth:`open` on an initialised database."""

    def __init__(self, db: Database, kind: str, catalogue: Catalogue, *, seed: int,
                 rate_per_min: float | None = None, violations: Violations | None = None,
                 flow: Flow | None = None, office_hours: bool = True, spread: bool = True,
                 log: Callable[[str], None] | None = None,
                 complaint_rates: ComplaintRates | None = None):
        # The complaints system (schema "complaints") gets complaints and disclosure requests
        # instead of approval cases, at the rates of simulator/complaints.py.
        self.matters: MatterMix | None = None
        self.complaint_planner: ComplaintPlanner | None = None
        if kind == "complaints":
            self.complaint_planner = ComplaintPlanner(complaint_rates)
            self.matters = matter_mix(catalogue, self.complaint_planner.rates)
        if rate_per_min is None:
            rate_per_min = self.matters.rate_per_min if self.matters else default_rate(catalogue)
        if rate_per_min <= 0:
            raise ValueError(f"rate must be positive, got {rate_per_min}")
        self.db, self.kind, self.catalogue, self.seed = db, kind, catalogue, seed
        self.rate = rate_per_min
        self.office_hours = office_hours
        self.planner = Planner(violations or Violations(), flow, spread)
        self.writer: Writer = writer_for(kind)
        self.writer.load_state(db)
        self.log = log or (lambda _msg: None)
        position = get_meta(db, "position")
        self.position: datetime | None = datetime.fromisoformat(position) if position else None
        self.case_seq = int(get_meta(db, "case_seq") or 0)
        self.fact_seq = int(get_meta(db, "fact_seq") or 0)
        self.queue: list[Fact] = [
            Fact.from_json(int(fid), text)
            for fid, text in db.query("SELECT fact_id, fact FROM xn_sim_pending")
        ]
        heapq.heapify(self.queue)
        self._applied_persisted: list[int] = []
        self._depts = list(catalogue.departments)
        self._dept_weights = [len(d.windows) for d in self._depts]
        self.rng = random.Random()
        self.next_arrival: datetime | None = None
        if self.position is not None:
            self._reseed(self.position)

    @classmethod
    def open(cls, db: Database, **options: Any) -> Simulator:
        """A simulator for a database made by :func:`initialise` (options as ``__init__``)."""
        if "xn_sim_meta" not in db.tables():
            raise ValueError(f"{db.url.database}: not initialised (run xiaoneng-sim init first)")
        kind = get_meta(db, "schema") or ""
        seed = int(get_meta(db, "seed") or 1)
        codes = (get_meta(db, "departments") or "").split(",")
        if kind == "complaints" and options.get("complaint_rates") is None:
            options["complaint_rates"] = ComplaintRates.parse(get_meta(db, "complaint_rates") or "")
        return cls(db, kind, build_catalogue(seed, codes), seed=seed, **options)

    # -- arrivals ------------------------------------------------------------------------------
    def _reseed(self, moment: datetime) -> None:
        # The departments are part of the seed: one database per department (as in the demo)
        # must not give every department of the same size the same arrivals and the same draws.
        codes = ",".join(d.code for d in self._depts)
        self.rng = random.Random(f"xiaoneng-sim/{self.seed}/{codes}/{moment.isoformat()}")
        self.next_arrival = self._after(moment)

    def _after(self, moment: datetime) -> datetime:
        minutes = self.rng.expovariate(self.rate)
        if self.office_hours:
            return add_office_minutes(moment, minutes)
        return moment + timedelta(minutes=minutes)

    def _new_case(self, t0: datetime, stats: Stats) -> None:
        if self.matters is not None:
            self._new_matter(t0, stats)
            return
        dept = self.rng.choices(self._depts, self._dept_weights)[0]
        item = self.rng.choices(dept.items, [1 / (i + 1) ** 0.6 for i in range(len(dept.items))])[0]
        window = dept.window_for(item, self.rng)
        self.case_seq += 1
        case_no = f"{self.catalogue.region}{dept.seq:03d}{t0:%Y%m%d}{self.case_seq:06d}"
        case_rng = random.Random(self.rng.getrandbits(64))
        for p in self.planner.plan(case_no, t0, dept, item, window, case_rng):
            self.fact_seq += 1
            heapq.heappush(self.queue, Fact(p.due, self.fact_seq, p.kind, case_no, p.at, p.data,
                                            p.late))
        stats.cases += 1

    def _new_matter(self, t0: datetime, stats: Stats) -> None:
        """A complaint or a disclosure request arriving at the complaints system at ``t0``."""
        assert self.matters is not None and self.complaint_planner is not None
        kind, dept = self.matters.draw(self.rng)
        self.case_seq += 1
        number = f"{'TS' if kind == 'complaint' else 'GK'}{t0:%Y%m%d}{self.case_seq:06d}"
        rng = random.Random(self.rng.getrandbits(64))
        for p in self.complaint_planner.plan(kind, number, t0, dept, rng):
            self.fact_seq += 1
            heapq.heappush(self.queue, Fact(p.due, self.fact_seq, p.kind, number, p.at, p.data,
                                            p.late))
        stats.cases += 1

    # -- advancing time ---------------------------------------------------------------------------
    def start(self, moment: datetime) -> None:
        """Set the starting point of an empty simulation (backfill or first run)."""
        if self.position is not None:
            raise ValueError(f"simulation already at {self.position.isoformat()}")
        self.position = moment.astimezone(SHANGHAI)
        self._reseed(self.position)

    def advance(self, until: datetime, *, chunk: timedelta = timedelta(days=1)) -> Stats:
        """Run the simulation forward to ``until``, committing at least once per ``chunk``."""
        if self.position is None:
            self.start(until)
        assert self.position is not None
        total = Stats()
        until = until.astimezone(SHANGHAI)
        while self.position < until:
            end = min(until, self.position + chunk)
            total.add(self._step(end))
        return total

    def _step(self, end: datetime) -> Stats:
        stats = Stats()
        while self.next_arrival is not None and self.next_arrival <= end:
            self._new_case(self.next_arrival, stats)
            self.next_arrival = self._after(self.next_arrival)
        applied = 0
        try:
            while self.queue and self.queue[0].due <= end:
                fact = heapq.heappop(self.queue)
                self.writer.apply(self.db, fact)
                applied += 1
                stats.facts[fact.kind] += 1
                self._count_violations(fact, stats)
                if fact.persisted:
                    self._applied_persisted.append(fact.fact_id)
            self.position = end
            if applied or stats.cases:
                self._persist()
                self.db.commit()
        except Exception:
            self.db.rollback()
            raise
        # Arrivals are a Poisson process, memoryless: drawing afresh from ``end`` keeps the rate
        # and makes the future depend only on the committed position (a restart repeats it).
        self._reseed(end)
        return stats

    def _persist(self) -> None:
        db = self.db
        db.executemany("DELETE FROM xn_sim_pending WHERE fact_id = ?",
                       [(i,) for i in self._applied_persisted])
        self._applied_persisted = []
        fresh = [f for f in self.queue if not f.persisted]
        db.executemany("INSERT INTO xn_sim_pending (fact_id, due_at, fact) VALUES (?, ?, ?)",
                       [(f.fact_id, f.due.isoformat(), f.to_json()) for f in fresh])
        for f in fresh:
            f.persisted = True
        assert self.position is not None
        set_meta(db, "position", self.position.isoformat())
        set_meta(db, "case_seq", str(self.case_seq))
        set_meta(db, "fact_seq", str(self.fact_seq))
        self.writer.save_state(db)

    @staticmethod
    def _count_violations(fact: Fact, stats: Stats) -> None:
        d = fact.data
        if fact.late:
            stats.violations["late_report"] += 1
        if fact.kind == "refuse" and not d.get("reason"):
            stats.violations["refusal_no_reason"] += 1
        if fact.kind == "complete":
            if d["result_code"] in (1, 2, 3, 5, 7) and not d["reason"]:
                stats.violations["return_no_reason"] += 1
            if d.get("overdue"):
                stats.violations["overdue"] += 1
            if d.get("fee_over"):
                stats.violations["fee_over"] += 1
        if fact.kind == "supp_request" and d["supplement_no"] > 1:
            stats.violations["repeated_supplement"] += 1
        if fact.kind == "special_start" and d["kind"] == 2 and not d["reason"]:
            stats.violations["suspension_no_reason"] += 1
        if fact.kind == "rate" and d["level"] >= 4:
            stats.violations["bad_rating"] += 1
        if fact.kind in ("c_accept", "c_answer", "d_answer") and d.get("late"):
            stats.violations[{"c_accept": "late_accept", "c_answer": "late_answer",
                              "d_answer": "late_disclosure"}[fact.kind]] += 1
        if fact.kind == "c_close" and d.get("substantiated"):
            stats.violations["substantiated"] += 1

    def backfill(self, days: int, now: datetime) -> Stats:
        """Write ``days`` days of history ending at ``now`` into an empty simulation."""
        if days < 0:
            raise ValueError("days must not be negative")
        start = (now - timedelta(days=days)).astimezone(SHANGHAI)
        self.start(start.replace(hour=0, minute=0, second=0, microsecond=0))
        total = Stats()
        assert self.position is not None
        while self.position < now:
            day_end = min(now, self.position + timedelta(days=1))
            total.add(self.advance(day_end))
            self.log(f"{self.position:%Y-%m-%d}: {total.cases} cases so far")
        return total

    def run(self, clock: Callable[[], datetime], sleep: Callable[[float], None], *,
            speed: float = 1.0, duration: timedelta | None = None,
            stop: Callable[[], bool] = lambda: False, report_every: timedelta | None = None,
            ) -> Stats:
        """Advance with ``clock`` until ``stop()`` or ``duration`` of simulated time passes."""
        total = Stats()
        started = clock()
        if self.position is None:
            self.start(started)
        last_report = started
        while not stop():
            now = clock()
            total.add(self.advance(now))
            if duration is not None and now - started >= duration:
                break
            if report_every is not None and now - last_report >= report_every:
                self.log(f"{now:%Y-%m-%d %H:%M:%S}: {total.summary()}")
                last_report = now
            nxt = min([*([self.queue[0].due] if self.queue else []),
                       *([self.next_arrival] if self.next_arrival else []),
                       *([started + duration] if duration else [])], default=now)
            wait = (nxt - clock()).total_seconds() / speed
            sleep(min(1.0, max(0.02, wait)))
        return total


def default_rate(catalogue: Catalogue) -> float:
    """Cases per minute for ``catalogue``: :data:`RATE_PER_WINDOW` times its windows."""
    return RATE_PER_WINDOW * len(catalogue.windows)


def daily_volume(rate_per_min: float) -> float:
    """Expected cases per working day at ``rate_per_min`` during office hours."""
    return rate_per_min * OFFICE_MINUTES_PER_DAY
