"""A small month of two departments, stored and supervised for real (used by the query tests).

D01 市场监管局 (window W01, staff S01): cases A (early), B (early), C (on time, on its due date
11-09), D (overdue: due 11-09, completed 11-10, after its R2 yellow card); ratings A level 1, B
level 5 (not rectified). D02 税务局 (window W02): case E, early. All accepted on Monday
2026-11-02 with 5 G (due 2026-11-09).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.store import Store
from hub.supervision.queries import SupervisionProvider
from hub.supervision.service import SupervisorService
from tests.supervision.helpers import Clock, Feed, service


@dataclass
class Month:
    db: Path
    store: Store
    feed: Feed
    clock: Clock
    service: SupervisorService
    provider: SupervisionProvider


def _step(month: Month, when: str) -> None:
    month.feed.flush()
    month.clock.set(when)
    month.service.step()


@pytest.fixture
def month(tmp_path: Path) -> Iterator[Month]:
    db = tmp_path / "hub.sqlite"
    store = Store(db)
    feed = Feed(store)
    clock = Clock("2026-11-02T09:00")
    svc = service(db, clock)
    m = Month(db, store, feed, clock, svc, SupervisionProvider(svc, clock=clock, cache_s=0, background=False))
    for i, case in enumerate("ABCD"):
        feed.accept(case, f"2026-11-02T10:{i}0")
    feed.accept("E", "2026-11-02T11:00", dept="D02", dept_name="税务局", window="W02", staff="S02", item="I02",
                item_name="税务登记")
    _step(m, "2026-11-02T11:05")
    feed.complete("E", "2026-11-03T10:00")
    feed.complete("A", "2026-11-04T15:00")
    feed.event("rated", "A", "2026-11-04T16:00", level=1, channel="pc")
    feed.complete("B", "2026-11-05T15:00")
    _step(m, "2026-11-05T15:05")
    feed.event("rated", "B", "2026-11-06T09:00", level=5, channel="app")
    _step(m, "2026-11-06T09:05")
    feed.complete("C", "2026-11-09T16:00")
    _step(m, "2026-11-09T16:05")
    _step(m, "2026-11-10T08:00")  # D is overdue: R2
    feed.complete("D", "2026-11-10T10:00")
    _step(m, "2026-11-10T10:05")
    m.clock.set("2026-11-12T09:00")
    yield m
    svc.stop()
    store.close()
