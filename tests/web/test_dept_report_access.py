"""Issue 13: docs/ui.md promises department users their own department's monthly report. Every way
to it (page, HTML, PDF, Excel, JSON) answers a department user with its own department only; a
telecom user (no report in docs/ui.md's table) is refused."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from hub.auth import connect, create_user, ensure_schema
from hub.web.app import create_app, shutdown
from hub.web.metrics import Registry
from tests.supervision.conftest import Month, month  # noqa: F401 - the fixture
from tests.web.conftest import FAST, PASSWORD, login

ROUTES = ("/reports?month=2026-11", "/reports/2026-11/html", "/api/v1/reports/2026-11",
          "/api/v1/reports/2026-11/pdf", "/api/v1/reports/2026-11/xlsx")  # fmt: skip


@pytest.fixture
def app(month: Month) -> Iterator[object]:  # noqa: F811 - the imported fixture
    conn = connect(month.db)
    ensure_schema(conn)
    create_user(conn, "market", PASSWORD, "department", display_name="市场监管局用户", dept_code="D01", params=FAST)
    create_user(conn, "tele", PASSWORD, "telecom", display_name="电信", params=FAST)
    conn.close()
    flask_app = create_app({"database": str(month.db), "secret_key": "dept-report-secret-0123456789"},
                           supervision=month.provider, metrics=Registry(), clock=month.clock, scrypt=FAST,
                           testing=True)  # fmt: skip
    yield flask_app
    shutdown(flask_app)


def _client(app: object, username: str) -> FlaskClient:
    client: FlaskClient = app.test_client()  # type: ignore[attr-defined]
    assert login(client, username).status_code == 302
    return client


def test_a_department_user_gets_its_own_report_everywhere(app: object) -> None:
    client = _client(app, "market")
    for url in ROUTES:
        response = client.get(url)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        response.close()
    page = client.get("/reports?month=2026-11").get_data(as_text=True)
    assert "市场监管局行政效能电子监察月报（2026年11月）" in page and "税务局" not in page
    html = client.get("/reports/2026-11/html").get_data(as_text=True)
    assert "市场监管局" in html and "税务局" not in html
    data = client.get("/api/v1/reports/2026-11").get_json()
    assert data["dept"] == "D01" and [d["name"] for d in data["departments"]] == ["市场监管局"]
    assert data["totals"]["accepted"] == 4
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(client.get("/api/v1/reports/2026-11/xlsx").data))
    cells = " ".join(str(c.value) for ws in workbook.worksheets for row in ws.iter_rows() for c in row if c.value)
    assert "市场监管局" in cells and "税务局" not in cells
    nav = re.search(r'<nav class="mainnav".*?</nav>', page, re.S)
    assert nav and 'href="/reports"' in nav.group(0)


def test_telecom_has_no_report(app: object) -> None:
    client = _client(app, "tele")
    for url in ROUTES:
        assert client.get(url).status_code == 403, url
