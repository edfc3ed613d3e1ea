"""The desk's pages and API on the real app over a real hub store: a complaint registered through the
form reaches the engine (its clock and its card on the page), steps in order, validation in words,
role checks, department scope, the audit log, and the same rules on the JSON API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.auth import connect, create_token, create_user, ensure_schema
from hub.supervision.queries import SupervisionProvider
from hub.supervision.service import SupervisorService
from hub.web.app import create_app, shutdown
from hub.web.blueprints.desk import attach
from hub.web.metrics import Registry
from tests.hub.test_desk import Hub, open_hub, seed_dept
from tests.supervision.helpers import Clock, query, service
from tests.web.conftest import FAST, PASSWORD, csrf_from, login

USERS = {"mon": ("monitor", None), "adm": ("admin", None), "lead": ("leader", None), "tel": ("telecom", None),
         "d01": ("department", "D01"), "d02": ("department", "D02")}


@dataclass
class Web:
    hub: Hub
    app: Flask
    svc: SupervisorService
    clock: Clock
    tokens: dict[str, str]

    def client(self, user: str) -> FlaskClient:
        client = self.app.test_client()
        assert login(client, user, PASSWORD).status_code == 302
        return client

    def api(self, user: str, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return self.app.test_client().open(path, method=method, headers=headers, **kw)

    def post(self, client: FlaskClient, url: str, data: dict[str, str]) -> Any:
        page = url if url.endswith("/new") else url.rsplit("/steps", 1)[0]
        token = csrf_from(client.get(page).get_data(as_text=True))
        return client.post(url, data={**data, "csrf_token": token})


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    clock = Clock("2026-11-12T09:00")
    hub = open_hub(tmp_path / "data", clock)
    seed_dept(hub.db)
    with closing(connect(hub.db)) as conn:
        ensure_schema(conn)
        conn.execute("INSERT OR IGNORE INTO sup_names VALUES ('dept', 'D02', '税务局', NULL)")
        conn.commit()
        tokens = {}
        for user, (role, dept) in USERS.items():
            create_user(conn, user, PASSWORD, role, dept_code=dept, params=FAST)
            tokens[user] = create_token(conn, user, "test")[0]
    svc = service(hub.db, clock)
    provider = SupervisionProvider(svc, clock=clock, cache_s=0, background=False)
    app = create_app({"database": hub.db, "secret_key": "s" * 32}, supervision=provider, testing=True,
                     metrics=Registry(), clock=clock, scrypt=FAST)
    attach(app, hub.desk)
    yield Web(hub, app, svc, clock, tokens)
    shutdown(app)
    svc.stop()
    hub.close()


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_a_complaint_registered_through_the_form_gets_its_clock_and_its_card(web: Web) -> None:
    mon = web.client("mon")
    assert "登记投诉" in text(mon.get("/complaints"))
    form = mon.get("/complaints/new")
    assert form.status_code == 200 and "市场监管局 (D01)" in text(form)
    done = web.post(mon, "/complaints/new", {
        "target_dept": "D01", "target_staff": "S01", "channel": "visit", "complainant": "李四",
        "filed_at": "2026-11-10T10:00", "text": "办证窗口推诿"})
    assert done.status_code == 302 and done.headers["Location"] == "/complaints/TS-20261110-001"
    page = text(mon.get("/complaints/TS-20261110-001"))
    assert "办证窗口推诿" in page and "受理台登记：mon" in page and "计时中" in page  # not consumed yet
    web.svc.step()
    page = text(mon.get("/complaints/TS-20261110-001"))
    assert "待受理" in page and "2026-11-17" in page and "剩 4 个工作日" in page  # due 11-17: 11-12,13,16,17 left
    listed = text(mon.get("/complaints"))
    assert "TS-20261110-001" in listed and "市场监管局" in listed and "剩 4 个工作日" in listed
    web.clock.set("2026-11-18T09:00")  # the acceptance was due 11-17: R2
    web.svc.step()
    mon = web.client("mon")  # six days later: a new session
    detail = mon.get("/complaints/TS-20261110-001").get_data(as_text=True)
    card = re.search(r'href="/cards/([^"]+)"', detail)
    assert card and "超期 1 个工作日" in text(mon.get("/complaints/TS-20261110-001"))
    card_page = mon.get(f"/cards/{card.group(1)}")
    assert card_page.status_code == 200 and 'href="/complaints/TS-20261110-001"' in card_page.get_data(as_text=True)
    assert "TS-20261110-001" in text(mon.get("/complaints?overdue=1"))
    assert "TS-20261110-001" not in text(mon.get("/complaints?state=closed"))
    audit = query(web.hub.db, "SELECT username, action, target FROM audit_log WHERE action LIKE 'desk.%'")
    assert audit == [("mon", "desk.complaint.filed", "TS-20261110-001")]


def test_steps_in_order_and_validation_in_words(web: Web) -> None:
    mon = web.client("mon")
    web.post(mon, "/complaints/new", {"target_dept": "D01", "channel": "letter", "filed_at": "2026-11-10T10:00",
                                       "text": "x", "complaint_id": "C-1"})
    url = "/complaints/C-1/steps"
    wrong = web.post(mon, url, {"step": "answered", "at": "2026-11-11T10:00"})
    assert wrong.status_code == 400 and "现在不能登记“答复”" in text(wrong)
    future = web.post(mon, url, {"step": "accepted", "at": "2026-11-13T10:00"})
    assert future.status_code == 400 and "还没有到" in text(future)
    early = web.post(mon, url, {"step": "accepted", "at": "2026-11-09T10:00"})
    assert early.status_code == 400 and "早于上一步" in text(early)
    for step, at in (("accepted", "2026-11-11T09:00"), ("answered", "2026-11-11T15:00")):
        assert web.post(mon, url, {"step": step, "at": at}).status_code == 302
    no_verdict = web.post(mon, url, {"step": "closed", "at": "2026-11-12T08:00"})
    assert no_verdict.status_code == 400 and "是否属实" in text(no_verdict)
    assert web.post(mon, url, {"step": "closed", "at": "2026-11-12T08:00", "substantiated": "yes"}).status_code == 302
    web.svc.step()
    page = text(mon.get("/complaints/C-1"))
    assert "属实" in page and "按期答复" in page and "登记下一步" not in page
    web.post(mon, "/complaints/new", {"target_dept": "D01", "channel": "letter", "filed_at": "2026-11-10T10:00",
                                       "text": "匿名信，无具体事实", "complaint_id": "C-2"})
    no_reason = web.post(mon, "/complaints/C-2/steps", {"step": "closed", "at": "2026-11-11T10:00", "text": " "})
    assert no_reason.status_code == 400 and "不予受理须写明理由" in text(no_reason)
    refuse = {"step": "closed", "at": "2026-11-11T10:00", "text": "无具体事实，不属于受理范围"}
    assert web.post(mon, "/complaints/C-2/steps", refuse).status_code == 302
    web.svc.step()
    refused = text(mon.get("/complaints/C-2"))
    assert "不予受理" in refused and "不属实" in refused and "登记下一步" not in refused
    assert query(web.hub.db, "SELECT closed_day, substantiated, active FROM complaints WHERE complaint_id = 'C-2'") == [
        ("2026-11-11", 0, 0)]
    listed = mon.get("/complaints").get_data(as_text=True)
    rows = {cid: listed.split(f">{cid}</a>", 1)[1].split("</tr>", 1)[0] for cid in ("C-1", "C-2")}
    assert "不予受理" in rows["C-2"] and "已办结" in rows["C-1"]  # closed without acceptance: named as such
    unknown = web.post(mon, "/complaints/new", {"target_dept": "D99", "channel": "letter", "text": "x"})
    assert unknown.status_code == 400 and "部门 D99 不在" in text(unknown)
    empty = web.post(mon, "/complaints/new", {"target_dept": "D01", "channel": "letter", "text": " "})
    assert empty.status_code == 400 and "请填写内容" in text(empty)
    english = mon.get("/complaints/new?lang=en")
    assert "Register a complaint" in text(english)


def test_roles_and_department_scope(web: Web) -> None:
    mon = web.client("mon")
    web.post(mon, "/complaints/new", {"target_dept": "D01", "channel": "letter", "text": "a", "complaint_id": "A1",
                                       "filed_at": "2026-11-10T10:00", "complainant": "王某"})
    web.post(mon, "/complaints/new", {"target_dept": "D02", "channel": "letter", "text": "b", "complaint_id": "B1",
                                       "filed_at": "2026-11-10T10:00"})
    web.svc.step()
    d01 = web.client("d01")
    assert "A1" in text(d01.get("/complaints")) and "B1" not in text(d01.get("/complaints"))
    assert "王某" in text(mon.get("/complaints/A1")) and "王某" not in d01.get("/complaints/A1").get_data(as_text=True)
    assert "王某" not in web.api("d01", "GET", "/api/v1/complaints/A1").get_data(as_text=True)
    assert d01.get("/complaints/B1").status_code == 404 and d01.get("/complaints/A1").status_code == 200
    assert "登记投诉" not in text(d01.get("/complaints")) and "登记下一步" not in text(d01.get("/complaints/A1"))
    token = csrf_from(d01.get("/complaints").get_data(as_text=True))
    assert d01.post("/complaints/A1/steps", data={"step": "accepted", "csrf_token": token}).status_code == 403
    assert d01.get("/complaints/new").status_code == 403
    lead = web.client("lead")
    assert "B1" in text(lead.get("/complaints")) and lead.get("/complaints/new").status_code == 403
    assert web.client("tel").get("/complaints").status_code == 403
    assert web.client("adm").get("/disclosures/new").status_code == 200
    no_csrf = mon.post("/complaints/new", data={"target_dept": "D01", "channel": "letter", "text": "c"})
    assert no_csrf.status_code == 403
    assert query(web.hub.db, "SELECT COUNT(*) FROM records") == [(2,)]


def test_disclosure_request_through_the_form_with_its_pauses(web: Web) -> None:
    mon = web.client("mon")
    done = web.post(mon, "/disclosures/new", {"dept_code": "D02", "channel": "web", "applicant": "王五",
                                               "received_at": "2026-11-02T09:00", "text": "某项目环评批复"})
    assert done.status_code == 302
    url = done.headers["Location"]
    assert url == "/disclosures/GK-20261102-001"
    web.svc.step()
    assert "2026-11-30" in text(mon.get(url))  # 20 working days from 11-03
    steps = url + "/steps"
    assert web.post(mon, steps, {"step": "consult_started", "at": "2026-11-05T09:00"}).status_code == 302
    bad = web.post(mon, steps, {"step": "answered", "at": "2026-11-06T09:00", "answer_type": "public"})
    assert bad.status_code == 400
    web.svc.step()
    assert "暂停计时" in text(mon.get(url)) and "GK-20261102-001" in text(mon.get("/disclosures?state=paused"))
    assert web.post(mon, steps, {"step": "consult_ended", "at": "2026-11-09T09:00"}).status_code == 302
    ext = web.post(mon, steps, {"step": "extended", "at": "2026-11-10T09:00", "extension_days": "10"})
    assert ext.status_code == 302
    web.svc.step()
    page = text(mon.get(url))
    assert "2026-12-17" in page, page  # 20 + 10 working days, 11-05..11-09 not counted
    answer = {"step": "answered", "at": "2026-11-11T09:00", "answer_type": "partial"}
    assert web.post(mon, steps, answer).status_code == 302
    web.svc.step()
    page = text(mon.get(url))
    assert "部分公开" in page and "按期答复" in page


def test_the_json_api_enters_and_reads_with_the_same_rules(web: Web) -> None:
    made = web.api("mon", "POST", "/api/v1/complaints", json={
        "target_dept": "D01", "text": "电话不接", "channel": "phone", "filed_at": "2026-11-11T09:00+08:00"})
    assert made.status_code == 200, made.json
    ident = made.json["id"]
    assert made.json["record"]["seq"] == 1 and len(made.json["record"]["hash"]) == 64
    refused = web.api("mon", "POST", f"/api/v1/complaints/{ident}/steps", json={"step": "answered"})
    assert refused.status_code == 409 and refused.json["error"] == "refused"  # well-formed, out of order
    assert "not possible now" in refused.json["detail"]
    bad = web.api("mon", "POST", f"/api/v1/complaints/{ident}/steps", json={"step": "accepted", "at": "soon"})
    assert bad.status_code == 400 and bad.json["error"] == "invalid" and "not a time" in bad.json["detail"]
    leap_second = {"step": "accepted", "at": "2099-01-01t00:00:60z"}
    leap = web.api("mon", "POST", f"/api/v1/complaints/{ident}/steps", json=leap_second)
    assert leap.status_code == 409 and "in the future" in leap.json["detail"]  # RFC 3339 read, then refused
    assert web.api("d01", "POST", "/api/v1/complaints", json={"target_dept": "D01"}).status_code == 403
    assert web.api("mon", "POST", "/api/v1/complaints/NOPE/steps", json={"step": "accepted"}).status_code == 404
    accept = {"step": "accepted", "at": "2026-11-11T10:00"}
    ok = web.api("adm", "POST", f"/api/v1/complaints/{ident}/steps", json=accept)
    assert ok.status_code == 200 and ok.json["record"]["seq"] == 2
    web.svc.step()
    listed = web.api("lead", "GET", "/api/v1/complaints?state=answer").json
    assert [c["complaint_id"] for c in listed["items"]] == [ident]
    assert listed["items"][0]["clock"]["due_date"] == "2026-12-02"  # 15 G from 11-11
    assert web.api("d02", "GET", "/api/v1/complaints").json["total"] == 0
    assert web.api("d02", "GET", f"/api/v1/complaints/{ident}").status_code == 404
    detail = web.api("d01", "GET", f"/api/v1/complaints/{ident}").json
    assert [e["type"] for e in detail["timeline"]] == ["complaint.filed", "complaint.accepted"]
    assert detail["next_steps"] == ["answered"] and all(e["verified"] for e in detail["timeline"])
    req = web.api("mon", "POST", "/api/v1/disclosures", json={"dept_code": "D02", "text": "公开", "channel": "web"})
    assert req.status_code == 200 and req.json["id"] == "GK-20261112-001"
    assert web.api("tel", "GET", "/api/v1/disclosures").status_code == 403
    assert "/api/v1/complaints/{complaint_id}/steps" in web.api("mon", "GET", "/api/v1/openapi.json").json["paths"]


def test_without_a_desk_the_pages_read_and_the_forms_say_so(web: Web) -> None:
    web.app.extensions.pop("xiaoneng.desk")
    mon = web.client("mon")
    assert "受理台未在本进程运行" in text(mon.get("/complaints/new"))
    refused = web.post(mon, "/complaints/new", {"target_dept": "D01", "channel": "letter", "text": "x"})
    assert refused.status_code == 409
    api = web.api("mon", "POST", "/api/v1/complaints", json={"target_dept": "D01", "text": "x", "channel": "letter"})
    assert api.status_code == 409 and api.json["error"] == "desk_unavailable"


def test_a_desk_complaint_exports_as_evidence_that_verifies_offline(web: Web) -> None:
    from provisioning.hubkey import hub_public_key
    from shared.evidence import verify_package

    mon = web.client("mon")
    web.post(mon, "/complaints/new", {"target_dept": "D01", "channel": "letter", "text": "收费不公示",
                                       "complaint_id": "E1", "filed_at": "2026-11-10T10:00"})
    web.post(mon, "/complaints/E1/steps", {"step": "accepted", "at": "2026-11-11T10:00"})
    early = mon.get("/complaints/E1/evidence.zip")
    assert early.status_code == 409 and "checkpoint" in early.get_data(as_text=True)  # not yet signed over
    web.hub.ingest.checkpoint()
    package = mon.get("/complaints/E1/evidence.zip")
    assert package.status_code == 200 and package.mimetype == "application/zip"
    report = verify_package(package.data, hub_public_key(web.hub.data))
    assert report.ok, report.problems
    assert (report.case_id, report.case_records) == ("complaint:E1", 2)
    assert web.client("d01").get("/complaints/E1/evidence.zip").status_code == 403  # it names the complainant
    assert ("mon", "complaint.evidence", "E1") in query(web.hub.db, "SELECT username, action, target FROM audit_log")


def test_a_second_substantiated_complaint_flags_the_staff_member(web: Web) -> None:
    mon = web.client("mon")
    for ident in ("F1", "F2"):
        web.post(mon, "/complaints/new", {"target_dept": "D01", "target_staff": "S09", "channel": "visit",
                                           "text": "态度恶劣", "complaint_id": ident, "filed_at": "2026-11-02T10:00"})
        for step, at in (("accepted", "2026-11-03T10:00"), ("answered", "2026-11-04T10:00")):
            web.post(mon, f"/complaints/{ident}/steps", {"step": step, "at": at})
        closing_step = {"step": "closed", "at": "2026-11-05T10:00", "substantiated": "yes"}
        web.post(mon, f"/complaints/{ident}/steps", closing_step)
        web.svc.step()
        flagged = "staff-flag" in mon.get(f"/complaints/{ident}").get_data(as_text=True)
        assert flagged == (ident == "F2")
    assert "S09 2026 年属实投诉已 2 件" in text(mon.get("/complaints/F2"))


def test_the_devices_page_shows_the_desk_but_offers_no_revoke_or_push(web: Web) -> None:
    from hub.configpush import target_agents
    from provisioning.registry import Registry
    from shared.errors import ConfigError

    admin = web.client("adm")
    page = admin.get("/devices").get_data(as_text=True)
    assert "<code>hub-desk</code>" in page and "中心受理台" in page
    assert "/devices/hub-desk/revoke" not in page and 'value="agent:hub-desk"' not in page
    assert 'value="site:hub-bureau"' not in page
    token = csrf_from(page)
    refused = admin.post("/devices/hub-desk/revoke", data={"csrf_token": token}, follow_redirects=True)
    assert "不能在此吊销" in refused.get_data(as_text=True)
    agent = Registry(web.hub.db).agent("hub-desk")
    assert agent is not None and agent.revoked_at is None
    with pytest.raises(ConfigError, match="takes no configuration"):
        target_agents(web.hub.db, "agent", "hub-desk")
