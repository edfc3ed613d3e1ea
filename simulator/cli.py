"""``xiaoneng-sim``: create and drive a simulated department approval database.

A thin click layer over :mod:`simulator.engine`::

    xiaoneng-sim init --db sqlite:///dept.db --schema reference [--departments 20] [--seed 1]
    xiaoneng-sim init --db sqlite:///complaints.db --schema complaints [--complaint-rates …]
    xiaoneng-sim backfill --db sqlite:///dept.db --days 90
    xiaoneng-sim run --db sqlite:///dept.db --rate 2/min [--speed 60] [--duration 600]
    xiaoneng-sim status --db sqlite:///dept.db
    xiaoneng-sim catalogue [--format yaml|json]
"""

from __future__ import annotations

import json
import re
import signal
import sys
import time
import unicodedata
from dataclasses import asdict
from datetime import datetime, timedelta
from types import FrameType

import click
import yaml

from simulator import schema
from simulator.catalogue import build_catalogue
from simulator.complaints import DISCLOSURE_DEPTS, ComplaintRates
from simulator.db import Database, connect
from simulator.engine import SHANGHAI, Simulator, daily_volume, initialise
from simulator.meta import get_meta, set_meta
from simulator.planner import DISCIPLINE_TIERS, Violations

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|min|m|h|hour))?\s*$")
_PER_MIN = {None: 1.0, "min": 1.0, "m": 1.0, "s": 60.0, "sec": 60.0, "h": 1 / 60, "hour": 1 / 60}


def parse_rate(text: str) -> float:
    """``2/min``, ``120/h``, ``0.5`` (per minute) or ``1/s`` → cases per minute."""
    m = _RATE.match(text)
    if not m or float(m.group(1)) <= 0:
        raise click.BadParameter(f"{text!r}: write a positive rate such as 2/min, 120/h or 1/s")
    return float(m.group(1)) * _PER_MIN[m.group(2)]


def _open(url: str, *, create: bool = False) -> Database:
    try:
        return connect(url, create=create)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--db") from None
    except Exception as exc:  # noqa: BLE001 - any driver error: say which server and why
        raise click.ClickException(f"cannot open {url}: {exc}") from None


def _simulator(db: Database, rate: str | None, violations: str | None,
               office_hours: bool) -> Simulator:
    if "xn_sim_meta" not in db.tables():
        raise click.ClickException(f"{db.url.database}: not initialised (run xiaoneng-sim init)")
    stored_rate = get_meta(db, "rate")
    per_min = parse_rate(rate) if rate else float(stored_rate) if stored_rate else None
    base = Violations.parse(get_meta(db, "violations") or "")
    try:
        chosen = Violations.parse(violations, base) if violations else base
        return Simulator.open(db, rate_per_min=per_min, violations=chosen,
                              office_hours=office_hours,
                              log=lambda msg: click.echo(msg, err=True))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (CJK characters take two)."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - used)


def _rates_help() -> str:
    lines = [f"  {name}={rate:g}  {card}: {doc}" for name, rate, card, doc in Violations.describe()]
    tiers = ", ".join(f"×{factor:g} {' '.join(codes)}" for factor, codes in DISCIPLINE_TIERS.items())
    return ("部门审批系统模拟器 / Simulated department approval databases for Xiaoneng.\n\n"
            "\b\n违规率（默认，可用 --violations 覆盖）/ violation rates, the defaults "
            "(override with --violations NAME=RATE,… or none):\n" + "\n".join(lines) + "\n\n"
            "\b\n每个部门再乘以其纪律系数 / each department's rates are multiplied by its "
            f"discipline factor:\n  {tiers}\n\n"
            "A month of this (`xiaoneng-sim rates`) gives the hub ≈ 1.3–1.7 yellow + red cards per "
            "100 cases (DOMAIN.md §4 asks ≤ 2) and a spread of grades.\n\n"
            "\b\n投诉与政府信息公开申请（--schema complaints，城市 12345 热线投诉系统；默认值，可用 "
            "init --complaint-rates 覆盖）/ complaints and disclosure requests (--schema complaints, "
            "the city's complaints system; override with init --complaint-rates NAME=VALUE,…):\n"
            + "\n".join(f"  {name}={value:g}  {doc}" for name, value, doc in ComplaintRates.describe())
            + "\n  late rates × the department's discipline factor (at most 0.5); requests go to "
            + " ".join(DISCLOSURE_DEPTS) + ".\n\nSee docs/simulator.md.")


@click.group(help=_rates_help())
def main() -> None:
    pass


@main.command()
@click.option("--db", "url", required=True, help="sqlite:///file.db, postgresql://… or mysql://…")
@click.option("--schema", "kind", type=click.Choice(schema.KINDS), default="reference",
              show_default=True, help="which department database to imitate")
@click.option("--departments", type=click.IntRange(1, 20), default=20, show_default=True,
              help="the first N departments of the city")
@click.option("--dept", "codes", multiple=True, help="a department code (repeatable), e.g. SCJG")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--rate", default=None, help="default arrival rate for backfill/run, e.g. 2/min")
@click.option("--violations", default=None,
              help="violation rates, e.g. overdue=0.1,late_report=0.02 (or none)")
@click.option("--complaint-rates", "complaint_rates", default=None,
              help="schema complaints: e.g. late_answer=0.1,complaints_per_dept_month=5")
def init(url: str, kind: str, departments: int, codes: tuple[str, ...], seed: int,
         rate: str | None, violations: str | None, complaint_rates: str | None) -> None:
    """创建库表 / Create the tables and the catalogue in a (new) database."""
    with _open(url, create=True) as db:
        try:
            if violations:
                Violations.parse(violations)
            if complaint_rates:
                if kind != "complaints":
                    raise ValueError("--complaint-rates is for --schema complaints")
                ComplaintRates.parse(complaint_rates)
            cat = initialise(db, kind, seed=seed,
                             departments=list(codes) if codes else departments)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        if rate:
            set_meta(db, "rate", str(parse_rate(rate)))
        if violations:
            set_meta(db, "violations", violations)
        if complaint_rates:
            set_meta(db, "complaint_rates", complaint_rates)
        db.commit()
    click.echo(f"已创建 / created {kind} schema in {url}: {len(cat.departments)} departments, "
               f"{len(cat.windows)} windows, {len(cat.items)} items, {len(cat.staff)} staff")


@main.command()
@click.option("--db", "url", required=True)
@click.option("--days", type=click.IntRange(0, 3650), default=90, show_default=True)
@click.option("--now", "now_text", default=None, help="end of the history (ISO-8601), default now")
@click.option("--rate", default=None, help="cases per minute of office time (default: 1/min for 67 windows, pro rata)")
@click.option("--violations", default=None, help="override the violation rates")
def backfill(url: str, days: int, now_text: str | None, rate: str | None,
             violations: str | None) -> None:
    """回填历史 / Write DAYS days of history (office hours only) ending now."""
    now = datetime.fromisoformat(now_text) if now_text else datetime.now(SHANGHAI)
    if now.tzinfo is None:
        now = now.replace(tzinfo=SHANGHAI)
    with _open(url) as db:
        sim = _simulator(db, rate, violations, office_hours=True)
        started = time.monotonic()
        try:
            stats = sim.backfill(days, now)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"回填完成 / backfilled {days} days in {time.monotonic() - started:.1f} s: "
               f"{stats.summary()}")


@main.command()
@click.option("--db", "url", required=True)
@click.option("--rate", default=None, help="arrival rate, e.g. 2/min, 120/h (default: 1/min for 67 windows, pro rata)")
@click.option("--speed", type=click.FloatRange(min=0.001), default=1.0, show_default=True,
              help="simulated seconds per real second")
@click.option("--duration", type=click.FloatRange(min=0), default=None,
              help="stop after this many simulated seconds (default: until Ctrl-C / SIGTERM)")
@click.option("--office-hours/--always", default=False, show_default=True,
              help="cases arrive only in office hours, or at any time")
@click.option("--violations", default=None, help="override the violation rates")
def run(url: str, rate: str | None, speed: float, duration: float | None, office_hours: bool,
        violations: str | None) -> None:
    """实时运行 / Keep writing cases live until stopped."""
    stopping = {"flag": False}

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stopping["flag"] = True

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with _open(url) as db:
            sim = _simulator(db, rate, violations, office_hours=office_hours)
            origin = datetime.now(SHANGHAI)
            if sim.position is not None and sim.position < origin - timedelta(minutes=1):
                # The department kept working while we were stopped: fill the gap as history
                # (office hours only), then go live.
                click.echo(f"补齐 / catching up from {sim.position:%Y-%m-%d %H:%M}", err=True)
                _simulator(db, rate, violations, office_hours=True).advance(origin)
                sim = _simulator(db, rate, violations, office_hours=office_hours)
            if sim.position is not None and sim.position > origin:
                origin = sim.position
            mono = time.monotonic()

            def clock() -> datetime:
                return origin + timedelta(seconds=(time.monotonic() - mono) * speed)

            click.echo(f"运行中 / running at {sim.rate:g} cases/min "
                       f"(≈{daily_volume(sim.rate):.0f} per office day), speed ×{speed:g}",
                       err=True)
            stats = sim.run(clock, time.sleep, speed=speed,
                            duration=timedelta(seconds=duration) if duration is not None else None,
                            stop=lambda: stopping["flag"],
                            report_every=timedelta(seconds=60 * speed))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"已停止 / stopped: {stats.summary()}")


@main.command()
@click.option("--db", "url", required=True)
def status(url: str) -> None:
    """状态 / Rows per table, simulated time and pending facts."""
    with _open(url) as db:
        if "xn_sim_meta" not in db.tables():
            raise click.ClickException(f"{url}: not initialised (run xiaoneng-sim init)")
        kind = get_meta(db, "schema") or "?"
        click.echo(f"schema {kind}, departments {get_meta(db, 'departments')}, "
                   f"simulated up to {get_meta(db, 'position') or '(not started)'}")
        for table in (*schema.TABLES[kind], "xn_sim_pending"):
            count = db.query(f"SELECT COUNT(*) FROM {table}")[0][0]
            click.echo(f"  {table:<28} {count:>9}")


@main.command()
@click.option("--violations", default=None, help="rates to try instead of the defaults")
@click.option("--month", "month_text", default="2026-11", show_default=True,
              help="the month to plan (YYYY-MM)")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def rates(violations: str | None, month_text: str, seed: int, as_json: bool) -> None:
    """预期牌数 / What the violation rates mean: a month of the 20 departments, planned (no
    database), with their complaints and disclosure requests (the default complaint rates), the
    yellow + red cards and the score (DOMAIN.md §4, §5) each will get."""
    from simulator.plausibility import month, summary

    try:
        chosen = Violations.parse(violations) if violations else Violations()
        start = datetime.strptime(month_text, "%Y-%m").date()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    days = ((start.replace(day=28) + timedelta(days=4)).replace(day=1) - start).days
    months = month(build_catalogue(seed, 20), chosen, start=start, days=days, seed=seed)
    figures = summary(months)
    if as_json:
        data: dict[str, object] = {**asdict(figures), "departments": [
            {"code": m.code, "factor": m.factor, "cases": m.cases, "cards": dict(m.cards),
             "cards_per_100_cases": round(m.per_100, 2), "on_time": round(m.on_time_rate, 4),
             "score": round(m.score(), 1), "grade": m.grade()} for m in months]}
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"{_pad('部门 department', 24)}  factor  cases  cards  per100  on-time  score  grade   cards")
    for m in months:
        cards = " ".join(f"{rule}×{n}" for rule, n in sorted(m.cards.items()))
        click.echo(f"{_pad(m.name, 24)}{m.factor:>8g}{m.cases:>7}{m.standing:>7}{m.per_100:>8.2f}"
                   f"{100 * m.on_time_rate:>8.1f}%{m.score():>7.1f}  {_pad(m.grade(), 6)}  {cards}")
    click.echo(f"合计 / city: {figures.cases} cases, {figures.cards} yellow + red cards = "
               f"{figures.cards_per_100_cases} per 100 cases; grades {figures.grades}; "
               f"on time ≥ 95 % without a red card yet 不合格: {figures.departments_unfair} "
               f"(by the cards alone: {figures.departments_unfair_by_cards})")
    click.echo(f"投诉 / complaints: {figures.complaints} (属实 substantiated {figures.complaints_substantiated}, "
               f"not handled on time {figures.complaints_late}); 信息公开申请 / disclosure requests: "
               f"{figures.disclosures}")


@main.command()
@click.option("--departments", type=click.IntRange(1, 20), default=20, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True)
def catalogue(departments: int, seed: int, fmt: str) -> None:
    """事项目录 / Print the simulated city's catalogue (for the hub's item catalogue)."""
    data = build_catalogue(seed, departments).to_dict()
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
