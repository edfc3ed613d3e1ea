"""The monitoring room end to end in Debian's Chromium: a real broker, hub and agent as processes.

A monitor signs in and watches the overview wall; records appended to the agent's outbox
(``agent.cli emit``) travel signed over MQTT into the hub, the supervision raises a card, and the
wall changes without a reload. Then a case page (timeline with record hashes, verified), a card
acted on by the monitor and by the department, the monthly report downloaded as PDF and Excel,
and the links page. Every step's screenshot goes to the run's artifacts (a temporary folder);
``make screenshots`` also refreshes ``docs/screenshots/{overview,case,links}.png``.
Any console error or CSP violation fails the test (``watched``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from simulator.cluster import LocalCluster
from tests.browser.conftest import sign_in
from tests.support.screenshots import keep_screenshot
from tests.support.wait import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.slow]

AGENT = "agent-hall1"
AGENT2 = "agent-hall2"  # stopped before the links page, to show an offline agent
PASSWORD = "live test password 1"
USERS = {"monitor1": ("monitor", None), "dept1": ("department", "D01"), "admin1": ("admin", None)}
CST = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    root = tmp_path_factory.mktemp("live")
    cluster = LocalCluster(root, [AGENT, AGENT2], site_id="hall1")
    cluster.setup()
    for username, (role, dept) in USERS.items():
        argv = [sys.executable, "-m", "hub.cli", "user", "add", "--data", str(cluster.hub_dir),
                "--username", username, "--role", role, "--password", PASSWORD]
        if dept:
            argv += ["--dept-code", dept]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
    try:
        cluster.start_broker()
        cluster.start_hub()
        cluster.start_agent(AGENT)
        cluster.start_agent(AGENT2)
        wait_until(lambda: _answers(base(cluster) + "/login"), 60,
                   message=f"the hub's web server ({cluster.http_port})")
        yield cluster
    finally:
        cluster.stop_all()


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a local test server
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def base(cluster: LocalCluster) -> str:
    return f"http://127.0.0.1:{cluster.http_port}"


def emit(cluster: LocalCluster, type_: str, body: dict[str, Any]) -> None:
    config = cluster.agent_dir(AGENT) / "agent.yaml"
    subprocess.run([sys.executable, "-m", "agent.cli", "emit", "--config", str(config), "--type", type_,
                    "--body", json.dumps(body, ensure_ascii=False)], check=True, capture_output=True, timeout=60)


def accepted(case_id: str) -> dict[str, Any]:
    return {"case_id": case_id, "item_code": "IT-LIVE-01", "item_name": "食品经营许可", "dept_code": "D01",
            "dept_name": "市市场监督管理局", "accepted_at": datetime.now(CST).isoformat(timespec="seconds"),
            "case_kind": 2, "promised_limit": {"value": 10, "unit": "G"},
            "statutory_limit": {"value": 20, "unit": "G"}, "window_id": "W01", "staff_id": "S0001",
            "staff_name": "王伟", "applicant_name": "测试申请人"}


def completed_with_fee(case_id: str) -> dict[str, Any]:
    """办结 charging a fee on a no-fee item: rule R4 raises a red card on ingest."""
    return {"case_id": case_id, "at": datetime.now(CST).isoformat(timespec="seconds"), "result_code": 6,
            "fee_charged_fen": 5000}


RUN = str(int(time.time()))
CASE = f"LIVE{RUN}A"
FEE = f"LIVE{RUN}F"


def figure(page: Any, name: str) -> str:
    return str(page.text_content(f'[data-figure="{name}"]') or "").strip()


def test_the_wall_follows_new_records_without_a_reload(live: LocalCluster, watched: Any, artifacts: Path) -> None:
    w = watched()
    sign_in(w.page, base(live), "monitor1", PASSWORD)
    w.page.goto(base(live) + "/overview")
    w.page.wait_for_selector("#live-state.on")
    assert figure(w.page, "accepted_today") != "—", "the supervision engine is plugged in"
    before = int(figure(w.page, "accepted_today"))
    w.page.evaluate("window.__stayed = true")  # gone if the page reloaded
    emit(live, "case.accepted", accepted(CASE))
    wait_until(lambda: figure(w.page, "accepted_today") == str(before + 1), 20,
               message="the wall's 'accepted today' to count the new case")
    emit(live, "case.accepted", {**accepted(FEE), "fee_standard_fen": 0})
    started = time.monotonic()
    emit(live, "case.completed", completed_with_fee(FEE))
    w.page.wait_for_selector(f'#feed li[data-case-id="{FEE}"]', timeout=20_000)
    took = time.monotonic() - started
    assert w.page.evaluate("window.__stayed === true"), "updated in place, not reloaded"
    assert int(figure(w.page, "records_live")) >= 3
    w.page.wait_for_timeout(1500)  # let the highlight of the new card fade for the picture
    shot = artifacts / "overview.png"
    w.page.screenshot(path=str(shot))
    keep_screenshot(shot, "overview.png")
    (artifacts / "timing.json").write_text(json.dumps({"refusal_to_wall_s": round(took, 3)}))


def test_a_case_page_shows_its_verified_timeline(live: LocalCluster, watched: Any, artifacts: Path) -> None:
    w = watched()
    sign_in(w.page, base(live), "monitor1", PASSWORD)
    w.page.goto(base(live) + "/cases")
    w.page.fill("input[name=q]", FEE)
    with w.page.expect_navigation():
        w.page.click("#case-filters button[type=submit]")
    with w.page.expect_navigation():
        w.page.click(f'#cases-table a[href="/cases/{FEE}"]')
    timeline = str(w.page.text_content("#timeline"))
    # each record by its name (受理, 办结), never by its type string (case.accepted)
    assert "受理" in timeline and "办结" in timeline and "case.accepted" not in timeline
    assert timeline.count("已校验") == 2 and "校验失败" not in timeline, "both records verified"
    digest = w.page.get_attribute("#timeline code.hash", "title")
    assert digest is not None and len(digest) == 64
    clock = str(w.page.text_content("#clock"))
    assert "10 个工作日" in clock and "提前办结" in clock, "the clock: limit and outcome"
    assert "R4" in str(w.page.text_content("main")), "the case's cards"
    shot = artifacts / "case.png"
    w.page.screenshot(path=str(shot), full_page=True)
    keep_screenshot(shot, "case.png")


def test_monitor_and_department_act_on_the_card(live: LocalCluster, watched: Any, artifacts: Path) -> None:
    monitor = watched()
    sign_in(monitor.page, base(live), "monitor1", PASSWORD)
    monitor.page.goto(base(live) + f"/cards?case={FEE}&rule=R4")
    with monitor.page.expect_navigation():
        monitor.page.click("#cards-table tr[data-card] a[href^='/cards/']")
    card_url = monitor.page.url
    monitor.page.fill(".action-supervise textarea", "请三个工作日内退还违规收取的费用")
    with monitor.page.expect_navigation():
        monitor.page.click(".action-supervise button")
    assert "已督办" in str(monitor.page.text_content(".wall-head"))

    dept = watched()
    sign_in(dept.page, base(live), "dept1", PASSWORD)
    dept.page.goto(card_url)
    dept.page.fill(".action-respond textarea", "已退还多收费用")
    with dept.page.expect_navigation():
        dept.page.click(".action-respond button")
    dept.page.fill(".action-rectify textarea", "费用已退还申请人")
    with dept.page.expect_navigation():
        dept.page.click(".action-rectify button")
    assert "已整改" in str(dept.page.text_content(".wall-head"))
    dept.page.screenshot(path=str(artifacts / "card.png"), full_page=True)

    admin = watched()
    sign_in(admin.page, base(live), "admin1", PASSWORD)
    admin.page.goto(base(live) + "/admin/audit")
    audit = str(admin.page.text_content("main"))
    assert "card.supervise" in audit and "card.respond" in audit and "card.rectify" in audit


def test_the_monthly_report_downloads(live: LocalCluster, watched: Any, artifacts: Path) -> None:
    w = watched()
    sign_in(w.page, base(live), "monitor1", PASSWORD)
    month = datetime.now(CST).strftime("%Y-%m")
    w.page.goto(base(live) + f"/reports?month={month}")
    assert "暂无月报" not in str(w.page.text_content("main"))
    for selector, magic, name in (("#download-pdf", b"%PDF", "report.pdf"), ("#download-xlsx", b"PK", "report.xlsx")):
        with w.page.expect_download() as info:
            w.page.click(selector)
        path = artifacts / name
        info.value.save_as(str(path))
        assert path.read_bytes().startswith(magic), name
    w.page.screenshot(path=str(artifacts / "reports.png"), full_page=True)


def test_links_page(live: LocalCluster, watched: Any, artifacts: Path) -> None:
    w = watched()
    sign_in(w.page, base(live), "monitor1", PASSWORD)
    w.page.goto(base(live) + "/links")
    w.page.wait_for_selector(f'tr[data-agent="{AGENT2}"].row-online', timeout=30_000)
    live.agents[AGENT2].stop()
    w.page.wait_for_selector(f'tr[data-agent="{AGENT2}"].row-offline', timeout=60_000)  # live, no reload
    rows = w.page.eval_on_selector_all("#links-table tbody tr[data-agent]", "rows => rows.map(r => r.dataset.agent)")
    assert rows == [AGENT2, AGENT], "offline agents come first"
    w.page.wait_for_selector(f'tr[data-agent="{AGENT}"].row-online')
    w.page.wait_for_function(  # the next heartbeat brings the RTT, live
        f"() => /ms/.test(document.querySelector('tr[data-agent=\"{AGENT}\"] td:nth-child(5)').textContent)",
        timeout=30_000)
    w.page.click(f'button[data-history="{AGENT}"]')
    w.page.wait_for_selector("#history-chart canvas")
    shot = artifacts / "links.png"
    w.page.screenshot(path=str(shot), full_page=True)
    keep_screenshot(shot, "links.png")
