"""A backlog is captured in event-time order across tables (real SQLite), and a crash in the middle
of a window split over several outbox transactions neither loses nor doubles an event."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from agent.capture import CaptureRunner, connect_source, install
from agent.capture.backfill import BackfillSettings, event_time, in_time_order
from agent.mapping import load_profile
from agent.mapping.engine import Event
from agent.outbox import Outbox
from simulator.db import connect
from simulator.engine import Simulator, initialise
from tests.mapping.capture_support import NOW, PROFILES, Department, captured, fixed_now, records


class Crash(Exception):
    """The agent died between two transactions of a window."""


class CrashingOutbox:
    """The real outbox, except that transaction number ``crash_at`` is rolled back by a crash."""

    def __init__(self, outbox: Outbox, crash_at: int):
        self.outbox, self.crash_at, self.calls = outbox, crash_at, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.outbox, name)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        self.calls += 1
        with self.outbox.transaction() as tx:
            yield tx
            if self.calls == self.crash_at:
                raise Crash(f"crash in transaction {self.calls}")


def _empty_department(tmp_path: Path) -> Department:
    url = f"sqlite:///{tmp_path / 'dept.sqlite'}"
    db = connect(url, create=True)
    initialise(db, "reference", seed=8, departments=["SCJG", "JTYS"], now=NOW)
    return Department(url, "reference", db, load_profile(PROFILES / "reference.yaml"))


def _install(dept: Department) -> None:
    src = connect_source(dept.url)
    try:
        install(src, dept.profile)
    finally:
        src.close()


def _department(tmp_path: Path) -> Department:
    """A reference-schema department with 8 days of history, then the capture triggers (the
    history is read as a snapshot)."""
    dept = _empty_department(tmp_path)
    Simulator.open(dept.db).backfill(8, NOW)
    _install(dept)
    return dept


def _department_after_start(tmp_path: Path, outbox: Outbox) -> Department:
    """Triggers on empty tables, capture caught up on them, then 8 days of history written (the
    history is a backlog in the change table)."""
    dept = _empty_department(tmp_path)
    _install(dept)
    runner = _runner(dept, outbox)
    runner.drain()
    runner.close()
    Simulator.open(dept.db).backfill(8, NOW)
    return dept


def _runner(dept: Department, outbox: Any, **options: Any) -> CaptureRunner:
    return CaptureRunner(dept.profile, dept.url, outbox, name="t", mode="trigger", now=fixed_now,
                         rng=random.Random(1), **options)


def _times(outbox: Outbox) -> list[float]:
    return [datetime.fromisoformat(r.ts).timestamp() for r in records(outbox)
            if not r.type.startswith("agent.")]


def _table_order_is_out_of_time(dept: Department) -> bool:
    """Whether reading the tables one after another would deliver facts out of time order (the
    situation the window exists for: else the test would prove nothing)."""
    from tests.mapping.rows import map_database

    times = [event_time(e) for e in map_database(dept.db.conn, dept.profile)]
    return times != sorted(times)


def test_events_sort_by_the_time_they_happened_and_keep_ties() -> None:
    events = [Event("b", "2026-11-02T09:00:00+08:00", {"n": 1}),
              Event("a", "2026-11-01T09:00:00+08:00", {"n": 2}),
              Event("c", "2026-11-02T01:00:00+00:00", {"n": 3}),  # 09:00 +08:00: a tie with b
              Event("d", "not a time", {"n": 4}),
              Event("e", "2026-10-31T23:00:00+08:00", {"n": 5})]
    assert [e.type for e in in_time_order(events)] == ["e", "a", "b", "c", "d"]


@pytest.mark.parametrize("backlog", ["snapshot", "changes"])
def test_a_backlog_is_captured_in_event_time_order_across_tables(tmp_path: Path,
                                                                 backlog: str) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite", "a1", synchronous="NORMAL")
    dept = _department(tmp_path) if backlog == "snapshot" else _department_after_start(tmp_path, outbox)
    assert _table_order_is_out_of_time(dept)
    runner = _runner(dept, outbox)
    assert runner.drain() > 0
    assert captured(outbox) == dept.expected()  # everything, exactly once
    times = _times(outbox)
    assert len(times) > 500 and times == sorted(times)
    assert runner.capture is not None and runner.capture.backfill.windows >= 1
    assert not runner.backfilling and runner.health()["backfill"] is False
    assert runner.backfill_seq == outbox.head_seq  # the agent is catching up until this is acked
    runner.close()
    dept.db.close()
    outbox.close()


def test_live_changes_after_the_backlog_keep_their_batches(tmp_path: Path) -> None:
    dept = _department(tmp_path)
    outbox = Outbox(tmp_path / "outbox.sqlite", "a1", synchronous="NORMAL")
    runner = _runner(dept, outbox, backfill=BackfillSettings(lag_s=3600))
    runner.drain()
    assert runner.capture is not None
    windows = runner.capture.backfill.windows
    dept.live(30)  # fewer changes than a batch, and recent: live polls, no window
    runner.drain()
    assert runner.capture.backfill.windows == windows and not runner.backfilling
    assert captured(outbox) == dept.expected()
    runner.close()
    dept.db.close()
    outbox.close()


@pytest.mark.parametrize("crash_at", [2, 3])
def test_a_crash_inside_a_window_loses_and_doubles_nothing(tmp_path: Path, crash_at: int) -> None:
    dept = _department(tmp_path)
    path = tmp_path / "outbox.sqlite"
    settings = BackfillSettings(chunk=300)  # a window in several transactions
    outbox = Outbox(path, "a1", synchronous="NORMAL")
    runner = _runner(dept, CrashingOutbox(outbox, crash_at), backfill=settings)
    with pytest.raises(RuntimeError, match="crash in transaction"):
        runner.drain()
    runner.close()
    partial = outbox.head_seq
    assert 0 < partial  # the first chunks of the window were committed …
    assert outbox.cursor("capture:t:changes") is None  # … but not the position
    outbox.close()

    outbox = Outbox(path, "a1", synchronous="NORMAL")  # the agent restarts
    runner = _runner(dept, outbox, backfill=settings)
    runner.drain()
    runner.close()
    assert captured(outbox) == dept.expected()  # nothing lost, nothing doubled
    times = _times(outbox)
    assert times == sorted(times)  # the repeated window went on where the crash stopped it
    dept.db.close()
    outbox.close()


def test_watermark_capture_reads_its_first_backlog_in_event_time_order(tmp_path: Path) -> None:
    dept = _empty_department(tmp_path)
    Simulator.open(dept.db).backfill(8, NOW)
    outbox = Outbox(tmp_path / "outbox.sqlite", "a1", synchronous="NORMAL")
    runner = CaptureRunner(dept.profile, dept.url, outbox, name="t", mode="watermark", now=fixed_now,
                           rng=random.Random(1), state_dir=tmp_path)
    runner.drain()
    assert captured(outbox) == dept.expected()
    times = _times(outbox)
    assert len(times) > 500 and times == sorted(times)
    assert runner.capture is not None and runner.capture.backfill.windows >= 1
    assert not runner.backfilling
    runner.close()
    dept.db.close()
    outbox.close()
