"""The simulator writes every schema on SQLite, PostgreSQL and MariaDB, and the shipped profile
for that schema maps what it wrote to exactly the facts it simulated — the same events on every
database."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.mapping import Event, check_database, load_profile
from shared.canonical import canonical
from shared.events import event_problems
from simulator import schema
from simulator.db import connect
from simulator.engine import Simulator, Stats, initialise
from tests.mapping.rows import map_database
from tests.simulator.servers import DIALECTS, fresh_database

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 18, 11, 0, tzinfo=TZ)
PROFILES = Path(__file__).resolve().parents[2] / "firmware_configs" / "profiles"
FACT_EVENT = {"accept": "case.accepted", "refuse": "case.refused", "step_end": "case.step",
              "supp_request": "case.supplement_requested",
              "supp_receive": "case.supplement_received", "special_start": "case.suspended",
              "special_end": "case.resumed", "complete": "case.completed", "rate": "case.rated",
              "rate_rectify": "case.rating_rectified"}
_BASELINE: dict[str, list[bytes]] = {}


class FakeClock:
    def __init__(self, start: datetime, speed: float):
        self.t, self.speed = start, speed

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds * self.speed)


def _simulate(url: str, kind: str) -> tuple[Stats, list[Event], list[str], dict[str, int]]:
    db = connect(url, create=True)
    try:
        initialise(db, kind, seed=3, departments=["SCJG", "GA", "ZRZY"], now=NOW)
        stats = Simulator.open(db).backfill(3, NOW)
        live = Simulator.open(db, rate_per_min=1.0, office_hours=False)
        clock = FakeClock(NOW, 120)
        stats.add(live.run(clock.now, clock.sleep, speed=120, duration=timedelta(minutes=40)))
        counts = {t: db.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in schema.TABLES[kind]}
        profile = load_profile(PROFILES / f"{kind}.yaml")
        problems = [str(p) for p in check_database(profile, db.conn)]
        return stats, map_database(db.conn, profile), problems, counts
    finally:
        db.close()


def _canonical_events(events: list[Event]) -> list[bytes]:
    return sorted(canonical({"type": e.type, "ts": e.ts, "body": e.body, "key": e.key})
                  for e in events)


@pytest.mark.parametrize("kind", schema.CASE_KINDS)  # the complaints system: tests/simulator/test_complaints.py
@pytest.mark.parametrize("dialect", DIALECTS)
def test_simulator_writes_schema_and_profile_maps_it(tmp_path: Path, dialect: str,
                                                     kind: str) -> None:
    with fresh_database(dialect, tmp_path) as url:
        stats, events, problems, counts = _simulate(url, kind)
    assert problems == []
    assert all(n > 0 for n in counts.values()), counts
    assert stats.cases > 100
    errors = [e.body for e in events if e.is_error]
    assert errors == []
    for e in events:
        assert event_problems(e.type, e.body) == []
        canonical(e.body)  # signable: no floats
    expected = Counter({FACT_EVENT[k]: n for k, n in stats.facts.items() if k in FACT_EVENT})
    assert Counter(e.type for e in events) == expected
    mine = _canonical_events(events)
    if dialect == "sqlite":
        _BASELINE[kind] = mine
        return
    if kind not in _BASELINE:
        with fresh_database("sqlite", tmp_path) as baseline_url:
            _BASELINE[kind] = _canonical_events(_simulate(baseline_url, kind)[1])
    assert mine == _BASELINE[kind], "the same simulation gave other events on " + dialect
