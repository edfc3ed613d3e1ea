"""The desk in a real Chromium: the monitoring room registers a complaint through the form, finds it in
the list with its running clock (due date on the working calendar, working days left) once the
supervision (running in its own thread, as in the hub) has consumed the signed record; then a
disclosure request. No script error or CSP violation."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.engine.calendar import WorkCalendar
from hub.engine.clock import Unit, due_date
from hub.engine.localtime import LOCAL_TZ
from tests.browser.conftest import LiveApp, sign_in
from tests.support.screenshots import keep_screenshot

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


@pytest.fixture
def desk_hub(tmp_path: Path) -> Iterator[LiveApp]:
    from werkzeug.serving import make_server

    from hub.auth import connect, create_user, ensure_schema
    from hub.supervision.queries import SupervisionProvider
    from hub.web.app import create_app, shutdown
    from hub.web.blueprints.desk import attach
    from hub.web.metrics import Registry
    from tests.hub.test_desk import open_hub, seed_dept
    from tests.supervision.helpers import service
    from tests.web.conftest import FAST

    def now() -> datetime:
        return datetime.now(LOCAL_TZ)

    hub = open_hub(tmp_path / "data", now)  # type: ignore[arg-type]  # any clock returning an aware now
    seed_dept(hub.db)
    with connect(hub.db) as conn:
        ensure_schema(conn)
        conn.execute("INSERT OR IGNORE INTO sup_names VALUES ('dept', 'D02', '税务局', NULL)")
        create_user(conn, "monitor-user", PASSWORD, "monitor", display_name="监控室值班员", params=FAST)
    svc = service(hub.db, now)  # type: ignore[arg-type]
    hub.ingest.listeners.append(svc.wake)
    svc.start()
    app = create_app({"database": str(hub.db), "secret_key": "browser-test-secret-0123456789"},
                     metrics=Registry(), supervision=SupervisionProvider(svc, cache_s=0, background=False),
                     scrypt=FAST)  # fmt: skip
    attach(app, hub.desk)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="desk-hub", daemon=True)
    thread.start()
    try:
        yield LiveApp(f"http://127.0.0.1:{server.server_port}", app, hub.db)
    finally:
        shutdown(app)
        server.shutdown()
        server.server_close()
        thread.join(10)
        svc.stop()
        hub.close()


def _until(page: Any, url: str, selector: str, pattern: str, seconds: float = 20.0) -> str:
    """Reload ``url`` until ``selector``'s text matches ``pattern`` (the supervision works in its own
    thread); returns the text."""
    deadline = time.monotonic() + seconds
    while True:
        page.goto(url)
        found = page.locator(selector)
        text = found.first.inner_text() if found.count() else ""
        if re.search(pattern, text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} on {url} never matched {pattern!r}: {text!r}")
        page.wait_for_timeout(200)


def test_a_monitor_registers_a_complaint_and_sees_its_clock(desk_hub: LiveApp, watched: Any,
                                                            artifacts: Path) -> None:  # fmt: skip
    w = watched()
    page = w.page
    sign_in(page, desk_hub.url, "monitor-user", PASSWORD)
    with page.expect_navigation():
        page.click("nav.mainnav a[href='/complaints']")
    with page.expect_navigation():
        page.click("#new-complaint")
    page.select_option("#complaint-form select[name=target_dept]", "D01")
    page.fill("#complaint-form input[name=target_staff]", "S0107")
    page.select_option("#complaint-form select[name=channel]", "visit")
    page.fill("#complaint-form input[name=complainant]", "李女士")
    page.fill("#complaint-form textarea[name=text]", "营业执照窗口要求重复提交材料，一次告知未落实")
    with page.expect_navigation():
        page.click("#complaint-submit")
    assert re.search(r"/complaints/TS-\d{8}-001$", page.url), page.url
    ident = page.url.rsplit("/", 1)[1]
    assert "受理台登记：monitor-user" in page.inner_text("#timeline")
    today = datetime.now(LOCAL_TZ).date()
    due = due_date(WorkCalendar(), today, 5, Unit.G).day
    assert due is not None
    row = f"#complaints-table tr[data-complaint='{ident}']"
    cell = _until(page, desk_hub.url + "/complaints", f"{row} td.clock", r"剩 \d+ 个工作日")
    assert page.inner_text(f"{row} td.due") == due.isoformat()
    assert "市场监管局" in page.inner_text(row) and "待受理" in page.inner_text(row)
    assert "剩 5 个工作日" in cell, cell  # filed today: all five still ahead
    # a letter that lay three weeks before anyone entered it: its acceptance is overdue at once
    page.goto(desk_hub.url + "/complaints/new")
    page.select_option("#complaint-form select[name=target_dept]", "D02")
    page.select_option("#complaint-form select[name=channel]", "letter")
    filed = (datetime.now(LOCAL_TZ) - timedelta(days=21)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#complaint-form input[name=filed_at]", filed)
    page.fill("#complaint-form textarea[name=text]", "办税服务厅叫号后长时间无人办理")
    with page.expect_navigation():
        page.click("#complaint-submit")
    late_url = page.url
    _until(page, late_url, "#subject-cards tbody", r"R2")
    assert re.search(r"超期 \d+ 个工作日", page.inner_text("#clock")), page.inner_text("#clock")
    with page.expect_navigation():
        page.click("#subject-cards tbody a")
    assert "/cards/" in page.url and late_url.rsplit("/", 1)[1] in page.inner_text("#card-subject")
    page.goto(late_url)
    page.screenshot(path=str(artifacts / "complaint.png"), full_page=True)
    page.goto(desk_hub.url + "/complaints")
    assert page.locator("#complaints-table tbody tr.row-level-yellow").count() == 1
    page.screenshot(path=str(artifacts / "complaints.png"), full_page=False)
    with page.expect_navigation():
        page.click(f"{row} a")
    page.fill("#step-accepted input[name=at]", (datetime.now(LOCAL_TZ)).strftime("%Y-%m-%dT%H:%M"))
    with page.expect_navigation():
        page.click("#step-accepted button[type=submit]")
    assert "已记录：受理" in page.inner_text("main")
    _until(page, page.url, "#clock", "待答复")
    # a disclosure request, and a validation message in words
    page.goto(desk_hub.url + "/disclosures/new")
    page.select_option("#request-form select[name=dept_code]", "D02")
    page.fill("#request-form textarea[name=text]", "2026 年度行政事业性收费清单")
    page.fill("#request-form input[name=request_id]", "bad id!")
    with page.expect_navigation():
        page.click("#request-submit")
    assert "编号只能用字母" in page.inner_text("#desk-error")
    assert [p for p in w.problems if "status of 400" not in p] == []
    w.problems.clear()
    page.fill("#request-form input[name=request_id]", "")
    with page.expect_navigation():
        page.click("#request-submit")
    assert re.search(r"/disclosures/GK-\d{8}-001$", page.url), page.url
    _until(page, desk_hub.url + "/disclosures", "#disclosures-table tbody", r"剩 \d+ 个工作日")
    page.screenshot(path=str(artifacts / "disclosures.png"), full_page=False)
    w.check()
    for name in ("complaints.png", "complaint.png", "disclosures.png"):
        keep_screenshot(artifacts / name, name)
