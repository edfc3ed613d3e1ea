"""Helpers for the capture tests: a simulated department, the outbox's contents, expectations."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.mapping import Profile, load_profile
from agent.outbox import Outbox
from shared.canonical import canonical
from shared.record import Record
from simulator.db import Database, connect
from simulator.engine import Simulator, initialise
from tests.mapping.rows import map_database

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 18, 11, 0, tzinfo=TZ)
CAPTURED_AT = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
PROFILES = Path(__file__).resolve().parents[2] / "firmware_configs" / "profiles"


class FakeClock:
    """Simulated time for the simulator's live run (moves when it sleeps)."""

    def __init__(self, start: datetime, speed: float):
        self.t, self.speed = start, speed

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds * self.speed)


@dataclass
class Department:
    """A simulated department database and the profile that maps it."""

    url: str
    kind: str
    db: Database
    profile: Profile

    @classmethod
    def create(cls, url: str, kind: str, days: int = 2) -> Department:
        db = connect(url, create=True)
        initialise(db, kind, seed=8, departments=["SCJG", "JTYS"], now=NOW)
        Simulator.open(db).backfill(days, NOW)
        return cls(url, kind, db, load_profile(PROFILES / f"{kind}.yaml"))

    def live(self, minutes: int, start: datetime = NOW, *, own_connection: bool = False) -> None:
        """Cases keep arriving (and old ones progress) for ``minutes`` of simulated time.

        ``own_connection``: use a connection of its own (to run in another thread).
        """
        db = connect(self.url) if own_connection else self.db
        try:
            sim = Simulator.open(db, rate_per_min=1.0, office_hours=False)
            clock = FakeClock(max(start, sim.position or start), 120)
            sim.run(clock.now, clock.sleep, speed=120, duration=timedelta(minutes=minutes))
        finally:
            if own_connection:
                db.close()

    def expected(self) -> Counter[bytes]:
        """The events the database's current rows mean (no mapping errors expected)."""
        events = map_database(self.db.conn, self.profile)
        assert [e.body for e in events if e.is_error] == []
        return Counter(canonical({"type": e.type, "ts": e.ts, "body": e.body}) for e in events)


def records(outbox: Outbox) -> list[Record]:
    """Everything in the outbox, parsed."""
    return [Record.parse(c.data) for c in outbox.read(0, 10**9)]


def captured(outbox: Outbox, *, types: str = "case.") -> Counter[bytes]:
    """The outbox's case events as comparable bytes."""
    return Counter(canonical({"type": r.type, "ts": r.ts, "body": r.body})
                   for r in records(outbox) if r.type.startswith(types))


def fixed_now() -> datetime:
    return CAPTURED_AT


def execute(db: Database, sql: str, params: tuple[Any, ...] = ()) -> None:
    db.execute(sql, params).close()
    db.commit()
