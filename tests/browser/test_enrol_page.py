"""An agent in a real hall, from the monitoring room's side, in Debian's Chromium (issue 12).

A real hub (HTTPS web UI, TLS broker, enrolment port) runs in this process. An administrator opens
the devices page, issues a one-time token for a new agent and sees the token, its expiry, the hall
command and its QR code; a monitor has no devices page. The command shown is then run as the hall
machine would (``xiaoneng-agent enroll``, a process), the agent runs, delivers records over mutual
TLS, and the administrator pushes a signed configuration from the same page: the page shows the
agent online with the configuration applied. ``make screenshots`` keeps ``devices-enrol.png`` and
``devices-enrolled.png`` for docs/agent.md.
"""

from __future__ import annotations

import re
import shlex
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.auth import connect, create_user, ensure_schema
from hub.runtime import Hub, HubOptions
from hub.webserver import WebOptions
from hub.webtls import self_issued
from tests.browser.conftest import sign_in
from tests.support.ports import free_port
from tests.support.screenshots import keep_screenshot
from tests.support.wait import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.slow]

PASSWORD = "enrol page password 1"
AGENT = "scjg-01"


@dataclass
class RealHub:
    hub: Hub
    data: Path
    url: str


@pytest.fixture()
def real_hub(tmp_path: Path) -> Iterator[RealHub]:
    data = tmp_path / "hub"
    data.mkdir()
    tls = self_issued(data, ["localhost", "127.0.0.1"])
    hub = Hub(HubOptions(data_dir=data, mqtt_port=free_port(), http_port=free_port(), supervision=False,
                         web=WebOptions(tls=tls), mqtt_tls_port=free_port(), mqtt_tls_host="127.0.0.1",
                         broker_names=("localhost",), enroll_port=free_port(), enroll_host="127.0.0.1"))
    hub.registry.add_site("hall-scjg", "市场监管局大厅")
    with closing(connect(data / "hub.sqlite")) as conn:
        ensure_schema(conn)
        create_user(conn, "admin1", PASSWORD, "admin", display_name="中心管理员")
        create_user(conn, "monitor1", PASSWORD, "monitor", display_name="值班员")
    hub.start()
    try:
        assert hub.web is not None
        yield RealHub(hub, data, f"https://localhost:{hub.web.port}")
    finally:
        hub.stop()


def _link(data: Path) -> tuple[int, int | None]:
    with closing(sqlite3.connect(f"file:{data / 'hub.sqlite'}?mode=ro", uri=True, timeout=10)) as conn:
        row = conn.execute("SELECT online, config_version FROM agent_link WHERE agent_id = ?", (AGENT,)).fetchone()
    return (0, None) if row is None else (int(row[0] or 0), row[1])


def _stored(data: Path) -> int:
    with closing(sqlite3.connect(f"file:{data / 'hub.sqlite'}?mode=ro", uri=True, timeout=10)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM records WHERE agent_id = ?", (AGENT,)).fetchone()[0])


def test_an_admin_issues_a_token_that_enrols_a_hall_agent(real_hub: RealHub, watched: Any, artifacts: Path,
                                                         tmp_path: Path) -> None:
    monitor = watched(ignore_https_errors=True)
    sign_in(monitor.page, real_hub.url, "monitor1", PASSWORD)
    assert monitor.page.locator("nav.mainnav a[href='/devices']").count() == 0
    assert monitor.page.goto(real_hub.url + "/devices").status == 403
    assert monitor.page.locator("#enrol-form").count() == 0
    assert all("403" in p for p in monitor.problems), monitor.problems  # Chromium logs the refused page
    monitor.problems.clear()

    w = watched(ignore_https_errors=True)
    page = w.page
    sign_in(page, real_hub.url, "admin1", PASSWORD)
    with page.expect_navigation():
        page.click("nav.mainnav a[href='/devices']")
    assert page.locator("#enrol-port-off").count() == 0  # the hub runs with --enroll-port
    page.select_option("#enrol-form select[name=site]", "hall-scjg")
    page.fill("#enrol-form input[name=agent]", AGENT)
    page.select_option("#enrol-form select[name=ttl]", "24h")
    with page.expect_navigation():
        page.click("#enrol-form button[type=submit]")
    issued = page.locator("#enrol-issued")
    assert issued.is_visible()
    assert page.locator("#enrol-issued svg.enrol-qr").bounding_box()["width"] >= 200  # drawn, not blocked by the CSP
    token = page.inner_text("#enrol-token").strip()
    command = page.inner_text("#enrol-command").strip()
    assert token.startswith("xn1.") and f"--token {token}" in command
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?", page.inner_text("#enrol-expires").strip())
    assert AGENT in page.inner_text("#enrol-tokens")
    issued.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "devices-enrol.png"), full_page=False)

    # The hall machine runs the command shown (as the service's user would; no sudo in a test).
    argv = shlex.split(command)
    assert argv[:3] == ["sudo", "xiaoneng-agent", "enroll"]
    hub_url = argv[argv.index("--hub") + 1]
    out = tmp_path / "hall-pc"
    enrolled = subprocess.run([sys.executable, "-m", "agent.cli", "enroll", "--hub", hub_url, "--token", token,
                               "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert enrolled.returncode == 0, enrolled.stderr
    assert f"agent {AGENT}" in enrolled.stdout
    config = yaml.safe_load((out / "agent.yaml").read_text())
    config["uplink"] = {**config.get("uplink", {}), "heartbeat_interval": 1.0}  # a quick heartbeat for the test
    (out / "agent.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    with open(tmp_path / "agent.log", "wb") as log:
        agent = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", "--config", str(out / "agent.yaml"),
                                  "--synthetic-rate", "5"], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _stored(real_hub.data) >= 3 and _link(real_hub.data)[0] == 1, 60,
                   message="the enrolled agent online with records at the hub")
        page.goto(real_hub.url + "/devices")
        assert AGENT not in page.inner_text("#enrol-tokens")  # the token is spent
        settings = tmp_path / "settings.yaml"
        settings.write_text("log_level: INFO\n")
        page.select_option("form[action='/devices/config'] select[name=target]", f"agent:{AGENT}")
        page.set_input_files("form[action='/devices/config'] input[type=file]", str(settings))
        with page.expect_navigation():
            page.click("form[action='/devices/config'] button[type=submit]")
        assert "已下发版本 1" in page.inner_text(".flash-info")
        wait_until(lambda: _link(real_hub.data)[1] == 1, 60, message="the agent's heartbeat to report version 1")
        page.goto(real_hub.url + "/devices")
        row = page.locator(f"tr:has(td > code:text-is('{AGENT}'))")
        text = row.inner_text()
        assert "在线" in text and "已应用 v1 / 已下发 v1" in text and "未同步" not in text, text
        page.screenshot(path=str(artifacts / "devices-enrolled.png"), full_page=False)
    finally:
        agent.terminate()
        agent.wait(20)
    w.check()
    keep_screenshot(artifacts / "devices-enrol.png", "devices-enrol.png")
    keep_screenshot(artifacts / "devices-enrolled.png", "devices-enrolled.png")
