"""The desk in the real hub process (`xiaoneng-hub run` with its own broker): a complaint registered over
the API, the hub stopped and started again, the next step continues the desk's chain on the same
stream, the supervision lists it with its clock, and `xiaoneng-hub verify` passes on the store."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.auth import connect, create_token
from simulator.cluster import LocalCluster
from tests.support.wait import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow]
CST = timezone(timedelta(hours=8))


def _hub(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub.cli", *args, "--data", str(cluster.hub_dir)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = LocalCluster(tmp_path, [], embedded_broker=True, tls=False)
    c.setup()
    for user, role, dept in (("mon", "monitor", None), ("d01", "department", "D01")):
        extra = ["--dept-code", dept] if dept else []
        assert _hub(c, "user", "add", "--username", user, "--role", role, "--password", "desk password 123",
                    *extra).returncode == 0
    try:
        yield c
    finally:
        c.stop_all()


def test_desk_chain_continues_across_a_hub_restart_and_verifies(cluster: LocalCluster) -> None:
    conn = connect(cluster.hub_dir / "hub.sqlite")
    token = create_token(conn, "mon", "desk test")[0]
    conn.close()
    base = f"http://127.0.0.1:{cluster.http_port}/api/v1"
    auth = {"Authorization": f"Bearer {token}"}

    def post(path: str, body: dict[str, Any]) -> requests.Response:
        return requests.post(base + path, json=body, headers=auth, timeout=10)

    def serving() -> bool:
        try:
            return requests.get(base + "/me", headers=auth, timeout=5).status_code == 200
        except requests.RequestException:
            return False

    filed = (datetime.now(CST) - timedelta(hours=2)).isoformat(timespec="seconds")
    cluster.start_hub()
    wait_until(serving, 30, message="the hub's web API")
    made = post("/complaints", {"target_dept": "D01", "text": "窗口推诿", "channel": "hotline", "filed_at": filed})
    assert made.status_code == 200, made.text
    first = made.json()["record"]
    assert first["seq"] == 1
    assert cluster.hub is not None
    cluster.hub.stop()

    cluster.start_hub()
    wait_until(serving, 30, message="the hub's web API after the restart")
    accepted = (datetime.now(CST) - timedelta(hours=1)).isoformat(timespec="seconds")
    step = post(f"/complaints/{made.json()['id']}/steps", {"step": "accepted", "at": accepted})
    assert step.status_code == 200, step.text
    assert (step.json()["record"]["stream"], step.json()["record"]["seq"]) == (first["stream"], 2)

    def listed() -> Any:
        items = requests.get(base + "/complaints", headers=auth, timeout=10).json()["items"]
        return items if items and items[0]["accepted_day"] else None

    items = wait_until(listed, 30, message="the supervision to list the accepted complaint")
    assert items[0]["clock"]["due_date"] and items[0]["clock"]["remaining_days"] is not None
    cluster.hub.stop()
    result = _hub(cluster, "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "records 2" in result.stdout and "校验通过" in result.stdout
