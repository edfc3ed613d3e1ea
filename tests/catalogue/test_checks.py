"""Checks of cases against the catalogue: the pure ``check_case``, and over cases stored and judged
by the real supervision (records → engine → ``cases``), on the findings page and the case page."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.auth import ScryptParams, connect, create_user, ensure_schema
from hub.catalogue import store
from hub.catalogue.cases import FindingsCache, month_findings
from hub.catalogue.model import CaseFields, CatalogueItem, Limit, check_case
from hub.store import Store
from hub.supervision.queries import SupervisionProvider
from hub.web.app import create_app, shutdown
from hub.web.metrics import Registry
from tests.supervision.helpers import Clock, Feed, service

ITEM = CatalogueItem("I01", "食品经营许可", "D01", Limit(20, "G"), Limit(5, "G"), 1000, "")
FAST = ScryptParams(n=2**8, r=8, p=1)
PASSWORD = "a long enough password"


def test_check_case_finds_each_kind_of_disagreement() -> None:
    agree = CaseFields("I01", Limit(5, "G"), Limit(20, "G"), 1000, 1000)
    assert check_case(ITEM, agree) == []
    assert [f.code for f in check_case(None, agree)] == ["unknown_item"]
    over = CaseFields("I01", Limit(25, "G"), Limit(20, "G"))
    assert [(f.code, f.case_value, f.catalogue_value) for f in check_case(ITEM, over)] == [
        ("promised_over_statutory", Limit(25, "G"), Limit(20, "G")),
        ("promised_differs", Limit(25, "G"), Limit(5, "G"))]
    assert check_case(ITEM, over)[0].text() == "promised_over_statutory: 25 工作日 / 20 工作日"
    assert [f.code for f in check_case(None, over)] == ["unknown_item", "promised_over_statutory"]
    other = CaseFields("I01", Limit(5, "Z"), Limit(30, "G"), 1500, 1200)
    assert [f.code for f in check_case(ITEM, other)] == ["statutory_differs", "promised_differs",
                                                         "fee_standard_above", "fee_charged_above"]  # fmt: skip
    below = CaseFields("I01", None, None, 500, 0)
    assert check_case(ITEM, below) == []
    # across units a working day is 7/5 natural days
    assert [f.code for f in check_case(None, CaseFields("X", Limit(28, "Z"), Limit(20, "G")))] == ["unknown_item"]
    assert "promised_over_statutory" in [f.code for f in check_case(None, CaseFields("X", Limit(29, "G"),
                                                                                      Limit(40, "Z")))]


@pytest.fixture
def judged(tmp_path: Path) -> Iterator[tuple[Path, SupervisionProvider, Clock]]:
    """Six cases of November through the real store and supervision; the catalogue knows I01, I02."""
    db = tmp_path / "hub.sqlite"
    st = Store(db)
    feed = Feed(st)
    clock = Clock("2026-11-02T09:00")
    svc = service(db, clock)
    feed.accept("OK", "2026-11-02T10:00")  # I01, 5 G / 20 G, fee standard 1000: as the catalogue
    feed.accept("SLOW", "2026-11-02T10:10", limit=8)
    feed.accept("OVER", "2026-11-02T10:20", limit=25)
    feed.accept("UNK", "2026-11-02T10:30", item="I99", item_name="未列入目录的事项")
    feed.accept("FEE", "2026-11-02T10:40", fee_standard_fen=2000)
    feed.accept("TAX", "2026-11-02T10:50", dept="D02", dept_name="税务局", item="I02", item_name="税务登记",
                window="W02", staff="S02")  # fmt: skip
    feed.flush()
    clock.set("2026-11-02T11:00")
    svc.step()
    feed.complete("FEE", "2026-11-03T10:00", fee_charged_fen=1500)
    feed.complete("OK", "2026-11-03T10:05", fee_charged_fen=1000)
    feed.flush()
    clock.set("2026-11-03T11:00")
    svc.step()
    conn = sqlite3.connect(db, isolation_level=None)
    store.ensure_schema(conn)
    tax = CatalogueItem("I02", "税务登记", "D02", Limit(15, "G"), Limit(5, "G"), 1000, "")
    store.save_version(conn, [ITEM, tax], username="admin", source="import", note="t", at="2026-11-01T00:00:00Z")
    conn.close()
    yield db, SupervisionProvider(svc, clock=clock, cache_s=0, background=False), clock
    svc.stop()
    st.close()


def _codes(db: Path, dept: str | None = None) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        rows, checked, capped = month_findings(conn, "2026-11", dept)
    finally:
        conn.close()
    assert not capped
    return sorted((r.case_id, r.finding.code) for r in rows)


def test_a_months_findings_over_judged_cases(judged: tuple[Path, Any, Clock]) -> None:
    db, _provider, _clock = judged
    assert _codes(db) == [
        ("FEE", "fee_charged_above"), ("FEE", "fee_standard_above"),
        ("OVER", "promised_differs"), ("OVER", "promised_over_statutory"),
        ("SLOW", "promised_differs"), ("TAX", "statutory_differs"), ("UNK", "unknown_item"),
    ]  # fmt: skip
    assert _codes(db, "D02") == [("TAX", "statutory_differs")]
    conn = sqlite3.connect(db)
    cache = FindingsCache()
    first = month_findings(conn, "2026-11", cache=cache)
    assert month_findings(conn, "2026-11", cache=cache) == first == month_findings(conn, "2026-11")
    # a new catalogue version is used at once, cache or not
    store.save_version(conn, [ITEM], username="admin", source="edit", note="", at="2026-11-05T00:00:00Z")
    again = sorted((r.case_id, r.finding.code) for r in month_findings(conn, "2026-11", cache=cache)[0])
    assert ("TAX", "unknown_item") in again and ("TAX", "statutory_differs") not in again
    assert month_findings(conn, "2026-10")[:2] == ([], 0)
    assert month_findings(conn, "2026-11", limit=2)[1:] == (2, True)
    conn.close()


@pytest.fixture
def login(judged: tuple[Path, SupervisionProvider, Clock]) -> Iterator[Callable[[str], FlaskClient]]:
    db, provider, clock = judged
    conn = connect(db)
    ensure_schema(conn)
    for user, role, dept in (("mon", "monitor", None), ("d02", "department", "D02")):
        create_user(conn, user, PASSWORD, role, dept_code=dept, params=FAST)
    conn.close()
    app = create_app({"database": db, "secret_key": "s" * 32}, supervision=provider, testing=True,
                     metrics=Registry(), clock=clock, scrypt=FAST)  # fmt: skip

    def sign_in(user: str) -> FlaskClient:
        client: FlaskClient = app.test_client()
        match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
        assert match
        form = {"username": user, "password": PASSWORD, "csrf_token": match.group(1)}
        assert client.post("/login", data=form).status_code == 302
        return client

    yield sign_in
    shutdown(app)


def test_the_findings_page_and_the_case_page(login: Callable[[str], FlaskClient]) -> None:
    monitor = login("mon")
    page = monitor.get("/catalogue/findings?month=2026-11").get_data(as_text=True)
    assert re.findall(r'data-finding="([a-z_]+)"', page).count("promised_differs") == 2
    assert "核对办件 6 件，发现 7 处（目录版本 v1）" in page
    assert "事项编码 I99 不在事项目录中" in page and 'href="/cases/FEE"' in page
    assert monitor.get("/catalogue/findings?month=11-2026").status_code == 400
    case = monitor.get("/cases/FEE").get_data(as_text=True)
    block = case.split('id="catalogue-findings"')[1].split("</section>")[0]
    assert re.findall(r'data-finding="([a-z_]+)"', block) == ["fee_standard_above", "fee_charged_above"]
    assert "实收费用 15.00 元 高于目录的收费标准 10.00 元" in block
    ok = monitor.get("/cases/OK").get_data(as_text=True)
    assert "此办件与当前事项目录一致" in ok
    english = monitor.get("/cases/FEE?lang=en").get_data(as_text=True).split('id="catalogue-findings"')[1]
    assert "The fee charged, ¥15.00, is above the catalogue&#39;s standard ¥10.00" in english.split("</section>")[0]
    department = login("d02")
    page = department.get("/catalogue/findings?month=2026-11&dept=D01").get_data(as_text=True)
    assert re.findall(r'data-finding="([a-z_]+)"', page) == ["statutory_differs"]
    assert 'name="dept"' not in page.split('id="findings-filters"')[1].split("</form>")[0]
