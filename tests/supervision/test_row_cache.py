"""The service reuses the case rows it wrote (no read-back) only while nobody else wrote the tables."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.store import Store
from hub.supervision.cli import rejudge_store
from tests.supervision.helpers import Clock, Feed, query, service


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Path, Feed, Clock]]:
    db = tmp_path / "hub.sqlite"
    store = Store(db)
    yield db, Feed(store), Clock("2026-09-24T10:01")
    store.close()


def _selects_of_cases(conn: sqlite3.Connection) -> list[str]:
    seen: list[str] = []
    conn.set_trace_callback(lambda sql: seen.append(sql) if sql.startswith("SELECT case_id, dept_code") else None)
    return seen


def test_a_case_s_next_record_finds_the_row_written_before_without_reading_it(env: tuple[Path, Feed, Clock]) -> None:
    db, feed, clock = env
    feed.accept("C1", "2026-09-24T10:00")
    feed.flush()
    svc = service(db, clock)
    svc.step()
    conn = svc._conn
    assert conn is not None
    selects = _selects_of_cases(conn)
    feed.complete("C1", "2026-09-25T09:00")
    feed.flush()
    clock.set("2026-09-25T09:01")
    svc.step()
    assert selects == []  # the row came from the service's own last write
    assert query(db, "SELECT status, completed_day, outcome, last_record_id FROM cases") == [
        ("completed", "2026-09-25", "early", 2)]
    assert query(db, "SELECT day, metric, n FROM sup_daily WHERE metric LIKE 'completed%' ORDER BY metric") == [
        ("2026-09-25", "completed", 1), ("2026-09-25", "completed_early", 1)]
    svc.stop()


def test_a_write_by_anyone_else_makes_the_service_read_the_rows_again(env: tuple[Path, Feed, Clock]) -> None:
    db, feed, clock = env
    feed.accept("C1", "2026-09-24T10:00")
    feed.flush()
    svc = service(db, clock)
    svc.step()
    conn = svc._conn
    assert conn is not None
    # another writer changes the table (and moves the version on, as every supervision write does)
    other = sqlite3.connect(db)
    with other:
        other.execute("UPDATE cases SET applicant_name = '李四' WHERE case_id = 'C1'")
        other.execute("UPDATE sup_state SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")
    other.close()
    selects = _selects_of_cases(conn)
    feed.complete("C1", "2026-09-25T09:00")
    feed.flush()
    clock.set("2026-09-25T09:01")
    svc.step()
    assert selects  # read back from the table, not from memory
    assert query(db, "SELECT applicant_name, status FROM cases") == [("李四", "completed")]
    svc.stop()


def test_after_a_reset_of_the_derived_tables_the_rows_are_written_anew(env: tuple[Path, Feed, Clock]) -> None:
    db, feed, clock = env
    feed.accept("C1", "2026-09-24T10:00")
    feed.flush()
    svc = service(db, clock)
    svc.step()
    feed.complete("C1", "2026-09-25T09:00")
    feed.flush()
    # the derived tables are emptied under the running service (sup_state goes with them)
    rejudge_store(db)
    clock.set("2026-09-25T09:01")
    svc.step()
    # the row is inserted again (an update of a row the service only remembered would write nothing)
    assert query(db, "SELECT case_id, status FROM cases") == [("C1", "completed")]
    svc.stop()
