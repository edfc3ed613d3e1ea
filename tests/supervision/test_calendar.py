"""Calendar data at run time: ``calendar load --data`` and the running service's reload."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from hub.cli import main
from hub.store import Store
from tests.engine.helpers import FAKE_2027
from tests.supervision.helpers import Clock, Feed, service


def test_loading_next_years_calendar_recomputes_provisional_deadlines(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = data / "hub.sqlite"
    store = Store(db)
    feed = Feed(store)
    feed.accept("C1", "2026-12-24T10:00", limit=10, statutory=10)
    feed.flush()
    clock = Clock("2026-12-24T10:05")
    svc = service(db, clock, calendar_dir=data / "calendar")
    events: list[tuple[str, dict[str, Any]]] = []
    svc.listeners.append(lambda kind, d: events.append((kind, dict(d))))
    svc.step()
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT status, due_date, due_provisional FROM cases").fetchone()
    assert row == ("provisional", "2027-01-07", 1)  # 2027 is Monday–Friday until its data arrives

    source = tmp_path / "holidays-2027.json"
    source.write_text(json.dumps(FAKE_2027, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["calendar", "load", str(source), "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert (data / "calendar" / "2027.json").is_file() and "installed" in result.output
    svc.step()  # the service notices the folder changed
    row = conn.execute("SELECT status, due_date, due_provisional FROM cases").fetchone()
    assert row == ("normal", "2027-01-09", 0)  # 01-01..01-04 off, Saturday 01-09 worked
    assert ("case.updated", {"case_id": "C1", "status": "normal", "dept_code": "D01"}) in events
    clock.set("2027-01-09T00:00:02")
    svc.step()
    assert conn.execute("SELECT rule FROM cards").fetchall() == [("R1",)]

    bad = tmp_path / "bad.json"
    bad.write_text('{"year": 2028, "days": [{"name": "x", "date": "2028-13-01", "isOffDay": true}]}')
    result = CliRunner().invoke(main, ["calendar", "load", str(bad), "--data", str(data)])
    assert result.exit_code == 1 and "2028-13-01" in result.output
    assert CliRunner().invoke(main, ["calendar", "load", str(source)]).exit_code == 2  # where to?
    conn.close()
    svc.stop()
    store.close()
