"""Every screen in a real Chromium against the web app with the fake provider: no script error,
no CSP violation, both languages; the wall follows the live stream; a card is acted on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveApp, sign_in
from tests.support.wait import wait_until
from tests.web.conftest import PASSWORD, USERS

pytestmark = pytest.mark.browser

SCREENS = ["/overview", "/cases", "/cases/C-1", "/cards", "/cards/K-1", "/rankings", "/rankings?kind=window",
           "/reports?month=2026-11", "/links", "/quarantine", "/devices", "/admin/users", "/admin/audit"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_screen_renders_without_script_errors(fake_hub: LiveApp, watched: Any, artifacts: Path,
                                                    lang: str) -> None:
    w = watched()
    sign_in(w.page, fake_hub.url, USERS["admin"], PASSWORD)
    w.page.goto(f"{fake_hub.url}/overview?lang={lang}")
    for path in SCREENS:
        response = w.page.goto(fake_hub.url + path)
        assert response is not None and response.status == 200, path
        w.page.wait_for_load_state("load")
        name = path.strip("/").replace("/", "_").replace("?", "_").replace("=", "-") or "home"
        w.page.screenshot(path=str(artifacts / f"{lang}-{name}.png"), full_page=True)
        w.check()
    if lang == "en":
        assert "Overview" in w.page.content()


def test_rankings_draw_both_charts(fake_hub: LiveApp, watched: Any) -> None:
    w = watched()
    sign_in(w.page, fake_hub.url, USERS["leader"], PASSWORD)
    w.page.goto(fake_hub.url + "/rankings")
    for chart in ("#bars-chart", "#trend-chart"):
        w.page.wait_for_selector(f"{chart} canvas")
    w.page.click("#rankings-table details summary")
    assert w.page.is_visible("text=R2 超期 黄牌 ×1")
    href = w.page.get_attribute("#rankings-table a.cards-link", "href") or ""
    assert re.fullmatch(r"/cards\?dept=D01&rule=R2&month=20\d\d-\d\d&standing=1", href), href


def test_wall_shows_a_new_card_from_the_stream(fake_hub: LiveApp, watched: Any) -> None:
    w = watched()
    sign_in(w.page, fake_hub.url, USERS["monitor"], PASSWORD)
    w.page.goto(fake_hub.url + "/overview")
    w.page.wait_for_selector("#live-state.on")
    bus = fake_hub.app.extensions["xiaoneng"].bus
    bus.publish("card.raised", {"card_id": "K-9", "level": "red", "dept_code": "D03", "case_id": "C-9",
                                "title": "新的红牌 K-9", "rule": "R4", "raised_at": "2026-11-26T08:00:00+00:00"})
    bus.publish("record.ingested", {"agent_id": "agent-ok", "count": 3})
    w.page.wait_for_selector("#feed li[data-card='K-9']")
    wait_until(lambda: w.page.text_content("[data-figure=records_live]") == "3", 5, message="records figure")
    assert w.page.get_attribute("#feed li[data-card='K-9'] a", "href") == "/cards/K-9"


def test_department_appeals_its_card_and_the_monitor_upholds_it(fake_hub: LiveApp, watched: Any) -> None:
    monitor = watched()
    sign_in(monitor.page, fake_hub.url, USERS["monitor"], PASSWORD)
    monitor.page.goto(fake_hub.url + "/cards/K-1")
    monitor.page.fill(".action-supervise textarea", "三个工作日内办结")
    with monitor.page.expect_navigation():
        monitor.page.click(".action-supervise button")
    assert "已督办" in monitor.page.text_content(".wall-head")

    dept = watched()
    sign_in(dept.page, fake_hub.url, USERS["department"], PASSWORD)
    dept.page.goto(fake_hub.url + "/cards")
    assert dept.page.locator("#cards-table tr[data-card]").count() == 1, "its own department's card only"
    dept.page.goto(fake_hub.url + "/cards/K-1")
    dept.page.fill(".action-appeal textarea", "材料已于期限内补齐")
    with dept.page.expect_navigation():
        dept.page.click(".action-appeal button")
    assert "申诉中" in dept.page.text_content(".wall-head")

    monitor.page.goto(fake_hub.url + "/cards/K-1")
    monitor.page.fill(".action-uphold textarea", "补正时间不计入，仍超期")
    with monitor.page.expect_navigation():
        monitor.page.click(".action-uphold button")
    history = monitor.page.text_content("#card-history")
    assert history is not None and "材料已于期限内补齐" in history and "补正时间不计入" in history
