"""The inbox in a real browser: the unread count in the nav, opening a message goes to its card
and marks it read, "mark all read" empties the count; the settings page saves preferences."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.auth import connect
from hub.notify.messages import card_message
from hub.notify.outbox import enqueue
from hub.notify.recipients import Delivery, get_prefs
from hub.notify.schema import ensure_schema
from hub.notify.service import NotifyService
from tests.browser.conftest import LiveApp, Watched, sign_in
from tests.notify.conftest import NOW
from tests.support.screenshots import keep_screenshot
from tests.web.conftest import PASSWORD, USERS

CARDS = [
    {"card_id": "K-1", "rule": "R2", "level": "yellow", "dept_code": "D01", "dept_name": "市场监管局（D01）",
     "case_id": "C-1", "title": "办件 C-1 超期", "deadline": "2026-12-01"},
    {"card_id": "K-2", "rule": "R4", "level": "red", "dept_code": "D01", "dept_name": "市场监管局（D01）",
     "case_id": "C-2", "title": "办件 C-2 违规收费", "deadline": "2026-12-02"},
]


def deliver(db: Path, username: str) -> None:
    conn = connect(db)
    conn.isolation_level = None
    ensure_schema(conn)
    for card in CARDS:
        enqueue(conn, card_message(card, "raised"), [Delivery("inbox", username, username)], NOW)
    enqueue(conn, card_message(CARDS[0], "supervised", action_id=7, note="请三个工作日内整改并回复"),
            [Delivery("inbox", username, username)], NOW)
    conn.close()
    notifier = NotifyService(db.parent, db, clock=lambda: NOW, render=lambda month, city: None)
    try:
        notifier.send_due()
    finally:
        notifier.stop()


def badge(page: Any) -> str:
    locator = page.locator("#inbox-unread")
    return locator.inner_text() if locator.count() else ""


def test_inbox_in_the_browser(fake_hub: LiveApp, watched: Callable[..., Watched], artifacts: Path) -> None:
    user = USERS["department"]
    deliver(fake_hub.db, user)
    w = watched()
    page = w.page
    sign_in(page, fake_hub.url, user, PASSWORD)
    assert badge(page) == "3"
    page.click("#nav-inbox")
    page.wait_for_selector("#inbox-list")
    assert page.locator(".inbox-item.unread").count() == 3
    assert "督办通知" in page.inner_text("#inbox-list") and "红牌" in page.inner_text("#inbox-list")
    page.screenshot(path=str(artifacts / "inbox.png"), full_page=True)
    keep_screenshot(artifacts / "inbox.png", "inbox.png")
    # open the 督办 notice: its card's page, and the message is read
    notice = page.locator(".inbox-item", has_text="督办通知")
    with page.expect_navigation():
        notice.locator(".inbox-open").click()
    assert page.url.endswith("/cards/K-1") and "办件 C-1 超期" in page.inner_text("main")
    page.goto(fake_hub.url + "/inbox")
    assert badge(page) == "2" and page.locator(".inbox-item.unread").count() == 2
    with page.expect_navigation():
        page.click("#inbox-read-all")
    assert badge(page) == "" and page.locator(".inbox-item.unread").count() == 0
    # the settings page
    page.click("#nav-inbox")
    page.click("text=通知设置")
    page.fill("input[name=email]", "li@d01.example.cn")
    page.fill("input[name=phone]", "13800000002")
    page.uncheck("input[name=level][value=reminder]")
    page.screenshot(path=str(artifacts / "notify-settings.png"), full_page=True)
    keep_screenshot(artifacts / "notify-settings.png", "notify-settings.png")
    with page.expect_navigation():
        page.click("#notify-save")
    assert "通知设置已保存" in page.inner_text("main")
    conn = connect(fake_hub.db)
    try:
        assert get_prefs(conn, user).levels == {"yellow", "red"}
        # a new card while the page stays open: the badge comes back without a reload
        conn.isolation_level = None
        enqueue(conn, card_message({**CARDS[0], "card_id": "K-3"}, "raised"), [Delivery("inbox", user, user)], NOW)
    finally:
        conn.close()
    notifier = NotifyService(fake_hub.db.parent, fake_hub.db, clock=lambda: NOW, render=lambda month, city: None)
    try:
        notifier.send_due()
    finally:
        notifier.stop()
    assert badge(page) == ""
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_selector("#inbox-unread")
    assert badge(page) == "1"
    w.check()
