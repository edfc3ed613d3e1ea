"""The event-time hold of ticks, the status heap, and letting go of settled cases."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from hub.store import Store
from hub.supervision.timing import Hold, StatusClock
from tests.supervision.helpers import Clock, Feed, at, query, service


def test_hold_follows_a_catching_up_stream_and_lets_go() -> None:
    hold = Hold(lag=timedelta(minutes=10), quiet_s=30, max_hold_s=600)
    now = at("2026-11-20T10:00")
    wall = now.timestamp()
    assert hold.effective(now, wall) == now
    assert not hold.saw(("a", "s"), now - timedelta(seconds=3), now, wall)  # live record
    assert hold.effective(now, wall) == now
    old = at("2026-11-02T09:00")
    assert hold.saw(("b", "s"), old, now, wall)
    assert hold.effective(now, wall) == old and hold.holding(now, wall)
    later = at("2026-11-05T09:00")
    hold.saw(("b", "s"), later, now + timedelta(seconds=10), wall + 10)
    assert hold.effective(now + timedelta(seconds=20), wall + 20) == later
    assert hold.effective(now + timedelta(seconds=45), wall + 45) == now + timedelta(seconds=45)  # quiet
    for i in range(0, 700, 20):  # a stream that never catches up holds at most max_hold_s
        hold.saw(("b", "s"), later, now, wall + i)
    assert hold.effective(now, wall + 690) == now


def test_status_clock_pops_only_what_is_due() -> None:
    clock = StatusClock()
    clock.set("A", at("2026-11-03"))
    clock.set("B", at("2026-11-05"))
    clock.set("A", at("2026-11-04"))  # rescheduled: the old entry is stale
    clock.set("C", at("2026-11-01"))
    clock.set("C", None)
    assert clock.pop_due(at("2026-11-03T12:00")) == []
    assert clock.pop_due(at("2026-11-04")) == ["A"]
    assert len(clock) == 1 and clock.pop_due(at("2026-12-01")) == ["B"]


def test_settled_cases_are_forgotten_and_reread_when_a_record_arrives(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    store = Store(db)
    feed = Feed(store)
    clock = Clock("2026-11-02T10:01")
    feed.accept("C1", "2026-11-02T10:00")
    feed.complete("C1", "2026-11-03T10:00", recorded="2026-11-02T10:00")
    feed.flush()
    svc = service(db, clock)
    svc.step()
    clock.set("2026-11-20T09:00")
    assert svc.housekeeping() == 1 and "C1" not in svc.feeder.sup.cases
    feed.event("rated", "C1", "2026-11-20T08:59", level=4, channel="sms")
    feed.flush()
    svc.step()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT level, dept_code, staff_id FROM case_ratings").fetchall() == [(4, "D01", "S01")]
    assert conn.execute("SELECT status, active, bad_rating_open FROM cases").fetchone() == ("completed", 1, 1)
    assert conn.execute("SELECT COUNT(*) FROM cards").fetchone() == (0,)
    conn.close()
    svc.stop()
    store.close()


def test_an_agent_that_says_it_is_catching_up_holds_the_clock_even_while_its_stream_pauses() -> None:
    hold = Hold(lag=timedelta(minutes=10), quiet_s=30, max_hold_s=600, max_catch_up_s=900)
    now = at("2026-11-20T10:00")
    wall = now.timestamp()
    catching = hold.catching_up(frozenset({"a"}), wall)
    assert hold.effective(now, wall, catching) is None  # nothing delivered yet: do not tick at all
    old = at("2026-09-01T09:00")
    hold.saw(("a", "s"), old, now, wall)
    later = wall + 120  # quiet for two minutes: still catching up, by its own word
    assert hold.effective(now, later, hold.catching_up(frozenset({"a"}), later)) == old
    assert hold.holding(now, later, frozenset({"a"}))
    done = wall + 130  # it says it is done: a quiet stream holds nothing
    assert hold.effective(now, done, hold.catching_up(frozenset(), done)) == now
    stuck = wall + 1000  # an agent that never finishes holds at most max_catch_up_s
    hold.catching_up(frozenset({"a"}), wall + 140)
    assert hold.catching_up(frozenset({"a"}), stuck + 140) == frozenset()


def test_no_tick_while_stored_records_wait_to_be_consumed(tmp_path: Path) -> None:
    """The store holds the completion that prevents a card, but the supervision has not read it
    yet: it must not tick past what it has read (a card it would withdraw a moment later)."""
    from dataclasses import replace

    from tests.supervision.helpers import FAST

    db = tmp_path / "hub.sqlite"
    store = Store(db)
    feed = Feed(store)
    clock = Clock("2026-11-20T10:00")
    # nothing counts as lagging here: only the supervision's own backlog can hold the ticks
    options = replace(FAST, chunk=2, max_chunks_per_step=1, lag=timedelta(days=3650))
    feed.accept("C1", "2026-11-10T10:00", limit=3)  # due 11-13
    feed.event("step", "C1", "2026-11-11T10:00", step_name="审核", action="通过")
    feed.complete("C1", "2026-11-12T10:00")  # in time, third in the store
    feed.flush()
    svc = service(db, clock, options=options)
    try:
        assert svc.step() is True  # two of three records read: behind, so no tick
        assert svc.holding
        assert query(db, "SELECT COUNT(*) FROM cards") == [(0,)]
        svc.step()
        svc.step()
        assert not svc.holding
        assert query(db, "SELECT rule, state FROM cards") == []  # completed in time: nothing to say
    finally:
        svc.stop()
        store.close()

