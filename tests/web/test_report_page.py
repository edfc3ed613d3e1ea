"""The monthly report page on a real supervised month (``tests.supervision.conftest``): the report's
own layout (hub.reports.layout) inside the UI, its downloads, English headings, and a department
user's report of its own department."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from hub.auth import connect, create_user, ensure_schema
from hub.reports.layout import SECTION_TITLES
from hub.web.app import create_app, shutdown
from hub.web.i18n import Catalogue
from hub.web.metrics import Registry
from tests.supervision.conftest import Month, month  # noqa: F401 - the fixture
from tests.web.conftest import FAST, PASSWORD, login

CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
DEPARTMENTS = ("市场监管局", "税务局")


@pytest.fixture
def app(month: Month) -> Iterator[object]:  # noqa: F811 - the imported fixture
    conn = connect(month.db)
    ensure_schema(conn)
    create_user(conn, "mon", PASSWORD, "monitor", display_name="监控员", params=FAST)
    create_user(conn, "tax", PASSWORD, "department", display_name="税务局用户", dept_code="D02", params=FAST)
    conn.close()
    flask_app = create_app({"database": str(month.db), "secret_key": "report-page-secret-0123456789"},
                           supervision=month.provider, metrics=Registry(), clock=month.clock, scrypt=FAST,
                           testing=True)  # fmt: skip
    yield flask_app
    shutdown(flask_app)


def signed_in(app: object, username: str) -> FlaskClient:
    client: FlaskClient = app.test_client()  # type: ignore[attr-defined]
    assert login(client, username).status_code == 302
    return client


def sheet_of(html: str) -> str:
    match = re.search(r'<article class="report-sheet" id="report">(.*?)</article>', html, re.S)
    assert match, "the page shows the report's sheet"
    return match.group(1)


def test_the_report_page_is_laid_out_as_the_report(app: object) -> None:
    html = signed_in(app, "mon").get("/reports?month=2026-11").get_data(as_text=True)
    sheet = sheet_of(html)
    assert 'class="mainnav"' in html and "/static/css/report.css" in html, "inside the UI, with its stylesheet"
    assert "全市行政效能电子监察月报（2026年11月）" in sheet and 'class="summary"' in sheet
    # every section of the report, in its order, in the two-column grid; wide ones span it
    ids = re.findall(r'<section id="(\w+)"', sheet)
    assert ids == [k for k in SECTION_TITLES if k != "top"] or ids == list(SECTION_TITLES), ids
    for key, title in SECTION_TITLES.items():
        assert key not in ids or f"<h2>{title}</h2>" in sheet, title
    assert '<section id="departments" class="wide">' in sheet and '<section id="totals">' in sheet
    departments = re.search(r'<section id="departments".*?</section>', sheet, re.S)
    assert departments
    chart = re.search(r'<svg [^>]*aria-label="部门得分".*?</svg>', departments.group(0), re.S)
    assert chart, "the ranking chart"
    for name in DEPARTMENTS:
        assert re.search(rf">{name}</text>", chart.group(0)), f"the chart labels {name}"
        assert re.search(rf"<td>{name}</td>", departments.group(0)), f"the department table lists {name}"
    assert "<th>按时率</th>" in departments.group(0) and "<th>失分说明</th>" in departments.group(0)
    assert re.search(r'<svg [^>]*aria-label="每日办结按时率"', sheet), "the trend chart"
    # the page's CSP (style-src 'self'): no inline style, no script in the sheet
    assert not re.search(r"\sstyle\s*=", sheet) and "<script" not in sheet and "<style" not in sheet
    for fmt in ("pdf", "xlsx"):
        assert f'href="/api/v1/reports/2026-11/{fmt}"' in html
    assert 'id="download-html" href="/reports/2026-11/html"' in html


def test_the_html_download_is_the_standalone_report(app: object) -> None:
    response = signed_in(app, "mon").get("/reports/2026-11/html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Content-Disposition"] == 'attachment; filename="xiaoneng-report-2026-11.html"'
    page = response.get_data(as_text=True)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "全市行政效能电子监察月报" in page
    client = signed_in(app, "mon")
    assert client.get("/reports/2026-10/html").status_code == 404
    assert client.get("/reports/2026-1/html").status_code == 400


def test_english_headings_and_sentences(app: object) -> None:
    client = signed_in(app, "mon")
    html = client.get("/reports?month=2026-11&lang=en").get_data(as_text=True)
    sheet = sheet_of(html)
    assert "<h2>1. Totals</h2>" in sheet and "<h2>5. Department ranking</h2>" in sheet
    assert "Download HTML" in html and "City-wide" in sheet and "Period 2026-11-01 to 2026-11-30" in sheet
    # what is left in Chinese is data: names (in cells and chart labels) and the lost-points texts
    words = re.sub(r"<td[^>]*>.*?</td>|<text[^>]*>[^<]*</text>|<title>[^<]*</title>", "", sheet, flags=re.S)
    assert not CJK.findall(words), "".join(CJK.findall(words))[:80]
    catalogue = Catalogue.load()
    for key, title in SECTION_TITLES.items():  # the catalogue's Chinese titles are the report's own
        assert catalogue.get(f"report_section.{key}", "zh") == title


def test_a_department_reads_its_own_departments_report(app: object) -> None:
    client = signed_in(app, "tax")
    nav = re.search(r'<nav class="mainnav".*?</nav>', client.get("/cases").get_data(as_text=True), re.S)
    assert nav and 'href="/reports"' in nav.group(0), "the department sees 报表 in its navigation"
    html = client.get("/reports?month=2026-11").get_data(as_text=True)
    sheet = sheet_of(html)
    assert "税务局行政效能电子监察月报（2026年11月）" in sheet and "市场监管局" not in html
    assert "税务局的月报" in html
    data = client.get("/api/v1/reports/2026-11").get_json()
    assert data["dept"] == "D02" and [d["name"] for d in data["departments"]] == ["税务局"]
    assert data["totals"]["accepted"] == 1, "D02 accepted one case (E) in the month"
    assert client.get("/api/v1/reports/2026-11/pdf").status_code == 200
