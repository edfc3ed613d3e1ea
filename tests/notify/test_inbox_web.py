"""The inbox and the notification settings in the web UI (Flask test client, real SQLite)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.auth import connect, create_user
from hub.auth import ensure_schema as ensure_auth_schema
from hub.auth.users import get_contact
from hub.notify.messages import card_message
from hub.notify.outbox import enqueue
from hub.notify.recipients import Delivery, get_prefs
from hub.notify.schema import ensure_schema
from hub.notify.service import NotifyService
from hub.web.app import create_app
from hub.web.events import EventBus
from hub.web.metrics import Registry
from tests.web.conftest import FAST, PASSWORD, ROLES, USERS, FakeClock, Hub, page_csrf, seed

CARD = {"card_id": "K-1", "rule": "R2", "level": "yellow", "dept_code": "D01", "dept_name": "市场监管局",
        "case_id": "C-1", "title": "办件超过承诺时限仍未办结", "deadline": "2026-12-01"}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """The web tests' app (tests/web/conftest.py) over a real SQLite hub database."""
    db = tmp_path / "hub.sqlite"
    clock = FakeClock()
    conn = connect(db)
    ensure_auth_schema(conn)
    seed(conn)
    for role in ROLES:
        create_user(conn, USERS[role], PASSWORD, role, display_name=f"{role} 用户",
                    dept_code="D01" if role == "department" else None, params=FAST, clock=clock)
    conn.close()
    bus = EventBus()
    app = create_app({"database": str(db), "secret_key": "test-secret-key-0123456789"}, bus=bus,
                     metrics=Registry(), clock=clock, scrypt=FAST, testing=True)
    yield Hub(app, db, clock, bus, Registry())
    bus.close()


def deliver(hub: Hub, *usernames: str, card: dict[str, object] = CARD) -> None:
    """Put a card's message in these users' inboxes the way the notifier does."""
    conn = connect(hub.db)
    conn.isolation_level = None
    ensure_schema(conn)
    enqueue(conn, card_message(card, "raised"), [Delivery("inbox", u, u) for u in usernames], hub.clock())
    conn.close()
    notifier = NotifyService(hub.db.parent, hub.db, clock=hub.clock, render=lambda month, city: None)
    try:
        notifier.send_due()
    finally:
        notifier.stop()


def unread_badge(html: str) -> int:
    match = re.search(r'id="inbox-unread"[^>]*>(\d+)<', html)
    return int(match.group(1)) if match else 0


def test_inbox_lists_own_messages_with_unread_count_in_the_nav(hub: Hub) -> None:
    dept = USERS["department"]
    client = hub.login("department")
    assert unread_badge(client.get("/overview").get_data(as_text=True)) == 0
    assert "暂无通知" in client.get("/inbox").get_data(as_text=True)
    deliver(hub, dept)
    deliver(hub, dept, card={**CARD, "card_id": "K-2", "level": "red", "rule": "R4"})
    deliver(hub, USERS["monitor"], card={**CARD, "card_id": "K-9"})
    page = client.get("/inbox").get_data(as_text=True)
    assert unread_badge(page) == 2
    assert client.get("/inbox/unread").get_json() == {"unread": 2}
    assert page.count('class="inbox-item unread"') == 2 and "K-9" not in page
    assert "黄牌" in page and "红牌" in page and page.count("inbox-open") == 2
    # opening one marks it read and goes to the card
    item_ids = re.findall(r'data-id="(\d+)"', page)
    token = page_csrf(client)
    response = client.post(f"/inbox/{item_ids[-1]}/read", data={"csrf_token": token, "open": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/cards/K-1")
    assert unread_badge(client.get("/inbox").get_data(as_text=True)) == 1
    unread_page = client.get("/inbox?show=unread").get_data(as_text=True)
    assert unread_page.count('class="inbox-item unread"') == 1
    # a message of someone else cannot be marked: nothing changes for its owner
    monitor = hub.login("monitor")
    monitor_ids = re.findall(r'data-id="(\d+)"', monitor.get("/inbox").get_data(as_text=True))
    client.post(f"/inbox/{monitor_ids[0]}/read", data={"csrf_token": token})
    assert unread_badge(monitor.get("/inbox").get_data(as_text=True)) == 1
    # the target is the stored link, never one from the form
    response = client.post(f"/inbox/{item_ids[0]}/read", data={"csrf_token": token, "next": "//evil.example"})
    assert response.headers["Location"].endswith("/inbox")
    response = client.post(f"/inbox/{monitor_ids[0]}/read", data={"csrf_token": token, "open": "1"})
    assert response.headers["Location"].endswith("/inbox"), "another user's message opens nothing"
    client.post("/inbox/read-all", data={"csrf_token": token})
    assert unread_badge(client.get("/inbox").get_data(as_text=True)) == 0
    english = client.get("/inbox?lang=en").get_data(as_text=True)
    assert "Inbox" in english and "Mark all read" not in english  # nothing unread: no button


def test_settings_store_contact_and_preferences_and_are_audited(hub: Hub) -> None:
    client = hub.login("department")
    page = client.get("/settings/notifications").get_data(as_text=True)
    assert "电子邮箱" in page and "短信" in page and "本系统尚未配置此方式" in page
    token = page_csrf(client)
    bad = client.post("/settings/notifications", data={"csrf_token": token, "email": "not-an-address",
                                                        "phone": "", "channel": ["inbox"]})
    assert bad.status_code == 400 and "邮箱地址格式不正确" in bad.get_data(as_text=True)
    ok = client.post("/settings/notifications", data={
        "csrf_token": token, "email": "li@d01.example.cn", "phone": "138 0000 0002",
        "channel": ["inbox", "sms", "fax"], "level": ["red"]})
    assert ok.status_code == 302
    conn = connect(hub.db)
    try:
        username = USERS["department"]
        assert get_contact(conn, username).email == "li@d01.example.cn"
        assert get_contact(conn, username).phone == "13800000002"
        prefs = get_prefs(conn, username)
        assert prefs.channels == {"inbox", "sms"} and prefs.levels == {"red"}
        row = conn.execute("SELECT detail FROM audit_log WHERE action = 'notify.settings'").fetchone()
        assert row is not None and '"levels": ["red"]' in row[0]
    finally:
        conn.close()
    again = client.get("/settings/notifications").get_data(as_text=True)
    assert 'value="li@d01.example.cn"' in again
    assert re.search(r'value="red" checked', again) and not re.search(r'value="yellow" checked', again)
