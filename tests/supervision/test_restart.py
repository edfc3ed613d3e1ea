"""Hub restart: nothing raised twice, nothing due during the downtime missed, actions kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from hub.store import Store
from tests.supervision.helpers import Clock, Feed, service


def q(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_restart_neither_repeats_nor_misses_a_card(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    store = Store(db)
    feed = Feed(store)
    clock = Clock("2026-09-24T10:01")
    feed.accept("C1", "2026-09-24T10:00")  # due 10-09: R1 10-09, R2 10-10 (督办 until 10-14), R3 10-15
    feed.accept("C2", "2026-09-21T10:00", limit=3)
    feed.complete("C2", "2026-09-22T16:00", recorded="2026-09-22T16:00")
    feed.accept("C3", "2026-09-24T10:05", limit=20, statutory=20)
    feed.flush()
    first = service(db, clock)
    first.step()
    clock.set("2026-10-09T08:00")  # the due date: a reminder (raised only while it still helps)
    first.step()
    clock.set("2026-10-10T09:00")
    first.step()
    assert sorted(r for (r,) in q(db, "SELECT rule FROM cards")) == ["R1", "R2"]
    first.stop()

    # Hub down until 10-16; meanwhile C3 was completed and C2 (settled long ago) got a bad rating.
    feed.complete("C3", "2026-10-13T11:00")
    feed.event("rated", "C2", "2026-10-14T09:00", level=5, channel="app")
    feed.flush()
    clock.set("2026-10-16T08:00")
    events: list[tuple[str, dict[str, Any]]] = []
    second = service(db, clock)
    second.listeners.append(lambda kind, data: events.append((kind, dict(data))))
    assert second.restored is not None and second.restored.cases_replayed == 2  # C1, C3: C2 is settled
    second.step()  # the two records of the downtime are old: ticks wait until the stream is quiet
    assert q(db, "SELECT COUNT(*) FROM cards WHERE rule = 'R3'") == [(0,)]
    clock.advance(minutes=1)
    second.step()
    cards = q(db, "SELECT rule, COUNT(*) FROM cards GROUP BY rule ORDER BY rule")
    assert cards == [("R1", 1), ("R2", 1), ("R3", 1)]  # the escalation due on 10-15, raised once
    assert [d["rule"] for k, d in events if k == "card.raised"] == ["R3"]
    assert q(db, "SELECT case_id, status, outcome FROM cases ORDER BY case_id") == [
        ("C1", "red", None), ("C2", "completed", "early"), ("C3", "completed", "early")]
    assert q(db, "SELECT case_id, level, dept_code, window_id FROM case_ratings") == [("C2", 5, "D01", "W01")]
    assert q(db, "SELECT active FROM cases WHERE case_id = 'C2'") == [(1,)]  # a bad rating to rectify
    second.stop()

    third = service(db, clock)
    events.clear()
    third.listeners.append(lambda kind, data: events.append((kind, dict(data))))
    third.step()
    clock.set("2026-10-16T09:00")
    third.step()
    assert q(db, "SELECT COUNT(*), COUNT(DISTINCT key) FROM cards") == [(3, 3)]
    assert [k for k, _ in events if k == "card.raised"] == []
    clock.set("2026-11-06T00:00:05")  # 15 G after the rating on 10-14: R11, for the replayed C2
    third.step()
    assert q(db, "SELECT rule, case_id, dept_code FROM cards WHERE rule = 'R11'") == [("R11", "C2", "D01")]
    third.stop()
    store.close()


def test_a_rectified_card_stays_rectified_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    store = Store(db)
    feed = Feed(store)
    clock = Clock("2026-09-24T10:01")
    feed.accept("C1", "2026-09-24T10:00")
    feed.flush()
    first = service(db, clock)
    first.step()
    clock.set("2026-10-10T09:00")
    first.step()
    (card_id,) = q(db, "SELECT card_id FROM cards WHERE rule = 'R2'")[0]
    first.act(card_id, "supervise", "monitor", "", clock())
    first.act(card_id, "appeal", "dept", "材料已于十月八日补齐", clock())
    first.act(card_id, "uphold", "monitor", "理由不成立", clock())
    first.act(card_id, "rectify", "dept", "", clock())
    first.stop()
    clock.set("2026-10-20T08:00")  # the 督办 deadline (restarted on uphold) is long past
    second = service(db, clock)
    second.step()
    assert q(db, "SELECT state FROM cards WHERE card_id = ?", card_id) == [("rectified",)]
    assert q(db, "SELECT COUNT(*) FROM cards WHERE escalates = ?", card_id) == [(0,)]
    assert q(db, "SELECT COUNT(*) FROM card_actions WHERE card_id = ?", card_id) == [(4,)]
    second.act(card_id, "close", "monitor", "", clock())
    assert q(db, "SELECT state FROM cards WHERE card_id = ?", card_id) == [("closed",)]
    second.stop()
    store.close()


def test_restart_reloads_the_cards_as_they_were(tmp_path: Path) -> None:
    """The engine after a restart holds the same cards as before it: open ones with their 督办
    state and people's actions, and the cards closed as recorded of the replayed cases (a late fact
    may still retract them), none raised again."""
    db = tmp_path / "hub.sqlite"
    store = Store(db)
    feed = Feed(store)
    clock = Clock("2026-09-24T10:01")
    feed.accept("C1", "2026-09-24T10:00")  # due 10-09: R2 at 10-10, acted on by people
    feed.flush()
    first = service(db, clock)
    first.step()
    clock.set("2026-10-10T09:00")
    # C2 (due 09-29) was completed late on 10-08; the agent was cut off and delivers it now
    feed.accept("C2", "2026-09-28T10:00", limit=1, statutory=None)
    feed.complete("C2", "2026-10-08T15:00")
    feed.flush()
    first.step()
    clock.advance(minutes=1)
    first.step()
    (r2,) = q(db, "SELECT card_id FROM cards WHERE rule = 'R2' AND case_id = 'C1'")[0]
    first.act(r2, "supervise", "monitor", "", clock())
    first.act(r2, "appeal", "dept", "材料已于十月八日补齐", clock())
    assert q(db, "SELECT case_id, state, historical FROM cards WHERE rule = 'R2' ORDER BY case_id") == [
        ("C1", "appealed", 0), ("C2", "closed", 1)]  # C2's card: closed as recorded, historical
    before = dict(first.feeder.sup.cards)
    stored = q(db, "SELECT card_id, state, raised_at, deadline, json FROM cards ORDER BY card_id")
    first.stop()

    second = service(db, clock)
    raised: list[dict[str, Any]] = []
    second.listeners.append(lambda kind, data: raised.append(dict(data)) if kind == "card.raised" else None)
    assert dict(second.feeder.sup.cards) == before  # the same cards, whole (history, raised_at, deadline)
    clock.advance(minutes=1)
    second.step()
    assert raised == []
    assert q(db, "SELECT card_id, state, raised_at, deadline, json FROM cards ORDER BY card_id") == stored
    # a fact that shows C2 was never late (a 补正 paused its clock 09-29..10-08) reaches the hub
    feed.event("supplement_requested", "C2", "2026-09-29T09:00", recorded="2026-10-10T09:05")
    feed.event("supplement_received", "C2", "2026-10-08T09:00", recorded="2026-10-10T09:05")
    feed.flush()
    clock.advance(minutes=1)
    second.step()
    assert q(db, "SELECT state FROM cards WHERE rule = 'R2' AND case_id = 'C2'") == [("withdrawn",)]
    second.stop()
    store.close()
