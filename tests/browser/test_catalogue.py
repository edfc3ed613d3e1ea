"""事项目录 in a real Chromium: an admin uploads a bad file (errors by row and column), then the
sample catalogue, searches, edits an item and exports; no script error or CSP violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.catalogue.files import read_xlsx
from hub.catalogue.sample import sample_items
from tests.browser.conftest import LiveApp, sign_in
from tests.support.screenshots import keep_screenshot
from tests.web.conftest import PASSWORD, USERS

pytestmark = pytest.mark.browser
SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "catalogue-sample.csv"


def test_an_admin_imports_edits_and_exports_the_catalogue(fake_hub: LiveApp, watched: Any, artifacts: Path) -> None:
    w = watched()
    page = w.page
    sign_in(page, fake_hub.url, USERS["admin"], PASSWORD)
    with page.expect_navigation():
        page.click("nav.mainnav a[href='/catalogue']")
    assert page.is_visible("#catalogue-empty")
    bad = artifacts / "bad.csv"
    bad.write_bytes(SAMPLE.read_bytes().replace(b",20,G,5,G,", b",20,G,50,G,", 1))
    page.set_input_files("#catalogue-import input[type=file]", str(bad))
    with page.expect_navigation():
        page.click("#catalogue-import button[type=submit]")
    assert "第 2 行「承诺时限」列" in page.inner_text("#import-errors")
    # the rejected upload answers 400 (the form with its errors), which Chromium logs; nothing else may
    assert [p for p in w.problems if "/catalogue/import" not in p or "status of 400" not in p] == []
    w.problems.clear()
    page.set_input_files("#catalogue-import input[type=file]", str(SAMPLE))
    page.fill("#catalogue-import input[name=note]", "演示目录")
    with page.expect_navigation():
        page.click("#catalogue-import button[type=submit]")
    assert page.locator("#catalogue-table tbody tr").count() == 94
    page.fill("#catalogue-filters input[name=q]", "身份证")
    with page.expect_navigation():
        page.click("#catalogue-filters button[type=submit]")
    rows = page.locator("#catalogue-table tbody tr")
    assert rows.count() >= 1 and "身份证" in rows.first.inner_text()
    page.screenshot(path=str(artifacts / "catalogue.png"), full_page=False)
    with page.expect_navigation():
        rows.first.locator("a").click()
    page.click("#item-edit summary")
    page.fill("#item-edit input[name=promised_limit]", "1")
    page.fill("#item-edit input[name=note]", "压缩承诺时限")
    with page.expect_navigation():
        page.click("#item-edit button[type=submit]")
    assert "v2" in page.inner_text("#item-history") and "压缩承诺时限" in page.inner_text("#item-history")
    page.screenshot(path=str(artifacts / "catalogue-item.png"), full_page=True)
    page.goto(fake_hub.url + "/catalogue?version=1")
    assert page.is_visible("#old-version")
    with page.expect_download() as info:
        page.click("#export-xlsx")
    target = artifacts / "catalogue-v1.xlsx"
    info.value.save_as(str(target))
    assert read_xlsx(target.read_bytes()) == sample_items()
    page.goto(fake_hub.url + "/catalogue/findings?month=2026-11")
    assert page.is_visible("#findings-summary")
    w.check()
    keep_screenshot(artifacts / "catalogue.png", "catalogue.png")
    keep_screenshot(artifacts / "catalogue-item.png", "catalogue-item.png")
