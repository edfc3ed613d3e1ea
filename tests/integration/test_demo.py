"""``make demo`` keeps working: the demo, shortened, brings up hub, broker, department databases and
capturing agents, and case records captured from the simulated databases reach the hub."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cluster import free_port

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    out = subprocess.run(
        [sys.executable, "-m", "simulator.demo", "--data", str(data), "--departments", "3", "--days", "3",
         "--duration", "20", "--http-port", str(free_port())],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "hub running:  http://127.0.0.1:" in out.stdout
    assert "admin / " in out.stdout and "monitor / " in out.stdout
    assert "在线代理 online 4/4" in out.stdout  # 3 departments and the 12345 complaints system
    conn = sqlite3.connect(data / "hub" / "hub.sqlite")
    try:
        types = dict(conn.execute("SELECT type, COUNT(*) FROM records GROUP BY type").fetchall())
        quarantined = conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]
    finally:
        conn.close()
    assert types.get("case.accepted", 0) > 50, types
    assert types.get("case.completed", 0) > 0 and types.get("case.step", 0) > 0, types
    assert quarantined == 0
