"""Cards people can read, through the real supervision (engine, store, provider) in a real browser.

A small month of two departments (``tests.supervision.conftest``) plus a late-reported acceptance
(R8), a refusal without a reason (R5), an immediate case left open (R2, live) and a case of October
first seen now (historical, closed as recorded): the cards queue opens on the cards that need
action, history has its own tab and labels, and no visible text on the queue, a card's page or a case's
page shows an internal id, a record hash, an event type name or an ISO timestamp.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveApp, sign_in
from tests.supervision.conftest import Month, month  # noqa: F401 - the fixture
from tests.support.screenshots import keep_screenshot
from tests.web.test_supervision_pages import more_cards

PASSWORD = "a long enough password"
ACTION_STATES = {"raised", "notified", "upheld", "appealed"}
INTERNAL = {
    "card id": re.compile(r"card-[0-9a-f]{8}"),
    # 16+ hex characters that are not a plain number (a case number may be a long digit string)
    "hash": re.compile(r"\b(?=[0-9]*[a-f])[0-9a-f]{16,}"),
    "event type": re.compile(r"\b(case|presence|agent|complaint|disclosure|queue)\.[a-z_]+"),
    "ISO timestamp": re.compile(r"\d{4}-\d\d-\d\dT"),
}


def leaks(text: str) -> list[str]:
    """What in ``text`` people should never read."""
    return [f"{what}: {m.group(0)!r}" for what, pattern in INTERNAL.items() for m in pattern.finditer(text)]


@pytest.fixture
def real_hub(month: Month) -> Iterator[LiveApp]:  # noqa: F811 - the imported fixture
    from werkzeug.serving import make_server

    from hub.auth import ScryptParams, connect, create_user, ensure_schema
    from hub.web.app import create_app, shutdown
    from hub.web.metrics import Registry

    more_cards(month)  # R8 reported 31 h late, R5 without a reason, R2 raised live on 11-13

    fast = ScryptParams(n=2**8, r=8, p=1)
    conn = connect(month.db)
    ensure_schema(conn)
    create_user(conn, "mon", PASSWORD, "monitor", display_name="监控员", params=fast)
    conn.close()
    app = create_app({"database": str(month.db), "secret_key": "browser-test-secret-0123456789"},
                     supervision=month.provider, metrics=Registry(), clock=month.clock, scrypt=fast)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="real-hub", daemon=True)
    thread.start()
    try:
        yield LiveApp(f"http://127.0.0.1:{server.server_port}", app, month.db)
    finally:
        shutdown(app)
        server.shutdown()
        server.server_close()
        thread.join(10)


def rows(page: Any) -> list[tuple[str, str]]:
    """(card id, state) of the queue's rows."""
    return [(r.get_attribute("data-card"), r.get_attribute("data-state"))
            for r in page.query_selector_all("#cards-table tbody tr[data-card]")]


def test_cards_queue_opens_on_actionable_cards_and_no_text_shows_internals(
        real_hub: LiveApp, watched: Any, artifacts: Path) -> None:
    w = watched()
    page = w.page
    sign_in(page, real_hub.url, "mon", PASSWORD)
    page.goto(real_hub.url + "/cards")
    assert page.get_attribute("#card-tabs a.active", "data-tab") == "action"
    opened = rows(page)
    assert opened, "the queue opens on the cards that need action"
    assert {state for _, state in opened} <= ACTION_STATES, opened
    body = page.inner_text("main")
    assert not leaks(body), leaks(body)
    assert "办件 9901…1376（酒类零售许可）超过承诺期限 1 个工作日仍未办结（承诺办结日 2026-11-12）" in body, \
        "a long case number is shortened, the item named, the days counted"
    page.screenshot(path=str(artifacts / "cards-queue.png"), full_page=True)
    keep_screenshot(artifacts / "cards-queue.png", "cards-queue.png")

    page.click("#card-tabs a[data-tab=all]")
    every = rows(page)
    assert len(every) > len(opened), "all cards include those needing no action"
    body = page.inner_text("main")
    assert not leaks(body), leaks(body)
    assert re.search(r"受理记录迟报 31 小时（2026-11-10 09:12 发生，2026-11-11 16:40 报送）", body), body

    page.click("#card-tabs a[data-tab=historical]")
    history = page.inner_text("#cards-table")
    assert "办件 K（税务登记）" in history and "已办结·记录在案" in history and "历史" in history, history
    assert not any(card_id in dict(opened) for card_id, _ in rows(page)), "history needs no action"

    card_ids = [card_id for card_id, _ in every]
    cases: set[str] = set()
    for card_id in card_ids:
        page.goto(f"{real_hub.url}/cards/{card_id}")
        text = page.inner_text("main")
        assert not leaks(text), (card_id, leaks(text))
        link = page.query_selector(".facts a[href^='/cases/']")
        if link is not None:
            cases.add(str(link.get_attribute("href")))
    assert cases
    texts = {}
    for href in sorted(cases):
        page.goto(real_hub.url + href)
        texts[href] = text = page.inner_text("main")
        assert not leaks(text), (href, leaks(text))
        assert "市场监管局" in text or "税务局" in text, (href, "the department by name")
    assert "职员S01" in texts["/cases/D"], "the staff member by name"
    assert "处理人 职员S01" in texts["/cases/G"], "a step's handler given as a staff number, by name"
