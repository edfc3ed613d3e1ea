"""Benchmark of the statutory clock and the time-rule scheduler (issue 4).

    python bench/clock.py --cases 1000000 --json

prints one JSON object:

- ``due_dates_per_s``: due-date computations per second through the public
  :func:`hub.engine.clock.due_date`, over ``--cases`` inputs with varied limits (0–60), units
  (80 % G) and pauses (none / one / two / one open). Target ≥ 200,000.
- ``open_cases``: open cases held by the engine while ticks are measured (``--cases``).
- ``tick_p99_ms`` / ``tick_p50_ms`` / ``tick_max_ms``: a :meth:`Supervision.tick` at a moment when
  ``changes_per_tick`` (~1,000) of the open cases change state (reminder or overdue: cards raised,
  next moments rescheduled), measured over ``--ticks`` consecutive such moments. Target p99 ≤ 50 ms.
- build time and memory of the engine state: ``engine_mb`` (resident memory the build added,
  ``engine_bytes_per_case``), ``max_rss_mb``;
- ``tick_cpu_p50_ms`` / ``tick_cpu_p99_ms``: the same ticks in the process's own CPU time (the wall
  time above also counts the time other work on a shared machine took the core away);
  ``gc_passes_in_ticks`` (collections of generation 0, 1, 2 that ran inside the measured ticks) and
  ``gc_pause_max_ms`` (the longest of them);
- ``gc_full_ms``: one full collection of the cyclic garbage collector with the engine state
  tracked (what the hub process would pause for, GIL held), and ``gc_full_frozen_ms`` after
  ``gc.freeze()`` — what the service does after its restore. Ticks are measured with the
  collector on and the state frozen, as in the service (``--no-gc`` switches it off instead).

The engine config used for the tick measurement sets the 督办 deadline beyond the measured window,
so that escalations do not add to the measured ticks and each tick sees one group of ~1,000 changes
(group g: R1 at the midnight after the (3g+1)-th working day, R2 after the (3g+2)-th).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.engine.calendar import WorkCalendar  # noqa: E402
from hub.engine.clock import Limit, Pause, Unit, due_date  # noqa: E402
from hub.engine.config import EngineConfig, Thresholds  # noqa: E402
from hub.engine.events import Accepted  # noqa: E402
from hub.engine.localtime import LOCAL_TZ  # noqa: E402
from hub.engine.supervision import Supervision  # noqa: E402
from hub.supervision import replay  # noqa: E402

GROUP = 1000  # cases that change state at each measured tick


def bench_due_dates(calendar: WorkCalendar, count: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    distinct = min(count, 200_000)
    base = date(2024, 1, 1).toordinal()
    inputs = []
    for _ in range(distinct):
        accepted = date.fromordinal(base + rng.randrange(0, 3 * 365))
        limit = rng.choice((0, 1, 3, 5, 7, 10, 15, 20, 30, 45, 60))
        unit = Unit.G if rng.random() < 0.8 else Unit.Z
        r = rng.random()
        pauses: tuple[Pause, ...] = ()
        if r < 0.2:
            s = accepted + timedelta(days=rng.randint(1, 20))
            pauses = (Pause(s, s + timedelta(days=rng.randint(0, 15))),)
        elif r < 0.27:
            s = accepted + timedelta(days=rng.randint(1, 10))
            s2 = s + timedelta(days=rng.randint(5, 25))
            pauses = (
                Pause(s, s + timedelta(days=rng.randint(0, 4))),
                Pause(s2, s2 + timedelta(days=rng.randint(0, 10))),
            )
        elif r < 0.30:
            pauses = (Pause(accepted + timedelta(days=rng.randint(1, 30)), None),)
        inputs.append((accepted, limit, unit, pauses))
    gc.collect()
    done, provisional, paused = 0, 0, 0
    started = time.perf_counter()
    while done < count:
        for accepted, limit, unit, pauses in inputs[: count - done]:
            due = due_date(calendar, accepted, limit, unit, pauses)
            if due.provisional:
                provisional += 1
            if due.day is None:
                paused += 1
        done += min(len(inputs), count - done)
    elapsed = time.perf_counter() - started
    return {
        "due_dates": done,
        "due_dates_s": round(elapsed, 3),
        "due_dates_per_s": round(done / elapsed),
        "due_dates_provisional": provisional,
        "due_dates_paused": paused,
    }


def _rss_mb() -> float:
    """Resident memory now (Linux), in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def bench_ticks(
    calendar: WorkCalendar, cases: int, ticks: int, seed: int, debug: bool = False, gc_on: bool = True
) -> dict[str, object]:
    rng = random.Random(seed)
    gc.collect()
    rss_before = _rss_mb()
    measured = min(ticks // 2 + 1, cases // GROUP)
    # 督办 deadlines beyond the measured window: no escalation adds to the measured ticks.
    config = EngineConfig(thresholds=Thresholds(supervision_days=3 * measured + 30))
    sup = Supervision(config, calendar)
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=LOCAL_TZ)  # a Monday
    started = time.perf_counter()
    for i in range(cases):
        group = i // GROUP
        if group < measured:  # R1 of group g at midnight after W(3g+1), R2 after W(3g+2)
            limit = 2 + 3 * group
        else:  # background: nothing happens during the measured window
            limit = rng.randint(3 * measured + 10, 3 * measured + 60)
        event = Accepted(
            type="case.accepted",
            at=t0 + timedelta(seconds=rng.randrange(0, 8 * 3600)),
            evidence=f"{i:064x}",
            case_id=f"C{i:07d}",
            item_code=f"I{i % 500:03d}",
            item_name="",
            dept_code=f"D{i % 40:02d}",
            dept_name="",
            case_kind=2,
            promised=Limit(limit, Unit.G),
            statutory=Limit(limit + 3 * measured + 100, Unit.G),
            window_id=f"W{i % 300:03d}",
            staff_id=f"S{i % 1000:03d}",
        )
        sup.ingest(event, event.at)
    build_s = time.perf_counter() - started
    gc.collect()
    engine_mb = _rss_mb() - rss_before
    started = time.perf_counter()
    gc.collect()
    gc_full_ms = (time.perf_counter() - started) * 1000
    replay.settle_gc()  # as the service does after its restore (freeze, thresholds)
    started = time.perf_counter()
    gc.collect()
    gc_frozen_ms = (time.perf_counter() - started) * 1000
    open_cases = sum(1 for c in sup.cases.values() if c.is_open)
    moments = sorted(m for m in {sup.scheduler.moment_of(f"case:C{g * GROUP:07d}") for g in range(measured)}
                     if m is not None)
    tick_times: list[float] = []
    cpu_times: list[float] = []  # the tick's own CPU time: what a shared machine's load leaves out
    changes: list[int] = []
    raised = 0
    passes: list[tuple[int, float]] = []  # (generation, ms) of each collection during the ticks
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            passes.append((info["generation"], (time.perf_counter() - gc_started[0]) * 1000))

    now = moments[0] if moments else None
    if not gc_on:
        gc.disable()
    gc.callbacks.append(on_gc)
    try:
        while now is not None and len(tick_times) < ticks:
            start, cpu = time.perf_counter(), time.thread_time()
            cards = sup.tick(now)
            tick_times.append((time.perf_counter() - start) * 1000)
            cpu_times.append((time.thread_time() - cpu) * 1000)
            raised += len(cards)
            changes.append(len(cards))
            if debug:
                print(f"tick {now} {len(cards)} cards {tick_times[-1]:.1f} ms (cpu {cpu_times[-1]:.1f})",
                      file=sys.stderr)
            now = sup.next_wakeup()
    finally:
        gc.callbacks.remove(on_gc)
        gc.enable()
    tick_times.sort()
    cpu_times.sort()

    def pct(p: float, times: list[float] = tick_times) -> float:
        return round(times[min(len(times) - 1, int(p * len(times)))], 2)

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "open_cases": open_cases,
        "ticks_measured": len(tick_times),
        "changes_per_tick": round(sum(changes) / max(1, len(changes))),
        "tick_p50_ms": pct(0.50),
        "tick_p99_ms": pct(0.99),
        "tick_max_ms": round(tick_times[-1], 2) if tick_times else None,
        "tick_cpu_p50_ms": pct(0.50, cpu_times),
        "tick_cpu_p99_ms": pct(0.99, cpu_times),
        "gc_passes_in_ticks": [sum(1 for g, _ in passes if g == n) for n in range(3)],
        "gc_pause_max_ms": round(max((ms for _, ms in passes), default=0.0), 1),
        "cards_raised": raised,
        "scheduled_subjects": len(sup.scheduler),
        "engine_build_s": round(build_s, 2),
        "ingest_per_s": round(cases / build_s),
        "engine_mb": round(engine_mb),
        "engine_bytes_per_case": round(engine_mb * 1e6 / max(1, cases)),
        "gc_full_ms": round(gc_full_ms, 1),
        "gc_full_frozen_ms": round(gc_frozen_ms, 1),
        "gc_during_ticks": "on, engine state frozen" if gc_on else "off",
        "gc_thresholds": list(gc.get_threshold()),
        "max_rss_mb": round(rss_mb),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--ticks", type=int, default=100, help="measured ticks (each ~1,000 changes)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--debug", action="store_true", help="each tick on stderr")
    parser.add_argument("--no-gc", action="store_true", help="collector off during the ticks (the old measure)")
    parser.add_argument("--gc-thresholds", help="e.g. 10000,10,100: the collector's thresholds for the ticks "
                        "in place of the hub's (to measure others)")
    args = parser.parse_args(argv)
    if args.gc_thresholds:
        t0, t1, t2 = (int(x) for x in args.gc_thresholds.split(","))
        replay.GC_THRESHOLDS = (t0, t1, t2)
    load_before = os.getloadavg()  # other work on the machine: the figures below share it
    started = time.perf_counter()
    calendar = WorkCalendar()
    result: dict[str, object] = {
        "cases": args.cases,
        "calendar_build_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    result.update(bench_due_dates(calendar, args.cases, args.seed))
    result.update(bench_ticks(calendar, args.cases, args.ticks, args.seed, args.debug, not args.no_gc))
    result["python"] = sys.version.split()[0]
    result["loadavg_before"] = [round(x, 2) for x in load_before]
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
