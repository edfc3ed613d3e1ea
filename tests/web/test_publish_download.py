"""外网公布 from the rankings page: admins and monitors download the month's public export (zip);
leaders see no link and are refused; the download is audited."""

from __future__ import annotations

import io
import json
import zipfile

from hub.auth.audit import list_audit
from tests.web.conftest import FakeSupervision, Hub


def test_a_monitor_downloads_the_public_export(hub: Hub) -> None:
    hub.app.extensions["xiaoneng"].supervision = FakeSupervision()
    client = hub.login("monitor")
    page = client.get("/rankings?period=2026-11").get_data(as_text=True)
    assert 'id="publish-download"' in page and 'href="/rankings/2026-11/publish.zip"' in page
    assert 'id="publish-download"' not in client.get("/rankings?period=2026-Q4").get_data(as_text=True)
    response = client.get("/rankings/2026-11/publish.zip?city=样例市")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert 'filename="xiaoneng-ranking-2026-11.zip"' in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert sorted(archive.namelist()) == ["xiaoneng-ranking-2026-11/index.html",
                                              "xiaoneng-ranking-2026-11/ranking.json"]  # fmt: skip
        data = json.loads(archive.read("xiaoneng-ranking-2026-11/ranking.json"))
        page = archive.read("xiaoneng-ranking-2026-11/index.html").decode()
    assert data["title"] == "样例市行政效能电子监察 2026年11月部门绩效排名"
    assert [(d["rank"], d["name"], d["score"]) for d in data["departments"]] == [(1, "市场监管局", 98.5),
                                                                                (2, "公安局", 71.0)]  # fmt: skip
    assert data["departments"][0]["counts"]["cases_completed"] == 200
    assert "<script" not in page and "市场监管局" in page
    with hub.conn() as conn:
        entries, _total = list_audit(conn, action="ranking.publish")
    assert [(e.username, e.target) for e in entries] == [("monitor-user", "2026-11")]


def test_leaders_and_departments_may_not_publish(hub: Hub) -> None:
    hub.app.extensions["xiaoneng"].supervision = FakeSupervision()
    leader = hub.login("leader")
    assert 'id="publish-download"' not in leader.get("/rankings?period=2026-11").get_data(as_text=True)
    assert leader.get("/rankings/2026-11/publish.zip").status_code == 403
    assert hub.login("department").get("/rankings/2026-11/publish.zip").status_code == 403
    admin = hub.login("admin")
    assert admin.get("/rankings/2026-13/publish.zip").status_code == 400
    assert admin.get("/rankings/2026-11/publish.zip?city=<b>").status_code == 400
