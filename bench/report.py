"""Benchmark of the supervision service and the monthly report (issue 4: ``monthly_report_s``).

    python bench/report.py --cases 100000 --month 2026-11 --json [--keep DIR] [--pdf FILE]

Builds a hub data directory whose store holds a month of simulator-like case records (the
simulator's 20 departments, 67 windows and 94 items; 30 % of that volume again in the month
before, for trends and 约谈 flags), signed and stored through the real ingest path, then:

- ``supervision_records_per_s``: the supervision service consuming the store from scratch
  (engine, case rows, cards, aggregates), in one process (the service's thread and its writer
  thread); ``supervision_records_per_cpu_s`` the same per second of the process's CPU time
  (steadier on a shared machine); ``supervision_records_per_service_thread_cpu_s`` per second of
  the service thread's own CPU time (parse, engine, case rows; the writes run beside it): the
  rate two free cores would reach;
- ``restart_s``: opening the service again on the full database (restore + replay of live cases);
- ``monthly_report_s``: :func:`hub.reports.data.build_report` for the month (target ≤ 10 s),
  and the time to render it as PDF, Excel and HTML.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from hub.engine.calendar import WorkCalendar  # noqa: E402
from hub.engine.clock import Pause, Unit, due_date  # noqa: E402
from hub.engine.localtime import LOCAL_TZ  # noqa: E402
from hub.engine.scoring import Period  # noqa: E402
from hub.reports import render  # noqa: E402
from hub.reports.data import build_report  # noqa: E402
from hub.store import Store  # noqa: E402
from hub.supervision.replay import GC_THRESHOLDS  # noqa: E402
from hub.supervision.service import ServiceOptions, SupervisorService  # noqa: E402
from simulator.engine_month import FixedClock, sign_and_store  # noqa: E402

RATINGS = (1,) * 60 + (2,) * 20 + (3,) * 10 + (4,) * 6 + (5,) * 4


@dataclass
class Office:
    dept: str
    dept_name: str
    window: str
    staff: str
    staff_name: str
    item: str
    item_name: str
    statutory: tuple[int, str]
    promised: tuple[int, str]
    fee: int


def offices() -> list[Office]:
    """Department × window × item combinations of the simulator's catalogue."""
    try:
        from simulator.catalogue import build_catalogue
    except ImportError:  # pragma: no cover - the simulator is optional here
        return [Office(f"D{d:02d}", f"部门{d}", f"D{d:02d}-01", f"S{d:02d}", f"职员{d}", f"I{d:02d}",
                       f"事项{d}", (20, "G"), (5, "G"), 0) for d in range(1, 21)]
    out: list[Office] = []
    for dept in build_catalogue().departments:
        for window in dept.windows:
            for item in dept.items:
                clerk = window.staff[len(out) % len(window.staff)]
                out.append(Office(dept.code, dept.name, window.window_id, clerk.staff_id, clerk.name, item.code,
                                  item.name, (item.statutory.value, item.statutory.unit),
                                  (item.promised.value, item.promised.unit), item.fee_fen))
    return out


def _moment(day: date, rng: random.Random) -> datetime:
    minutes = rng.randrange(9 * 60, 17 * 60)
    return datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, rng.randrange(60), tzinfo=LOCAL_TZ)


def plan(cases: int, period: Period, calendar: WorkCalendar, now: datetime, seed: int,
         prefix: str) -> list[tuple[datetime, str, dict[str, Any]]]:  # fmt: skip
    """The events of ``cases`` cases accepted in ``period`` (not later than ``now``)."""
    rng = random.Random(seed)
    places = offices()
    days = [period.start + timedelta(days=i) for i in range((period.end - period.start).days + 1)]
    workdays = [d for d in days if calendar.is_workday(d)]
    events: list[tuple[datetime, str, dict[str, Any]]] = []
    for n in range(cases):
        o = rng.choice(places)
        cid = f"{prefix}{n:07d}"
        accepted = _moment(rng.choice(workdays), rng)
        kind = 1 if o.promised[0] == 0 else 2
        if rng.random() < 0.02:
            reason = "" if rng.random() < 0.15 else "材料不符合法定形式"
            events.append((accepted, "case.refused", {"case_id": cid, "item_code": o.item, "dept_code": o.dept,
                                                       "at": accepted.isoformat(), "reason": reason,
                                                       "window_id": o.window, "staff_id": o.staff}))
            continue
        events.append((accepted, "case.accepted", {
            "case_id": cid, "item_code": o.item, "item_name": o.item_name, "dept_code": o.dept,
            "dept_name": o.dept_name, "accepted_at": accepted.isoformat(), "case_kind": kind,
            "promised_limit": {"value": o.promised[0], "unit": o.promised[1]},
            "statutory_limit": {"value": o.statutory[0], "unit": o.statutory[1]},
            "window_id": o.window, "staff_id": o.staff, "staff_name": o.staff_name,
            "applicant_name": rng.choice("赵钱孙李周吴郑王冯陈") + rng.choice(("伟", "芳", "敏", "静", "强", "磊")),
            "fee_standard_fen": o.fee,
        }))  # fmt: skip
        limit, unit = o.promised
        due = due_date(calendar, accepted.date(), limit, Unit(unit)).day or accepted.date()
        r = rng.random()
        if kind == 1:
            done = accepted + timedelta(minutes=rng.randrange(5, 50))
        else:
            if r < 0.05:
                supp = _moment(accepted.date() + timedelta(days=1), rng)
                events.append((supp, "case.supplement_requested", {"case_id": cid, "at": supp.isoformat()}))
                back = supp + timedelta(days=rng.randrange(1, 4))
                events.append((back, "case.supplement_received", {"case_id": cid, "at": back.isoformat()}))
                pause = (Pause(supp.date(), back.date()),)
                due = due_date(calendar, accepted.date(), limit, Unit(unit), pause).day or due
            if r < 0.80:
                span = max(0, (due - accepted.date()).days - 1)
                done = _moment(accepted.date() + timedelta(days=rng.randrange(0, span + 1)), rng)
            elif r < 0.90:
                done = _moment(due, rng)
            elif r < 0.96:
                done = _moment(due + timedelta(days=rng.randrange(1, 8)), rng)
            else:
                done = _moment(due + timedelta(days=rng.randrange(20, 40)), rng)
            if done <= accepted:
                done = accepted + timedelta(hours=2)
        if done > now:
            continue
        body: dict[str, Any] = {"case_id": cid, "at": done.isoformat(), "result_code": 6}
        if o.fee:
            body["fee_charged_fen"] = o.fee * (2 if rng.random() < 0.005 else 1)
        if rng.random() < 0.01:
            body["result_code"] = 7
            if rng.random() < 0.5:
                body["reason"] = "不符合许可条件"
        events.append((done, "case.completed", body))
        if rng.random() < 0.35:
            rated = done + timedelta(hours=rng.randrange(1, 30))
            if rated <= now:
                events.append((rated, "case.rated", {"case_id": cid, "at": rated.isoformat(),
                                                     "level": rng.choice(RATINGS), "channel": "pc"}))
    depts = sorted({o.dept for o in places})
    for n in range(max(1, cases // 500)):
        dept = rng.choice(depts)
        filed = _moment(rng.choice(workdays), rng)
        cid = f"{prefix}T{n:05d}"
        events.append((filed, "complaint.filed", {"complaint_id": cid, "at": filed.isoformat(), "target_dept": dept}))
        acc = filed + timedelta(days=rng.randrange(1, 5))
        if acc <= now:
            events.append((acc, "complaint.accepted", {"complaint_id": cid, "at": acc.isoformat()}))
            ans = acc + timedelta(days=rng.randrange(3, 25))
            if ans <= now:
                events.append((ans, "complaint.answered", {"complaint_id": cid, "at": ans.isoformat(),
                                                           "substantiated": rng.random() < 0.3}))
    for n in range(max(1, cases // 1000)):
        got = _moment(rng.choice(workdays), rng)
        rid = f"{prefix}G{n:05d}"
        dept = rng.choice(depts)
        events.append((got, "disclosure.received", {"request_id": rid, "dept_code": dept, "at": got.isoformat()}))
        ans = got + timedelta(days=rng.randrange(5, 35))
        if ans <= now:
            events.append((ans, "disclosure.answered", {"request_id": rid, "dept_code": dept, "at": ans.isoformat()}))
    events.sort(key=lambda e: e[0])
    return events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--month", default="2026-11")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="build the data directory here (kept)")
    parser.add_argument("--pdf", type=Path, help="also write the report PDF here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()  # other work on the machine: the figures below share it
    period = Period.parse(args.month)
    now = datetime.combine(period.end + timedelta(days=2), datetime.min.time(), LOCAL_TZ).replace(hour=8)
    data = args.keep or Path(tempfile.mkdtemp(prefix="xn-report-bench-"))
    data.mkdir(parents=True, exist_ok=True)
    db = data / "hub.sqlite"
    calendar = WorkCalendar()
    started = time.perf_counter()
    events = plan(int(args.cases * 0.3), period.previous(), calendar, now, args.seed + 1, "P")
    events += plan(args.cases, period, calendar, now, args.seed, "C")
    events.sort(key=lambda e: e[0])
    store = Store(db, synchronous="OFF")
    count = sign_and_store(store, "sim-agent", "cases", ((t, m.isoformat(), b) for m, t, b in events), batch=500)
    store.close()
    generate_s = time.perf_counter() - started

    clock = FixedClock(now)
    gc.set_threshold(*GC_THRESHOLDS)  # as the hub process does (start_supervision)
    # the service's own chunk size (records per transaction); each step drains the store
    options = ServiceOptions(startup_hold_s=0, max_chunks_per_step=1000, calendar_poll_s=3600,
                             counters_interval_s=3600, housekeeping_s=3600)  # fmt: skip
    service = SupervisorService(db, clock=clock, options=options)
    service.open()
    started, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
    while service.step():
        pass
    clock.now = now + timedelta(minutes=5)  # past the quiet limit: ticks at wall time
    service.step()
    consume_s = time.perf_counter() - started
    consume_cpu_s = time.process_time() - cpu
    engine_cpu_s = time.thread_time() - own  # the service's thread (its writer thread runs beside it)
    service.stop()

    started = time.perf_counter()
    again = SupervisorService(db, clock=clock, options=options)
    restored = again.open()
    restart_s = time.perf_counter() - started
    again.stop()

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    cases_month = conn.execute("SELECT COALESCE(SUM(n), 0) FROM sup_daily WHERE metric = 'accepted' AND day BETWEEN ? "
                               "AND ?", (period.start.isoformat(), period.end.isoformat())).fetchone()[0]
    cards = conn.execute("SELECT COUNT(*) FROM cards").fetchone()[0]
    started = time.perf_counter()
    report = build_report(conn, args.month, now=now)
    report_s = time.perf_counter() - started
    conn.close()
    assert report is not None
    timings = {}
    for fmt in ("pdf", "xlsx", "html"):
        started = time.perf_counter()
        blob = render(fmt, report)
        timings[f"render_{fmt}_s"] = round(time.perf_counter() - started, 3)
        timings[f"{fmt}_bytes"] = len(blob)
        if fmt == "pdf" and args.pdf:
            args.pdf.write_bytes(blob)
    result = {
        "month": args.month, "cases_generated": args.cases, "cases_accepted_in_month": cases_month,
        "records": count, "generate_s": round(generate_s, 1),
        "supervision_records_per_s": round(count / consume_s), "supervision_consume_s": round(consume_s, 1),
        "supervision_records_per_cpu_s": round(count / consume_cpu_s), "supervision_cpu_s": round(consume_cpu_s, 1),
        "supervision_records_per_service_thread_cpu_s": round(count / engine_cpu_s),
        "supervision_service_thread_cpu_s": round(engine_cpu_s, 1),
        "cards": cards, "restart_s": round(restart_s, 2), "restart_records_replayed": restored.records_replayed,
        "restart_cases_replayed": restored.cases_replayed, "monthly_report_s": round(report_s, 3), **timings,
        "db_mb": round(db.stat().st_size / 1e6, 1), "supervision_chunk": options.chunk,
        "python": sys.version.split()[0],
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip
    print(json.dumps(result, ensure_ascii=False) if args.json else json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
