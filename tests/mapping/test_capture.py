"""Capture into the outbox: every profile × backend × mode; updates, deletes, bad rows, restarts,
schema changes, crashes — each change exactly once."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from agent.capture import CaptureRunner, connect_source, install, uninstall
from agent.capture.backfill import BackfillSettings
from agent.capture.triggers import CHANGE_TABLE
from agent.outbox import Outbox
from shared.events import event_problems
from shared.record import genesis_hash, verify_links
from tests.mapping.capture_support import (
    NOW,
    PROFILES,
    Department,
    captured,
    execute,
    fixed_now,
    records,
)
from tests.simulator.servers import DIALECTS, fresh_database

KINDS = ("reference", "exchange", "flowable")
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def department(tmp_path: Path, dialect: str, kind: str, days: int = 2) -> Iterator[Department]:
    with fresh_database(dialect, tmp_path) as url:
        dept = Department.create(url, kind, days)
        try:
            yield dept
        finally:
            dept.db.close()


def _runner(dept: Department, outbox: Outbox, mode: str, **options: Any) -> CaptureRunner:
    return CaptureRunner(dept.profile, dept.url, outbox, name="t", mode=mode, now=fixed_now,
                         rng=random.Random(1), **options)


def _install(dept: Department) -> None:
    src = connect_source(dept.url)
    try:
        install(src, dept.profile)
    finally:
        src.close()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_trigger_capture_history_then_live_changes(tmp_path: Path, dialect: str,
                                                   kind: str) -> None:
    with department(tmp_path, dialect, kind) as dept:
        _install(dept)
        outbox = Outbox(tmp_path / "outbox.sqlite", "a1", synchronous="NORMAL")
        runner = _runner(dept, outbox, "trigger")
        assert runner.drain() > 0  # the history, as a snapshot
        history = captured(outbox)
        assert history == dept.expected()
        dept.live(90)  # inserts and updates through the triggers
        runner.drain()
        assert captured(outbox) == dept.expected()
        assert sum(captured(outbox).values()) > sum(history.values())
        health = runner.health()
        assert health["state"] == "ok" and health["pending_changes"] == 0
        assert health["mapping_errors_total"] == 0
        runner.step()
        runner.close()
        outbox.close()


@pytest.mark.parametrize("kind", ["reference", "exchange"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_watermark_capture_history_then_live_changes(tmp_path: Path, dialect: str,
                                                     kind: str) -> None:
    with department(tmp_path, dialect, kind) as dept:
        outbox = Outbox(tmp_path / "outbox.sqlite", "a1", synchronous="NORMAL")
        runner = _runner(dept, outbox, "watermark", state_dir=tmp_path)
        runner.drain()
        assert captured(outbox) == dept.expected()
        dept.live(90)
        runner.drain()
        assert captured(outbox) == dept.expected()
        # a deleted row is found by reconciliation
        table = "appr_rating" if kind == "reference" else "up_pro_evaluation"
        key = "id" if kind == "reference" else "CD_ID"
        victim = dept.db.query(f"SELECT MIN({key}) FROM {table}")[0][0]
        execute(dept.db, f"DELETE FROM {table} WHERE {key} = ?", (victim,))
        assert runner.capture is not None and runner.capture.reconcile() == 1  # type: ignore[union-attr]
        assert runner.capture.reconcile() == 0  # type: ignore[union-attr]
        deleted = [r.body for r in records(outbox) if r.type == "agent.row_deleted"]
        assert deleted == [{"source": table, "table": table, "key": {key: str(victim)},
                            "profile": kind}]
        runner.close()
        outbox.close()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_updates_deletes_and_bad_rows(tmp_path: Path, dialect: str) -> None:
    with department(tmp_path, dialect, "reference", days=1) as dept:
        _install(dept)
        outbox = Outbox(tmp_path / "outbox.sqlite", "a1", synchronous="NORMAL")
        runner = _runner(dept, outbox, "trigger")
        runner.drain()
        before = len(records(outbox))
        db = dept.db
        rid, case_no = db.query("SELECT id, case_no FROM appr_result ORDER BY id")[0]
        # an update that changes the meaning: a new version of the completion
        execute(db, "UPDATE appr_result SET result_reason = ?, updated_at = updated_at "
                "WHERE id = ?", ("补录：申请人撤回", rid))
        # an update that changes nothing the profile maps: no record
        execute(db, "UPDATE appr_case SET applicant_type = applicant_type WHERE id = 1")
        runner.drain()
        # a delete (had it come before the update was read, only the delete would be reported:
        # capture reads the rows' current state)
        execute(db, "DELETE FROM appr_result WHERE id = ?", (rid,))
        # a bad row, then a good one behind it
        execute(db, "INSERT INTO appr_result (case_no, result_code, finish_time, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?)",
                ("BAD-1", "99", db.ts(NOW), db.ts(NOW), db.ts(NOW)))
        execute(db, "INSERT INTO appr_rating (case_no, stars, channel, rate_time, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (case_no, 1, "pc", db.ts(NOW), db.ts(NOW), db.ts(NOW)))
        runner.drain()
        new = records(outbox)[before:]
        assert [r.type for r in new] == ["case.completed", "agent.row_deleted",
                                         "agent.mapping_error", "case.rated"]
        assert new[0].body["reason"] == "补录：申请人撤回"
        assert new[1].body["key"] == {"id": str(rid)}
        error = new[2].body
        assert (error["table"], error["column"], error["reason"]) == (
            "appr_result", "result_code", "unknown_code")
        assert error["raw"]["result_code"] == "99"
        assert new[3].body["level"] == 5  # one star: 非常不满意
        for r in new:
            assert event_problems(r.type, r.body) == []
        assert runner.health()["mapping_errors_total"] == 1
        runner.close()
        outbox.close()


def _rename(dept: Department, table: str, old: str, new: str) -> None:
    execute(dept.db, f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")


@pytest.mark.parametrize(("kind", "table", "column"), [
    ("reference", "appr_rating", "stars"), ("flowable", "ACT_HI_TASKINST", "ASSIGNEE_")])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_renamed_column_degrades_without_losing_rows(tmp_path: Path, dialect: str, kind: str,
                                                       table: str, column: str) -> None:
    with department(tmp_path, dialect, kind, days=3) as dept:
        _install(dept)
        outbox = Outbox(tmp_path / "outbox.sqlite", "a1", synchronous="NORMAL")
        runner = _runner(dept, outbox, "trigger")
        runner.drain()
        assert dept.db.query(f"SELECT COUNT(*) FROM {table}")[0][0] > 0
        _rename(dept, table, column, column + "X")
        # the department's product keeps working (here: touches every row of the table)
        execute(dept.db, f"UPDATE {table} SET {column}X = {column}X")
        for _ in range(100):
            wait = runner.step()
            if runner.state != "ok" or runner.last_consumed == 0:
                break
        assert runner.state == "degraded", runner.health()
        assert column.lower() in runner.detail.lower()
        assert wait >= 5
        assert runner.health()["state"] == "degraded"
        held = len(records(outbox))
        runner.step()
        assert len(records(outbox)) == held  # nothing skipped, nothing half-done
        _rename(dept, table, column + "X", column)
        dept.live(60)
        runner.drain()
        assert runner.state == "ok"
        assert captured(outbox) == dept.expected()
        runner.close()
        outbox.close()


def _kill_session(dept: Department, runner: CaptureRunner) -> None:
    """Break the runner's connection from outside, as a server restart does."""
    assert runner.db is not None
    if dept.db.dialect == "postgresql":
        pid = runner.db.conn.info.backend_pid
        execute(dept.db, "SELECT pg_terminate_backend(?)", (pid,))
    elif dept.db.dialect == "mysql":
        execute(dept.db, f"KILL {int(runner.db.conn.thread_id())}")
    else:
        runner.db.conn.close()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_source_restart_is_retried_with_backoff(tmp_path: Path, dialect: str) -> None:
    with department(tmp_path, dialect, "reference", days=1) as dept:
        _install(dept)
        outbox = Outbox(tmp_path / "outbox.sqlite", "a1", synchronous="NORMAL")
        outage = {"left": 0, "attempts": 0}

        def connect(url: str) -> Any:
            outage["attempts"] += 1
            if outage["left"] > 0:
                outage["left"] -= 1
                raise ConnectionRefusedError("the server is restarting")
            return connect_source(url)

        runner = _runner(dept, outbox, "trigger", backoff=(0.01, 0.04), connect=connect)
        runner.drain()
        _kill_session(dept, runner)
        outage["left"] = 4  # down for the next four connection attempts
        dept.live(60)  # the department keeps working meanwhile
        waits = [runner.step() for _ in range(5)]
        assert runner.state == "down", runner.health()
        assert runner.health()["state"] == "down"
        assert all(0 < w <= 0.04 for w in waits), waits
        assert waits[2] > waits[0] / 2  # backing off, with jitter
        runner.drain()
        assert runner.state == "ok" and outage["attempts"] >= 6
        assert captured(outbox) == dept.expected()  # resumed where it stopped
        runner.close()
        outbox.close()


def _crash_after(outbox: Outbox, appends: int) -> None:
    """Make ``outbox`` die mid-transaction (as on a kill) at its ``appends``-th append."""
    real = outbox.transaction
    left = {"n": appends}

    @contextmanager
    def transaction() -> Iterator[Any]:
        with real() as tx:
            original = tx.append

            def append(type_: str, ts: str, body: dict[str, Any]) -> int:
                left["n"] -= 1
                if left["n"] <= 0:
                    raise KeyboardInterrupt("killed")
                return original(type_, ts, body)

            setattr(tx, "append", append)  # noqa: B010 - patching one instance
            yield tx

    setattr(outbox, "transaction", transaction)  # noqa: B010


@pytest.mark.parametrize("dialect", DIALECTS)
def test_crashes_at_random_points_lose_and_double_nothing(tmp_path: Path, dialect: str) -> None:
    rng = random.Random(20261126)
    with department(tmp_path, dialect, "reference", days=1) as dept:
        _install(dept)
        path = tmp_path / "outbox.sqlite"
        dept.live(240)
        crashes = 0
        for _ in range(60):
            outbox = Outbox(path, "a1", synchronous="NORMAL")
            # a backlog is read in windows, appended in several transactions: crash inside them
            runner = _runner(dept, outbox, "trigger", backfill=BackfillSettings(window=1000, chunk=25))
            _crash_after(outbox, rng.randint(1, 120))
            try:
                runner.drain()
                break
            except KeyboardInterrupt:
                crashes += 1
            finally:
                runner.close()
                outbox.close()
            if rng.random() < 0.3:
                dept.live(20)
        assert crashes >= 3
        outbox = Outbox(path, "a1", synchronous="NORMAL")
        final = _runner(dept, outbox, "trigger")
        final.drain()
        final.close()
        assert captured(outbox) == dept.expected()
        outbox.close()


@pytest.mark.slow
@pytest.mark.parametrize("dialect", DIALECTS)
def test_agent_killed_during_a_burst_loses_and_doubles_nothing(tmp_path: Path,
                                                               dialect: str) -> None:
    """A real capture process, SIGKILLed at random moments while the department is busy."""
    rng = random.Random(7)
    with department(tmp_path, dialect, "reference", days=1) as dept:
        _install(dept)
        path = tmp_path / "outbox.sqlite"
        profile = str(PROFILES / "reference.yaml")
        burst = threading.Thread(target=dept.live, args=(600,),
                                 kwargs={"own_connection": True})
        burst.start()
        kills = 0
        try:
            while burst.is_alive() or kills < 4:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "tests.mapping.capture_worker", profile, dept.url,
                     str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
                try:
                    assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
                    time.sleep(rng.uniform(0.05, 0.6))
                finally:
                    worker.send_signal(signal.SIGKILL)
                    worker.wait(timeout=10)
                    if worker.stdout is not None:
                        worker.stdout.close()
                kills += 1
        finally:
            burst.join()
        assert kills >= 4
        outbox = Outbox(path, "a1", synchronous="NORMAL")
        try:
            assert verify_links(genesis_hash("a1", outbox.stream_id),
                                [(c.data, c.hash) for c in outbox.read(0, 10**9)]) > 0
            final = _runner(dept, outbox, "trigger")
            final.drain()
            final.close()
            assert captured(outbox) == dept.expected()
        finally:
            outbox.close()


def test_uninstall_removes_the_footprint(tmp_path: Path) -> None:
    with department(tmp_path, "sqlite", "reference", days=0) as dept:
        src = connect_source(dept.url)
        install(src, dept.profile)
        install(src, dept.profile)  # idempotent
        assert CHANGE_TABLE in dept.db.tables()
        uninstall(src, dept.profile)
        assert CHANGE_TABLE not in dept.db.tables()
        triggers = src.rows("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        assert triggers == []
        src.close()
