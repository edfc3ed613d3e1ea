"""The catalogue pages for admin, monitor and department users: import (good and bad files), list
and search, item page with its versions, an audited edit, export, an older version."""

from __future__ import annotations

import io

from hub.auth.audit import list_audit
from hub.catalogue.files import read_csv, read_xlsx, write_xlsx
from hub.catalogue.sample import sample_items
from tests.web.conftest import Hub, csrf_from, page_csrf

GOOD = (
    "事项编码,事项名称,部门编码,法定时限,法定时限单位,承诺时限,承诺时限单位,收费标准（分）,设定依据\n"
    "990100001001,食品经营许可,SCJG,20,G,5,G,0,《食品经营许可管理办法》第十四条\n"
    "990100007002,居民身份证申领,GA,60,Z,30,Z,2000,《居民身份证法》第十二条\n"
).encode("utf-8-sig")
BAD = GOOD.replace(b"SCJG,20,G,5,G", b"SCJG,20,X,5,G").replace(b"GA,60,Z,30", b"GA,60,Z,90")


def _upload(client, data: bytes, name: str):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get("/catalogue").get_data(as_text=True))
    form = {"csrf_token": token, "note": "首批", "file": (io.BytesIO(data), name)}
    return client.post("/catalogue/import", data=form, content_type="multipart/form-data")


def test_an_admin_imports_searches_edits_and_exports(hub: Hub) -> None:
    admin = hub.login("admin")
    empty = admin.get("/catalogue").get_data(as_text=True)
    assert 'id="catalogue-empty"' in empty and 'id="catalogue-import"' in empty
    response = _upload(admin, BAD, "bad.csv")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "第 2 行「法定时限单位」列" in page and "第 3 行「承诺时限」列" in page
    assert 'id="catalogue-empty"' in page  # nothing imported
    response = _upload(admin, write_xlsx(sample_items()), "sample.xlsx")
    assert response.status_code == 302
    response = _upload(admin, GOOD, "good.csv")
    assert response.status_code == 302
    page = admin.get("/catalogue").get_data(as_text=True)
    assert "v2" in page and "居民身份证申领" in page and "食品生产许可" not in page
    assert admin.get("/catalogue?q=身份证").get_data(as_text=True).count("<code>99010000") == 1
    assert "居民身份证申领" not in admin.get("/catalogue?dept=SCJG").get_data(as_text=True)
    old = admin.get("/catalogue?version=1").get_data(as_text=True)
    assert 'id="old-version"' in old and "食品生产许可" in old

    item_url = "/catalogue/items/990100001001"
    token = csrf_from(admin.get(item_url).get_data(as_text=True))
    form = {"csrf_token": token, "item_name": "食品经营许可", "dept_code": "SCJG", "statutory_limit": "20",
            "statutory_unit": "G", "promised_limit": "3", "promised_unit": "G", "fee_fen": "0",
            "legal_basis": "《食品经营许可管理办法》第十四条", "note": "承诺提速"}  # fmt: skip
    bad = admin.post(item_url, data={**form, "promised_limit": "30"})
    assert bad.status_code == 400 and "长于法定时限" in bad.get_data(as_text=True)
    assert admin.post(item_url, data=form).status_code == 302
    assert "没有改动" in admin.post(item_url, data=form, follow_redirects=True).get_data(as_text=True)
    assert admin.post("/catalogue/items/NEW-1", data={**form, "csrf_token": token}).status_code == 404
    page = admin.get(item_url).get_data(as_text=True)
    assert "3 个工作日" in page and "承诺提速" in page
    history = page.split('id="item-history"')[1]
    assert [v for v in ("v3", "v2", "v1") if v in history] == ["v3", "v2"]  # not in the sample (v1)
    with hub.conn() as conn:
        entries, _ = list_audit(conn, action="catalogue.edit")
        imports, _ = list_audit(conn, action="catalogue.import")
    assert [(e.username, e.target, e.detail["changes"]) for e in entries] == [
        ("admin-user", "990100001001", {"promised_limit": ["5", "3"]})]
    assert [(e.target, e.detail["file"], e.detail["items"]) for e in imports] == [("v2", "good.csv", 2),
                                                                                 ("v1", "sample.xlsx", 94)]

    csv_file = admin.get("/catalogue/export?format=csv")
    assert csv_file.status_code == 200 and 'catalogue-v3.csv' in csv_file.headers["Content-Disposition"]
    exported = read_csv(csv_file.data)
    assert [i.promised.value for i in exported] == [3, 30]
    assert read_xlsx(admin.get("/catalogue/export?format=xlsx&version=1").data) == sample_items()
    assert admin.get("/catalogue/export?format=pdf").status_code == 400


def test_monitors_and_departments_read_but_may_not_change(hub: Hub) -> None:
    assert _upload(hub.login("admin"), GOOD, "good.csv").status_code == 302
    for role in ("monitor", "department", "leader"):
        client = hub.login(role)
        page = client.get("/catalogue").get_data(as_text=True)
        assert "食品经营许可" in page and 'id="catalogue-import"' not in page, role
        item = client.get("/catalogue/items/990100001001").get_data(as_text=True)
        assert 'id="item-edit"' not in item and 'id="item-history"' in item, role
        assert client.get("/catalogue/export?format=xlsx").status_code == 200, role
        token = page_csrf(client)
        assert client.post("/catalogue/items/990100001001", data={"csrf_token": token}).status_code == 403
        assert _upload_status(client, token) == 403
    assert hub.login("telecom").get("/catalogue").status_code == 403
    assert hub.login("monitor").get("/catalogue/items/NOPE").status_code == 404


def _upload_status(client, token: str) -> int:  # type: ignore[no-untyped-def]
    return int(client.post("/catalogue/import", data={"csrf_token": token, "file": (io.BytesIO(GOOD), "g.csv")},
                           content_type="multipart/form-data").status_code)  # fmt: skip


def test_the_pages_render_in_english(hub: Hub) -> None:
    admin = hub.login("admin")
    assert _upload(admin, BAD, "bad.csv").status_code == 400
    response = admin.get("/catalogue?lang=en")
    assert response.status_code == 200
    bad = _upload(admin, BAD, "bad.csv").get_data(as_text=True)
    assert "Row 2, column Statutory limit unit: must be G (working days)" in bad
    assert _upload(admin, GOOD, "good.csv").status_code == 302
    page = admin.get("/catalogue/items/990100007002?lang=en").get_data(as_text=True)
    assert "60 calendar days" in page and "Version history" in page
    assert "Case checks" in admin.get("/catalogue/findings?month=2026-11&lang=en").get_data(as_text=True)


def test_departments_are_named_as_their_own_records_name_them(hub: Hub) -> None:
    admin = hub.login("admin")
    assert _upload(admin, GOOD, "good.csv").status_code == 302
    assert "<td>SCJG</td>" in admin.get("/catalogue").get_data(as_text=True)  # no record has named it yet
    conn = hub.conn()
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS sup_names (kind TEXT, code TEXT, name TEXT, dept_code TEXT, "
                     "PRIMARY KEY (kind, code))")  # fmt: skip
        conn.execute("INSERT OR REPLACE INTO sup_names VALUES ('dept', 'SCJG', '市市场监督管理局', NULL)")
        conn.commit()
    finally:
        conn.close()
    page = admin.get("/catalogue").get_data(as_text=True)
    assert "<td>市市场监督管理局</td>" in page and "<td>SCJG</td>" not in page
    assert '<option value="SCJG">市市场监督管理局</option>' in page
    item = admin.get("/catalogue/items/990100001001").get_data(as_text=True)
    assert '市市场监督管理局 <span class="muted">SCJG</span>' in item
