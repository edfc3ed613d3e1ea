"""The simulator engine on real SQLite files: backfill, live run with injected time, restarts."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from simulator import schema
from simulator.db import Database, connect
from simulator.engine import Simulator, daily_volume, default_rate, initialise

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 16, 0, tzinfo=TZ)  # a Friday afternoon


class FakeClock:
    """Simulated time that moves only when the code under test sleeps."""

    def __init__(self, start: datetime, speed: float = 1.0):
        self.t, self.speed, self.sleeps = start, speed, 0

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.t += timedelta(seconds=seconds * self.speed)


def _db(tmp_path: Path, kind: str, name: str = "dept.db", departments: int = 3) -> Database:
    db = connect(f"sqlite:///{tmp_path / name}", create=True)
    initialise(db, kind, seed=5, departments=departments, now=NOW)
    return db


def _dump(db: Database, kind: str) -> dict[str, list[tuple[Any, ...]]]:
    return {t: db.query(f"SELECT * FROM {t} ORDER BY 1") for t in schema.TABLES[kind]}


def test_default_rate_is_one_case_a_minute_for_the_whole_city(tmp_path: Path) -> None:
    db = _db(tmp_path, "reference", departments=20)
    sim = Simulator.open(db)
    assert sim.rate == pytest.approx(1.0)
    assert daily_volume(sim.rate) == pytest.approx(420)
    assert default_rate(sim.catalogue) == pytest.approx(1.0)
    db.close()


@pytest.mark.parametrize("kind", schema.CASE_KINDS)  # the complaints system: tests/simulator/test_complaints.py
def test_backfill_is_deterministic(tmp_path: Path, kind: str) -> None:
    dumps = []
    for name in ("a.db", "b.db"):
        db = _db(tmp_path, kind, name)
        stats = Simulator.open(db).backfill(7, NOW)
        assert stats.cases > 100
        dumps.append(_dump(db, kind))
        db.close()
    assert dumps[0] == dumps[1]


def test_backfill_writes_a_plausible_history(tmp_path: Path) -> None:
    db = _db(tmp_path, "reference")
    sim = Simulator.open(db)
    stats = sim.backfill(30, NOW)
    # 3 departments have 14 windows: ≈ 14/67 cases a minute, 420 office minutes a day
    working_days = 21
    expected = working_days * daily_volume(sim.rate)
    assert 0.8 * expected < stats.cases < 1.2 * expected
    accepted = db.query("SELECT COUNT(*) FROM appr_case WHERE accept_status = '1'")[0][0]
    done = db.query("SELECT COUNT(*) FROM appr_result")[0][0]
    assert 0.5 * accepted < done < accepted
    hours = db.query("SELECT accept_time FROM appr_case")
    assert all("09:00:00" <= h[0][11:] < "17:30:00" for h in hours)
    assert stats.facts["complete"] == done
    # violations are injected, and they are the exception (docs/simulator.md)
    assert 0 < sum(stats.violations.values()) < 0.05 * stats.cases, stats.violations
    with pytest.raises(ValueError):
        sim.backfill(3, NOW)  # already has a history
    db.close()


def test_live_run_with_injected_time(tmp_path: Path) -> None:
    db = _db(tmp_path, "exchange")
    sim = Simulator.open(db)
    sim.backfill(3, NOW)
    before = db.query("SELECT COUNT(*) FROM up_pro_accept")[0][0]
    live = Simulator.open(db, rate_per_min=2.0, office_hours=False)
    clock = FakeClock(NOW, speed=60)
    stats = live.run(clock.now, clock.sleep, speed=60, duration=timedelta(hours=2))
    after = db.query("SELECT COUNT(*) FROM up_pro_accept")[0][0]
    assert 180 < stats.cases < 300  # 2/min for 120 minutes
    assert after - before == stats.facts["accept"] + stats.facts["refuse"]
    assert clock.sleeps < 2000  # it slept between events, it did not spin
    assert live.position is not None and live.position >= NOW + timedelta(hours=2)
    db.close()


def test_run_stops_when_asked(tmp_path: Path) -> None:
    db = _db(tmp_path, "reference")
    sim = Simulator.open(db, office_hours=False)
    clock = FakeClock(NOW)
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 5

    sim.run(clock.now, clock.sleep, stop=stop)
    assert calls["n"] == 6
    db.close()


def test_a_crash_mid_write_loses_and_doubles_nothing(tmp_path: Path) -> None:
    whole = _db(tmp_path, "reference", "whole.db")
    sim = Simulator.open(whole)
    sim.start(NOW - timedelta(days=3))
    for day in (2, 1, 0):
        sim.advance(NOW - timedelta(days=day))
    expected = _dump(whole, "reference")
    whole.close()

    db = _db(tmp_path, "reference", "crash.db")
    crashing = Simulator.open(db)
    crashing.start(NOW - timedelta(days=3))
    crashing.advance(NOW - timedelta(days=2))
    calls = {"n": 0}
    real_apply = crashing.writer.apply

    def flaky(db_: Database, fact: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 50:
            raise ConnectionError("server went away")
        real_apply(db_, fact)

    crashing.writer.apply = flaky  # type: ignore[method-assign,assignment]
    with pytest.raises(ConnectionError):
        crashing.advance(NOW - timedelta(days=1))
    resumed = Simulator.open(db)  # a new process: state comes from the database only
    assert resumed.position == NOW - timedelta(days=2)
    resumed.advance(NOW - timedelta(days=1))
    resumed.advance(NOW)
    assert _dump(db, "reference") == expected
    db.close()


def test_init_refuses_an_initialised_database(tmp_path: Path) -> None:
    db = _db(tmp_path, "flowable")
    with pytest.raises(ValueError, match="already exist"):
        initialise(db, "flowable")
    db.close()
