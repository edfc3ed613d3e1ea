"""The monthly report page in a real browser, on a real supervised month: laid out as the report
(sections side by side on a sheet, not one long column), every department on the ranking chart,
no CSP violation, at the width of an ordinary office screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.conftest import LiveApp, sign_in
from tests.browser.test_cards_words import PASSWORD, real_hub  # noqa: F401 - the fixture
from tests.supervision.conftest import Month, month  # noqa: F401 - the fixture

WIDTH = 1280


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.query_selector(selector)
    assert found is not None, selector
    rect: dict[str, float] = found.bounding_box()
    return rect


def test_the_report_page_reads_as_a_report(real_hub: LiveApp, watched: Any, artifacts: Path) -> None:  # noqa: F811
    w = watched()
    page = w.page
    page.set_viewport_size({"width": WIDTH, "height": 900})
    sign_in(page, real_hub.url, "mon", PASSWORD)
    page.goto(real_hub.url + "/reports?month=2026-11")
    assert page.inner_text("#report header h1") == "全市行政效能电子监察月报（2026年11月）"
    totals, rates = box(page, "#report #totals"), box(page, "#report #rates")
    side_by_side = abs(totals["y"] - rates["y"]) < 2 and rates["x"] > totals["x"] + totals["width"]
    assert side_by_side, "narrow sections side by side"
    sheet = box(page, "#report")
    assert 900 < sheet["width"] <= 1180, sheet
    cards = box(page, "#report #cards")
    assert cards["width"] > 0.9 * sheet["width"] - 80, "a wide section spans the sheet"
    labels = page.eval_on_selector_all("#departments svg text", "nodes => nodes.map(n => n.textContent)")
    assert {"市场监管局", "税务局"} <= set(labels), labels
    assert page.query_selector_all("#departments table tbody tr"), "the department table"
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3200, f"the page is {height} px tall at {WIDTH} px"
    page.screenshot(path=str(artifacts / "report.png"), full_page=True)
    for selector in ("#download-pdf", "#download-xlsx", "#download-html"):
        assert page.get_attribute(selector, "href"), selector
    w.check()
