"""The report as a leader reads it: every department named on the ranking chart, a page laid out as a
report (sections side by side, no horizontal scrolling), an embedded font or a clear refusal."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hub.reports import render_html, render_pdf
from hub.reports.data import build_report
from hub.reports.fonts import FONT_PACKAGE, ReportFontMissing, font_file
from simulator.catalogue import build_catalogue
from tests.supervision.conftest import Month
from tests.support.required import missing, need_tool

CHROMIUM = Path("/usr/bin/chromium")
LOST = "按时办结率 92.4%（365/395 件）（-2.28）；R2 超期 黄牌 ×29（-22.03）；"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip


@pytest.fixture
def city(month: Month) -> dict[str, Any]:
    """The two-department month's report with the simulated city's 20 departments in its ranking
    (the renderers draw whatever report they are given)."""
    conn = sqlite3.connect(month.db)
    try:
        report = build_report(conn, "2026-11", now=month.clock(), city="示范市")
    finally:
        conn.close()
    assert report is not None
    template = report["departments"][0]
    grades = ("优秀", "良好", "合格", "不合格")
    report["departments"] = [
        {**template, "rank": i + 1, "code": d.code, "name": d.name, "score": 96.0 - 2.5 * i,
         "grade": grades[min(i // 5, 3)], "lost": LOST * (1 + i % 3)}
        for i, d in enumerate(build_catalogue().departments[:20])
    ]  # fmt: skip
    assert len(report["departments"]) == 20
    return report


def test_ranking_chart_names_every_department(city: dict[str, Any], tmp_path: Path) -> None:
    names = [d["name"] for d in city["departments"]]
    html = render_html(city).decode()
    chart = re.search(r'<svg[^>]*aria-label="部门得分".*?</svg>', html, re.S)
    assert chart is not None
    labels = re.findall(r'text-anchor="end">([^<]+)</text>', chart.group(0))
    assert labels == names  # every department, in rank order
    need_tool("pdftotext", "poppler-utils")
    path = tmp_path / "city.pdf"
    path.write_bytes(render_pdf(city))
    first = subprocess.run(["pdftotext", "-l", "2", str(path), "-"], capture_output=True, text=True, check=True).stdout
    chart_text = first[first.index("部门得分"):]
    assert all(name in chart_text for name in names), [n for n in names if n not in chart_text]
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "示范市 行政效能电子监察 月报 2026-11" in info


def test_page_is_laid_out_as_a_report(city: dict[str, Any], tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        missing("Debian's chromium is not installed (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "report.html"
    page_file.write_bytes(render_html(city))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(page_file.as_uri())
            box = {key: page.locator(f"#{key}").bounding_box() for key in
                   ("totals", "rates", "cards", "departments", "windows", "staff", "complaints", "ratings")}
            width = page.evaluate("document.documentElement.scrollWidth")
            height = page.evaluate("document.documentElement.scrollHeight")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            pdf = page.pdf(format="A4")
        finally:
            browser.close()
    assert all(b is not None for b in box.values())
    b = {k: v for k, v in box.items() if v is not None}
    for left, right in (("totals", "rates"), ("windows", "staff"), ("complaints", "ratings")):
        assert b[left]["y"] == b[right]["y"] and b[left]["x"] + b[left]["width"] <= b[right]["x"], (left, right)
    assert b["departments"]["width"] > 2 * b["totals"]["width"]  # the ranking spans the sheet
    assert 900 <= b["departments"]["width"] <= 1100  # a sheet, not a narrow column nor the whole screen
    assert width <= 1280, width  # nothing wider than the window
    assert height < 8000, height  # 20 departments fit in a few screens
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page>>") <= 12


def test_no_embeddable_font_is_a_clear_error() -> None:
    with pytest.raises(ReportFontMissing, match=FONT_PACKAGE):
        font_file((("/nonexistent/wqy-microhei.ttc", 0),))
    path, index = font_file()  # this machine has one (scripts/system-deps.sh installs it)
    assert path.suffix in (".ttc", ".ttf") and index == 0
