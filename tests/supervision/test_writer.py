"""The supervision's writes in their own thread: in order, bounded, settled, failures raised, and a
store consumed in many pipelined chunks ends exactly as one consumed in one chunk."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hub.store import Store
from hub.supervision.schema import connect, ensure_schema
from hub.supervision.service import ServiceOptions, SupervisorService
from hub.supervision.store import Changes, Written
from hub.supervision.writer import Writer
from tests.supervision.helpers import FAST, Clock, Feed, query

NOW = datetime(2026, 9, 24, 10, 0)


def _changes(cursor: int) -> Changes:
    changes = Changes()
    changes.cursor = cursor
    return changes


class Gate:
    """A ``write_one`` that records the cursors it was given and waits for the test to open it."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.open = threading.Event()
        self.started = threading.Event()
        self.seen: list[int | None] = []
        self.fail_at = fail_at

    def __call__(self, conn: sqlite3.Connection, changes: Changes, now: datetime) -> Written:
        self.started.set()
        assert self.open.wait(10)
        if changes.cursor == self.fail_at:
            raise sqlite3.IntegrityError("boom")
        self.seen.append(changes.cursor)
        return Written([], [])


def test_writes_commit_in_submission_order_and_settle_waits_for_them(tmp_path: Path) -> None:
    gate = Gate()
    writer = Writer(sqlite3.connect(tmp_path / "w.sqlite", check_same_thread=False), gate, depth=3)
    for cursor in (1, 2, 3):
        writer.submit(_changes(cursor), NOW)
    assert gate.started.wait(10)
    assert not writer.idle and gate.seen == []
    gate.open.set()
    writer.settle()
    assert writer.idle
    assert gate.seen == [1, 2, 3]
    assert [w[0].cursor for w in writer.take_done()] == [1, 2, 3]
    assert writer.take_done() == []
    writer.close()


def test_submit_waits_while_depth_writes_are_queued(tmp_path: Path) -> None:
    gate = Gate()
    writer = Writer(sqlite3.connect(tmp_path / "w.sqlite", check_same_thread=False), gate, depth=1)
    writer.submit(_changes(1), NOW)
    assert gate.started.wait(10)
    second = threading.Thread(target=writer.submit, args=(_changes(2), NOW))
    second.start()
    second.join(0.3)
    assert second.is_alive()  # the first write holds the only place
    gate.open.set()
    second.join(10)
    assert not second.is_alive()
    writer.settle()
    assert gate.seen == [1, 2]
    writer.close()


def test_a_failed_write_is_raised_in_the_caller_and_the_writes_behind_it_are_dropped(tmp_path: Path) -> None:
    gate = Gate(fail_at=2)
    writer = Writer(sqlite3.connect(tmp_path / "w.sqlite", check_same_thread=False), gate, depth=3)
    for cursor in (1, 2, 3):
        writer.submit(_changes(cursor), NOW)
    gate.open.set()
    with pytest.raises(sqlite3.IntegrityError):
        writer.settle()
    assert gate.seen == [1]  # 3 would have moved the cursor past 2's records
    writer.settle()  # raised once
    writer.submit(_changes(4), NOW)
    writer.settle()
    assert gate.seen == [1, 4]
    writer.close()


def _tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(db)
    try:
        out = {}
        for table in ("cases", "case_events", "cards", "sup_daily", "sup_status", "case_ratings", "sup_names"):
            where = " WHERE n != 0" if table.startswith("sup_") and table != "sup_names" else ""
            out[table] = sorted(conn.execute(f"SELECT * FROM {table}{where}").fetchall(), key=repr)
        out["cases_fts"] = conn.execute("SELECT rowid, text FROM cases_fts ORDER BY rowid").fetchall()
        # (a count that went up and down again between two chunks leaves a row of 0)
        out["cursor"] = conn.execute("SELECT value FROM sup_state WHERE key = 'cursor'").fetchall()
        return out
    finally:
        conn.close()


def test_a_store_consumed_in_many_pipelined_chunks_ends_as_in_one(tmp_path: Path) -> None:
    source = tmp_path / "source.sqlite"
    store = Store(source)
    feed = Feed(store)
    for n in range(40):
        day = 1 + n % 20
        feed.accept(f"C{n:03d}", f"2026-09-{day:02d}T10:00", limit=3 if n % 3 else 1, dept=f"D{n % 4:02d}")
    feed.flush()
    for n in range(0, 40, 2):  # completions arrive chunks later, some after their due dates
        day = 2 + n % 20 + n % 7
        feed.complete(f"C{n:03d}", f"2026-09-{min(day, 30):02d}T15:00")
        if n % 4 == 0:
            feed.event("rated", f"C{n:03d}", f"2026-09-{min(day, 30):02d}T16:00", level=5 if n % 8 else 1)
    feed.flush()
    store.close()
    results = []
    for chunk in (1000, 7):
        db = tmp_path / f"run-{chunk}.sqlite"
        shutil.copy(source, db)
        clock = Clock("2026-10-08T10:00")
        options = ServiceOptions(**{**FAST.__dict__, "chunk": chunk, "max_chunks_per_step": 1})
        svc = SupervisorService(db, clock=clock, options=options)
        svc.open()
        steps = 1
        while svc.step():
            steps += 1
        svc.stop()
        assert steps >= (2 if chunk == 7 else 1)
        results.append(_tables(db))
    one, many = results
    assert many == one
    assert len(one["cases"]) == 40 and one["cards"]  # the run had something to write


def test_a_write_by_another_connection_between_two_of_ours_makes_the_rows_be_read_again(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    store = Store(db)
    feed = Feed(store)
    feed.accept("C1", "2026-09-24T10:00")
    feed.flush()
    clock = Clock("2026-09-24T10:01")
    svc = SupervisorService(db, clock=clock, options=FAST)
    svc.open()
    svc.step()
    other = connect(db)
    ensure_schema(other)
    with other:
        other.execute("UPDATE cases SET applicant_name = '李四' WHERE case_id = 'C1'")
        other.execute("UPDATE sup_state SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")
    other.close()
    # our next write commits after theirs: the version it reads shows the gap
    feed.event("step", "C1", "2026-09-24T11:00", step_name="审查")
    feed.flush()
    clock.set("2026-09-24T11:01")
    svc.step()
    feed.complete("C1", "2026-09-25T09:00")
    feed.flush()
    clock.set("2026-09-25T09:01")
    svc.step()
    assert query(db, "SELECT applicant_name, status FROM cases") == [("李四", "completed")]
    svc.stop()
    store.close()
