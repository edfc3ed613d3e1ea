"""帮助 in a real Chromium: from the login page and from a signed-in page to a document, across a
link between documents, with no script error or CSP violation; the public export downloads."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveApp, sign_in
from tests.support.screenshots import keep_screenshot
from tests.web.conftest import PASSWORD, USERS

pytestmark = pytest.mark.browser


def test_help_from_the_login_page_and_between_documents(fake_hub: LiveApp, watched: Any, artifacts: Path) -> None:
    w = watched()
    w.page.goto(fake_hub.url + "/login")
    with w.page.expect_navigation():
        w.page.click("#nav-help")
    assert w.page.url.endswith("/help")
    assert w.page.inner_text("h1") == "帮助"
    with w.page.expect_navigation():
        w.page.click("a[href='/help/ui']")
    assert w.page.is_visible("h1#监控室界面与接口--the-hubs-web-ui-and-api")
    # the app's stylesheet for help applies (no inline styles needed): the document is a panel
    assert w.page.eval_on_selector("#help-doc", "e => getComputedStyle(e).borderTopStyle") == "solid"
    with w.page.expect_navigation():
        w.page.click("#help-doc a[href^='/help/deployment-web']")
    assert "/help/deployment-web" in w.page.url and w.page.is_visible("#help-doc h1")
    w.check()

    sign_in(w.page, fake_hub.url, USERS["department"], PASSWORD)
    with w.page.expect_navigation():
        w.page.click("#nav-help")
    with w.page.expect_navigation():
        w.page.click("a[href='/help/ui']")
    w.page.screenshot(path=str(artifacts / "help-ui.png"), full_page=False)
    keep_screenshot(artifacts / "help-ui.png", "help-ui.png")
    w.check()


def test_a_monitor_downloads_the_public_ranking(fake_hub: LiveApp, watched: Any, artifacts: Path) -> None:
    w = watched()
    sign_in(w.page, fake_hub.url, USERS["monitor"], PASSWORD)
    w.page.goto(fake_hub.url + "/rankings?period=2026-11")
    with w.page.expect_download() as info:
        w.page.click("#publish-download")
    target = artifacts / "ranking.zip"
    info.value.save_as(str(target))
    with zipfile.ZipFile(io.BytesIO(target.read_bytes())) as archive:
        page = archive.read("xiaoneng-ranking-2026-11/index.html").decode()
    (artifacts / "public.html").write_text(page, encoding="utf-8")
    w.page.goto((artifacts / "public.html").as_uri())
    assert "部门绩效排名" in w.page.inner_text("h1")
    assert w.page.locator("tbody tr").count() == 2
    w.page.screenshot(path=str(artifacts / "publish-2026-11.png"), full_page=True)
    keep_screenshot(artifacts / "publish-2026-11.png", "publish-2026-11.png")
    w.check()
