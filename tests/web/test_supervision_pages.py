"""The supervision screens (cases, cards, rankings, reports, the wall's feed) with a provider plugged in,
and every card action form: CSRF, roles, department scope, validation, audit, live event."""

from __future__ import annotations

import re
from datetime import date

import pytest

from hub.auth.audit import list_audit
from hub.supervision.cardviews import card_page
from hub.supervision.caseviews import timeline
from hub.supervision.overview import overview_figures
from hub.supervision.schema import connect
from hub.web.pagination import PageRequest
from tests.supervision.conftest import Month, month  # noqa: F401 - the fixture
from tests.supervision.helpers import ts
from tests.web.conftest import FakeSupervision, Hub, page_csrf

LONG_CASE = "990100202611120000001376"  # a real city's case numbers are long digit strings


@pytest.fixture
def engine(hub: Hub) -> FakeSupervision:
    fake = FakeSupervision()
    hub.app.extensions["xiaoneng"].supervision = fake
    return fake


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- cases ----------------------------------------------------------------------------------------


def test_cases_board_shows_status_remaining_time_and_filters(hub: Hub, engine: FakeSupervision) -> None:
    client = hub.login("monitor")
    html = client.get("/cases").get_data(as_text=True)
    assert 'href="/cases/C-1"' in html and "营业执照" in html and "市场监管局" in html
    assert "剩 2 个工作日" in html, "remaining working days of an open case"
    assert "超期 12 个工作日" in html, "an overdue case counts its days past the due date"
    assert 'class="badge status-yellow">黄牌<' in html
    only = client.get("/cases?status=yellow").get_data(as_text=True)
    assert "户口迁移" in only and "营业执照" not in only
    assert '<option value="yellow" selected>' in only
    found = client.get("/cases?q=营业").get_data(as_text=True)
    assert "C-1" in found and "C-2" not in found
    assert 'value="营业"' in found, "the search box keeps what was typed"


@pytest.mark.parametrize(("query", "detail"), [
    ("status=purple", "status must be one of"),
    ("from=2026-13-01", "from must be a date"),
    ("to=2026-02-30", "to must be a date"),
    ("q=" + "x" * 101, "q is longer than 100"),
    ("per_page=100000", "per_page must be an integer"),
])
def test_cases_filters_are_validated(hub: Hub, engine: FakeSupervision, query: str, detail: str) -> None:
    client = hub.login("monitor")
    assert client.get(f"/cases?{query}").status_code == 400
    response = client.get(f"/api/v1/cases?{query}")
    assert response.status_code == 400 and detail in response.get_json()["detail"]


def test_case_page_has_clock_timeline_and_cards(hub: Hub, engine: FakeSupervision) -> None:
    html = hub.login("leader").get("/cases/C-1").get_data(as_text=True)
    assert "剩 2 个工作日" in html and "5 个工作日" in html and "3 个工作日" in html
    assert "2026-11-27" in html and "2026-12-04" in html, "promised and statutory due dates"
    assert "2026-11-21" in html and "2026-11-23" in html and "缺少材料" in html, "the pause"
    assert f'title="{"ab" * 32}"' in html and "abababababab…" in html, "each record's hash"
    assert "已校验" in html and "校验失败" in html, "each record's verification state"
    assert 'href="/cards/K-1"' in html and "补正告知" in html
    assert hub.login("department").get("/cases/C-2").status_code == 404, "another department's case"


def test_department_users_do_not_get_a_department_filter(hub: Hub, engine: FakeSupervision) -> None:
    assert 'name="dept"' not in hub.login("department").get("/cases").get_data(as_text=True)
    assert 'name="dept"' in hub.login("monitor").get("/cases").get_data(as_text=True)


# -- cards ----------------------------------------------------------------------------------------


def test_card_queue_by_level_and_state(hub: Hub, engine: FakeSupervision) -> None:
    client = hub.login("monitor")
    html = client.get("/cards").get_data(as_text=True)
    assert re.findall(r'data-card="([\w-]+)"', html) == ["K-1", "K-2"]
    red = client.get("/cards?level=red").get_data(as_text=True)
    assert re.findall(r'data-card="([\w-]+)"', red) == ["K-2"]
    assert client.get("/cards?level=purple").status_code == 400
    dept = hub.login("department").get("/cards").get_data(as_text=True)
    assert re.findall(r'data-card="([\w-]+)"', dept) == ["K-1"], "a department sees its own cards only"


def test_card_queue_opens_on_what_needs_action(hub: Hub, engine: FakeSupervision,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dict[str, str]] = []
    original = engine.alerts

    def spy(conn, filters, dept, page):  # type: ignore[no-untyped-def]
        asked.append(dict(filters))
        return original(conn, filters, dept, page)

    monkeypatch.setattr(engine, "alerts", spy)
    client = hub.login("monitor")
    html = client.get("/cards").get_data(as_text=True)
    assert 'data-tab="action" class="tab-action active"' in html and "待处理" in html and "待督办" in html
    assert asked[0] == {"tab": "action"}, "the queue opens on what needs action"
    assert [a["tab"] for a in asked[1:]] == ["action", "supervise", "rectify", "appeal"], "the tabs' sizes"
    asked.clear()
    client.get("/cards?dept=D01&rule=R2&month=2026-11&standing=1")  # the rankings' link
    assert asked[0] == {"dept": "D01", "rule": "R2", "month": "2026-11", "standing": "1", "tab": "all"}
    asked.clear()
    client.get("/cards?tab=historical&level=red")
    assert asked[0] == {"tab": "historical", "level": "red"}
    for bad in ("month=2026-13", "month=11-2026", "tab=purple", "standing=2", "historical=yes", "from=2026-02-30"):
        assert client.get(f"/cards?{bad}").status_code == 400, bad
        assert client.get(f"/api/v1/alerts?{bad}").status_code == 400, bad
    asked.clear()
    assert client.get("/api/v1/alerts").status_code == 200
    assert asked == [{}], "the API's default stays every card"


def more_cards(month: Month) -> None:  # noqa: F811 - the fixture's name
    """Three live cards on top of the small month: a late-reported acceptance (R8, 31 h), a refusal
    without a reason (R5) and an immediate case with a long number left open (R2, raised 11-13);
    and a historical one: case K of October, completed late, whose facts reach the hub on 11-13."""
    feed = month.feed
    # history first seen now: a case of October completed late (its facts come before today's)
    feed.accept("K", "2026-10-08T09:00", dept="D02", dept_name="税务局", window="W02", staff="S02", item="I02",
                item_name="税务登记")
    feed.complete("K", "2026-10-20T15:00")
    feed.accept("G", "2026-11-10T09:12", recorded="2026-11-11T16:40")
    feed.event("step", "G", "2026-11-11T17:00", step_name="审核", action="通过", handler="S01")  # a staff number
    feed.add("case.refused", "2026-11-11T10:00", {"case_id": "H", "item_code": "I01", "dept_code": "D01",
                                                  "at": ts("2026-11-11T10:00"), "reason": ""})
    feed.accept(LONG_CASE, "2026-11-12T09:30", limit=0, statutory=None, kind=1, item_name="酒类零售许可")
    feed.flush()
    month.clock.set("2026-11-12T09:40")
    month.service.step()
    month.clock.set("2026-11-13T08:00")
    month.service.step()


def test_card_tabs_and_filters_on_the_real_store(month: Month) -> None:  # noqa: F811 - the imported fixture
    more_cards(month)
    conn = connect(month.db, readonly=True)
    try:
        def rules(scope: str | None = None, **filters: str) -> list[tuple[str, str | None]]:
            page = card_page(conn, filters, scope, PageRequest(1, 50))
            return sorted((item["rule"], item["case_id"]) for item in page.items)

        assert rules(tab="action") == [("R2", LONG_CASE), ("R5", "H"), ("R8", "G")]
        assert rules(tab="supervise") == rules(tab="action") and rules(tab="rectify") == []
        everything = rules()
        assert set(rules(tab="action")) < set(everything) and rules(tab="all") == everything
        assert rules(month="2026-11", rule="R2", standing="1") == [("R2", LONG_CASE), ("R2", "D")]
        assert rules(month="2026-10") == [("R2", "K")], "a historical card counts in the month it happened in"
        assert rules(**{"from": "2026-11-11", "to": "2026-11-11"}) == [("R5", "H")]
        assert rules("D02", tab="all") == [("R2", "K")] and rules("D01", dept="D02") == []
        history = rules(tab="historical")
        assert history == rules(historical="1") and ("R2", "K") in history, "imported history"
        (k,) = card_page(conn, {"tab": "historical", "case": "K"}, None, PageRequest(1, 5)).items
        assert k["historical"] and k["state_label"] == "card_state.recorded" and k["counts"]
        assert k["title"] == "办件 K（税务登记）超过承诺办结日 2026-10-14，于 2026-10-20 办结，超期 4 个工作日"
        live = card_page(conn, {"historical": "0"}, None, PageRequest(1, 50)).items
        assert all(not item["historical"] for item in live)
        (r8,) = [i for i in card_page(conn, {"rule": "R8"}, None, PageRequest(1, 5)).items]
        assert r8["title"] == ("办件 G（食品经营许可）的受理记录迟报 31 小时"
                               "（2026-11-10 09:12 发生，2026-11-11 16:40 报送）")
        assert r8["dept_name"] == "市场监管局" and r8["staff_name"] == "职员S01"
        assert r8["state_label"] == "card_state.raised"
        (h,) = card_page(conn, {"case": "H"}, None, PageRequest(1, 5)).items
        month.provider.act(h["card_id"], "supervise", "mon", "三日内说明理由", month.clock())
        assert rules(tab="rectify") == [("R5", "H")] and ("R5", "H") not in rules(tab="supervise")
        action = [i["card_id"] for i in card_page(conn, {"tab": "action"}, None, PageRequest(1, 50)).items]
        one_by_one = [card_page(conn, {"tab": "action"}, None, PageRequest(n, 1)).items[0]["card_id"]
                      for n in range(1, len(action) + 1)]
        assert one_by_one == action and len(action) == 3, "states merged newest first, page by page"
        (step,) = [e for e in timeline(conn, "G") if e["type"] == "case.step"]
        assert step["names"] == {"handler": "职员S01"}, "a handler given by staff number reads as the person"
        today = overview_figures(conn, None, date(2026, 11, 13))
        assert today["cards_today"] == 1, "today's cards: the live cards raised today"
        yesterday = overview_figures(conn, None, date(2026, 11, 12))
        assert yesterday["cards_today"] == 2, "R5 and R8 were raised on 11-12; K's card, raised then too, is history"
    finally:
        conn.close()


def forms(html: str) -> list[str]:
    return re.findall(r'<input type="hidden" name="action" value="(\w+)">', html)


def test_each_role_is_offered_what_it_may_do(hub: Hub, engine: FakeSupervision) -> None:
    assert forms(hub.login("monitor").get("/cards/K-1").get_data(as_text=True)) == ["supervise", "respond", "rectify"]
    assert forms(hub.login("admin").get("/cards/K-2").get_data(as_text=True)) == ["respond", "appeal", "rectify"]
    assert forms(hub.login("department").get("/cards/K-1").get_data(as_text=True)) == ["respond", "rectify"]
    leader = hub.login("leader").get("/cards/K-1").get_data(as_text=True)
    assert forms(leader) == [] and "当前没有您可执行的操作" in leader
    assert hub.login("department").get("/cards/K-2").status_code == 404, "another department's card"


def act(client, card: str, action: str, note: str = "", csrf: str | None = None):  # type: ignore[no-untyped-def]
    token = page_csrf(client) if csrf is None else csrf
    return client.post(f"/cards/{card}/action", data={"action": action, "note": note, "csrf_token": token})


def test_the_card_lifecycle_through_the_forms_is_audited_and_announced(hub: Hub, engine: FakeSupervision) -> None:
    monitor, dept = hub.login("monitor"), hub.login("department")
    with hub.bus.subscribe() as sub:
        response = act(monitor, "K-1", "supervise", "三日内办结")
        assert response.status_code == 302 and response.headers["Location"] == "/cards/K-1"
        event = sub.get(timeout=1)
        assert event is not None and event.kind == "card.updated"
        assert dict(event.data) == {"card_id": "K-1", "state": "notified", "level": "yellow", "dept_code": "D01",
                                    "case_id": "C-1", "action": "supervise"}
    assert "已完成：发出督办" in monitor.get("/cards/K-1").get_data(as_text=True)
    assert act(dept, "K-1", "respond", "已联系申请人").status_code == 302
    assert act(dept, "K-1", "appeal", "补正期间不计时").status_code == 302
    assert forms(monitor.get("/cards/K-1").get_data(as_text=True)) == ["uphold", "withdraw"]
    assert act(monitor, "K-1", "withdraw", "申诉成立").status_code == 302
    assert engine.CARDS[0]["state"] == "withdrawn"
    assert [a[:3] for a in engine.acted] == [
        ("K-1", "supervise", "monitor-user"), ("K-1", "respond", "department-user"),
        ("K-1", "appeal", "department-user"), ("K-1", "withdraw", "monitor-user")]
    with hub.conn() as conn:
        entries, _total = list_audit(conn, action=None, limit=50, offset=0)
    audited = [(e.action, e.target, e.username) for e in entries if e.action.startswith("card.")]
    assert sorted(audited) == sorted([
        ("card.supervise", "K-1", "monitor-user"), ("card.respond", "K-1", "department-user"),
        ("card.appeal", "K-1", "department-user"), ("card.withdraw", "K-1", "monitor-user")])
    withdraw = next(e for e in entries if e.action == "card.withdraw")
    assert withdraw.detail["note"] == "申诉成立" and withdraw.detail["before"] == "appealed"
    assert withdraw.detail["after"] == "withdrawn" and withdraw.detail["request_id"]


def test_action_forms_are_refused_without_a_csrf_token(hub: Hub, engine: FakeSupervision) -> None:
    client = hub.login("monitor")
    for token in ("", "x" * 43):
        response = act(client, "K-1", "supervise", csrf=token)
        assert response.status_code == 403 and "表单已过期" in response.get_data(as_text=True)
    assert engine.acted == [] and engine.CARDS[0]["state"] == "raised"


@pytest.mark.parametrize(("role", "card", "action", "note", "status", "message"), [
    ("leader", "K-1", "supervise", "", 403, ""),
    ("department", "K-2", "appeal", "不服", 404, ""),
    ("department", "K-1", "supervise", "", 400, "您的角色不能执行此操作"),
    ("monitor", "K-1", "appeal", "不服", 400, "您的角色不能执行此操作"),
    ("monitor", "K-1", "respond", "  ", 400, "此操作须填写理由"),
    ("monitor", "K-1", "explode", "", 400, "不支持的操作"),
    ("monitor", "K-1", "close", "", 400, "当前状态不允许"),
    ("monitor", "K-1", "respond", "x" * 2001, 400, "说明过长"),
    ("monitor", "K-404", "supervise", "", 404, ""),
])
def test_refused_actions(hub: Hub, engine: FakeSupervision, role: str, card: str, action: str, note: str,
                         status: int, message: str) -> None:
    response = act(hub.login(role), card, action, note)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert engine.acted == []


def test_a_card_that_moved_meanwhile_is_a_conflict(hub: Hub, engine: FakeSupervision) -> None:
    client = hub.login("monitor")
    page = client.get("/cards/K-1")  # the form is shown while the card is raised
    assert page.status_code == 200
    engine.CARDS[0]["state"] = "appealed"  # someone else moved it; the engine refuses a 督办 now
    original = engine.card

    def stale(conn, card_id, dept):  # type: ignore[no-untyped-def]
        found = original(conn, card_id, dept)
        return None if found is None else {**found, "state": "raised", "allowed": ["notify", "rectify"]}

    engine.card = stale  # type: ignore[method-assign]
    response = act(client, "K-1", "supervise")
    assert response.status_code == 409 and "可能已被他人处理" in response.get_data(as_text=True)


def test_card_actions_through_the_api(hub: Hub, engine: FakeSupervision) -> None:
    token = hub.token("monitor", "workflow")
    client = hub.client()
    response = client.post("/api/v1/alerts/K-1/actions", json={"action": "supervise", "note": "请办结"},
                           headers=bearer(token))
    assert response.status_code == 200 and response.get_json()["state"] == "notified"
    one = client.get("/api/v1/alerts/K-1", headers=bearer(token)).get_json()
    assert one["offered"] == ["respond", "rectify"]
    bad = client.post("/api/v1/alerts/K-1/actions", json={"action": "uphold"}, headers=bearer(token))
    assert bad.status_code == 400 and "uphold needs a reason" in bad.get_json()["detail"]
    assert client.post("/api/v1/alerts/K-1/actions", data="x", headers=bearer(token)).status_code == 400
    assert client.post("/api/v1/alerts/K-9/actions", json={"action": "close"}, headers=bearer(token)).status_code == 404
    session = hub.login("monitor")
    refused = session.post("/api/v1/alerts/K-1/actions", json={"action": "respond", "note": "x"})
    assert refused.status_code == 403 and refused.get_json()["error"] == "csrf_failed"
    ok = session.post("/api/v1/alerts/K-1/actions", json={"action": "respond", "note": "x"},
                      headers={"X-CSRF-Token": page_csrf(session)})
    assert ok.status_code == 200
    leader = hub.token("leader", "reader")
    refused_leader = client.post("/api/v1/alerts/K-1/actions", json={"action": "close"}, headers=bearer(leader))
    assert refused_leader.status_code == 403


# -- rankings, reports, wall ----------------------------------------------------------------------


def test_rankings_page_explains_lost_points_and_charts(hub: Hub, engine: FakeSupervision) -> None:
    client = hub.login("leader")
    html = client.get("/rankings?period=2026-11").get_data(as_text=True)
    assert "市场监管局" in html and "98.5" in html and 'class="badge grade-excellent">优秀<' in html
    assert "1 项，共扣 1.5 分" in html and "R2 超期 黄牌 ×1" in html and "100 × 1 × 3 ÷ 200" in html
    # counts beside the score, grouped deductions linking to the filtered cards list (no list of cards)
    assert "<td class=\"num\">200</td>" in html and "100.0%" in html
    assert 'href="/cards?dept=D01&amp;rule=R2&amp;month=2026-11&amp;standing=1"' in html
    quarterly = client.get("/rankings?period=2026-Q4").get_data(as_text=True)
    assert 'href="/cards?dept=D01&amp;rule=R2&amp;from=2026-10-01&amp;to=2026-12-31&amp;standing=1"' in quarterly
    assert '"periods": ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]' in html
    assert 'id="bars-chart"' in html and "/static/vendor/echarts/echarts.min.js" in html
    assert 'href="/rankings?period=2026-10&amp;kind=department"' in html
    quarter = client.get("/rankings?period=2026-Q4&kind=window").get_data(as_text=True)
    assert "2026-Q3" in quarter and 'aria-current="page">窗口<' in quarter
    assert client.get("/rankings?period=2026-13").status_code == 400
    assert client.get("/rankings?kind=planet").status_code == 400


def test_reports_page_and_downloads_before_the_report_module(hub: Hub, engine: FakeSupervision,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.web import reportfiles

    monkeypatch.setattr(reportfiles, "_module", lambda: None)
    client = hub.login("leader")
    html = client.get("/reports?month=2026-11").get_data(as_text=True)
    # the report's own layout (hub.reports.layout): figures formatted as the files print them
    assert "2026-11 月报" in html and "1,234" in html and "93.0%" in html and "五、部门绩效排名" in html
    assert 'href="/api/v1/reports/2026-11/pdf"' in html and 'href="/api/v1/reports/2026-11/xlsx"' in html
    assert 'href="/reports/2026-11/html"' in html
    assert "报表文件模块尚未启用" in html
    none = client.get("/reports?month=2026-10").get_data(as_text=True)
    assert "2026-10 暂无月报" in none
    assert client.get("/reports?month=2026-1").status_code == 400
    unavailable = client.get("/api/v1/reports/2026-11/pdf")
    assert unavailable.status_code == 503 and unavailable.get_json()["error"] == "unavailable"


def test_report_downloads_with_the_report_module(hub: Hub, engine: FakeSupervision, report_files: object) -> None:
    client = hub.login("monitor")
    pdf = client.get("/api/v1/reports/2026-11/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="xiaoneng-report-2026-11.pdf"'
    xlsx = client.get("/api/v1/reports/2026-11/xlsx")
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")
    assert client.get("/api/v1/reports/2026-10/xlsx").status_code == 404
    assert "报表文件模块尚未启用" not in client.get("/reports?month=2026-11").get_data(as_text=True)


def test_the_wall_starts_with_the_newest_cards(hub: Hub, engine: FakeSupervision) -> None:
    client = hub.login("monitor")
    html = client.get("/overview").get_data(as_text=True)
    assert re.findall(r'<li class="card-\w+" data-card="([\w-]+)"', html) == ["K-1", "K-2"]
    assert 'href="/cards/K-1">办件 C-1 超期<' in html
    body = client.get("/api/v1/overview").get_json()
    assert [c["card_id"] for c in body["recent_cards"]] == ["K-1", "K-2"]
    assert '<meter min="0" max="100"' in html and "98.5" in html


def test_navigation_marks_the_area_of_detail_pages(hub: Hub, engine: FakeSupervision) -> None:
    html = hub.login("monitor").get("/cards/K-1").get_data(as_text=True)
    assert '<a href="/cards" class="active" aria-current="page">预警纠错</a>' in html
    html = hub.login("monitor").get("/cases/C-1").get_data(as_text=True)
    assert '<a href="/cases" class="active" aria-current="page">办件监控</a>' in html
