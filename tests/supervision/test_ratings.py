"""差评整改 at the hub: a ``case.rating_rectified`` record from an agent puts the rating right in the
hub's tables (what the report's rectification rate counts) and stops R11."""

from __future__ import annotations

from pathlib import Path

from hub.store import Store
from tests.supervision.helpers import Clock, Feed, query, service, ts


def test_a_rectified_bad_rating_raises_no_r11_and_counts_as_rectified(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    store = Store(db)
    feed = Feed(store)
    clock = Clock("2026-10-13T09:00")
    for case_id in ("C1", "C2"):
        feed.accept(case_id, "2026-09-24T10:00")
        feed.complete(case_id, "2026-10-08T10:00")
        feed.event("rated", case_id, "2026-10-12T10:00", level=5, channel="app")
    feed.flush()
    svc = service(db, clock)
    svc.step()
    clock.set("2026-10-20T10:05")
    feed.event("rating_rectified", "C1", "2026-10-20T10:00", rating_at=ts("2026-10-12T10:00"),
               measure="已电话回访申请人并致歉", handler="王敏")
    feed.flush()
    svc.step()
    clock.set("2026-11-03T00:00:05")  # 15 G after the ratings of 10-12
    svc.step()
    clock.advance(minutes=1)
    svc.step()
    assert query(db, "SELECT case_id, rectified_at IS NOT NULL FROM case_ratings ORDER BY case_id") == [
        ("C1", 1), ("C2", 0)]
    assert query(db, "SELECT rule, case_id FROM cards WHERE rule = 'R11'") == [("R11", "C2")]
    svc.stop()
    store.close()
