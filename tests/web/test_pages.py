"""The pages: what they show, the admin forms, and rules the templates keep (CSP, no outside assets)."""

from __future__ import annotations

import re
from pathlib import Path

from hub.auth import get_user, list_tokens
from tests.web.conftest import FakeSupervision, Hub, page_csrf

WEB = Path(__file__).resolve().parents[2] / "hub" / "web"


def test_links_page_puts_offline_first(hub: Hub) -> None:
    html = hub.login("telecom").get("/links").get_data(as_text=True)
    rows = re.findall(r'<tr class="row-(\w+)( row-stale)?" data-agent="([\w-]+)"', html)
    assert [(state, agent) for state, _stale, agent in rows] == [
        ("offline", "agent-down"), ("never", "agent-new"), ("online", "agent-late"), ("online", "agent-ok"),
        ("revoked", "agent-old")]
    assert rows[2][1] == " row-stale"
    assert "在线 2 / 共 4" in html and "21分前" in html and "21分" in html
    assert 'href="/quarantine?agent=agent-down">2</a>' in html
    assert "/static/vendor/echarts/echarts.min.js" in html
    filtered = hub.login("telecom").get("/links?state=offline").get_data(as_text=True)
    assert re.findall(r'data-agent="([\w-]+)"', filtered) == ["agent-down"]


def test_quarantine_page_escapes_what_agents_sent(hub: Hub) -> None:
    html = hub.login("monitor").get("/quarantine").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "签名无效" in html and "同序号不同内容" in html
    only = hub.login("monitor").get("/quarantine?reason=broken_chain").get_data(as_text=True)
    assert "seq 88 prev mismatch" in only and "batch 17" not in only


def test_overview_page(hub: Hub) -> None:
    client = hub.login("monitor")
    html = client.get("/overview").get_data(as_text=True)
    assert 'class="page-wall"' in html and 'data-figure="agents_online">2<' in html
    assert "该功能将在监察引擎启用后提供" in html
    assert "/api/v1/stream" in html and "/api/v1/overview" in html
    hub.app.extensions["xiaoneng"].supervision = FakeSupervision()
    html = client.get("/overview").get_data(as_text=True)
    assert 'data-figure="on_time_rate">95.5%<' in html and 'data-figure="overdue">2<' in html
    assert "市场监管局" in html


def test_devices_page(hub: Hub) -> None:
    html = hub.login("admin").get("/devices").get_data(as_text=True)
    assert "mq-agent-ok" in html and "hall-c" in html and "已吊销" in html
    assert "66687aad" in html.replace(":", ""), "sha256 of the 32-byte key, as a fingerprint"


def test_admin_creates_and_disables_users_with_an_audit_trail(hub: Hub) -> None:
    admin = hub.login("admin")
    response = admin.post("/admin/users", data={"username": "zhang", "display_name": "张三", "role": "department",
                                                "dept_code": "D05", "password": "a good password",
                                                "csrf_token": page_csrf(admin)})
    assert response.status_code == 302
    assert "已创建用户 zhang" in admin.get("/admin/users").get_data(as_text=True)
    bad = admin.post("/admin/users", data={"username": "li", "role": "department", "password": "a good password",
                                           "csrf_token": page_csrf(admin)})
    assert bad.status_code == 400 and "部门用户必须填写部门编码" in bad.get_data(as_text=True)
    assert 'value="li"' in bad.get_data(as_text=True), "the form keeps what was typed"
    assert admin.post("/admin/users/zhang/disable", data={"csrf_token": page_csrf(admin)}).status_code == 302
    last = admin.post("/admin/users/admin-user/disable", data={"csrf_token": page_csrf(admin)})
    assert last.status_code == 400 and "最后一个启用的管理员" in last.get_data(as_text=True)
    missing = admin.post("/admin/users/ghost/disable", data={"csrf_token": page_csrf(admin)})
    assert missing.status_code == 404
    with hub.conn() as conn:
        zhang = get_user(conn, "zhang")
        assert zhang is not None and zhang.disabled and zhang.dept_code == "D05"
    audit = admin.get("/admin/audit").get_data(as_text=True)
    assert "user.create" in audit and "user.disable" in audit and "auth.login" in audit
    only = admin.get("/admin/audit?action=user.create").get_data(as_text=True)
    assert "user.disable</code>" not in only and "user.create</code>" in only


def test_admin_creates_and_revokes_tokens(hub: Hub) -> None:
    admin = hub.login("admin")
    response = admin.post("/admin/tokens", data={"username": "telecom-user", "name": "prometheus",
                                                 "csrf_token": page_csrf(admin)})
    assert response.status_code == 201
    token = re.search(r'<code id="new-token">(xnt_[\w-]+)</code>', response.get_data(as_text=True))
    assert token, "the new token is shown once"
    assert token.group(1) not in admin.get("/admin/users").get_data(as_text=True), "and only once"
    assert hub.client().get("/metrics", headers={"Authorization": f"Bearer {token.group(1)}"}).status_code == 200
    with hub.conn() as conn:
        (row,) = list_tokens(conn)
    assert admin.post(f"/admin/tokens/{row.token_id}/revoke", data={"csrf_token": page_csrf(admin)}).status_code == 302
    assert hub.client().get("/metrics", headers={"Authorization": f"Bearer {token.group(1)}"}).status_code == 401
    again = admin.post(f"/admin/tokens/{row.token_id}/revoke", data={"csrf_token": page_csrf(admin)})
    assert again.status_code == 404
    assert "token.revoke" in admin.get("/admin/audit").get_data(as_text=True)


def test_pages_with_the_engine_plugged_in(hub: Hub) -> None:
    hub.app.extensions["xiaoneng"].supervision = FakeSupervision()
    dept = hub.login("department")
    html = dept.get("/cases").get_data(as_text=True)
    assert "营业执照" in html and "户口迁移" not in html
    assert dept.get("/cases/C-2").status_code == 404
    assert "营业执照" in dept.get("/cases/C-1").get_data(as_text=True)
    assert "K-1" in dept.get("/cards").get_data(as_text=True)
    monitor = hub.login("monitor")
    assert "市场监管局" in monitor.get("/rankings").get_data(as_text=True)
    assert "1,234" in monitor.get("/reports?month=2026-11").get_data(as_text=True)


def test_templates_and_scripts_obey_the_content_security_policy() -> None:
    for path in (WEB / "templates").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\sstyle\s*=", text), f"{path.name}: inline style (CSP style-src 'self')"
        handler = r"<[a-z][^>]*\son(click|load|error|submit|change|input|mouse\w+|key\w+|focus|blur)\s*="
        assert not re.search(handler, text), f"{path.name}: inline event handler"
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, f"{path.name}: inline script {tag}"
        assert "<style" not in text
    own = [*(WEB / "templates").glob("*.html"), *(WEB / "static" / "js").glob("*.js"),
           *(WEB / "static" / "css").glob("*.css")]
    for path in own:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), f"{path.name}: an outside URL"
        assert "innerHTML" not in text and "eval(" not in text, path.name


def test_vendored_assets_are_present_with_their_licences(hub: Hub) -> None:
    vendor = WEB / "static" / "vendor"
    assert (vendor / "echarts" / "LICENSE").read_text().startswith("\n") or "Apache License" in (
        vendor / "echarts" / "LICENSE").read_text()
    assert (vendor / "echarts" / "NOTICE").exists() and (vendor / "README.md").exists()
    response = hub.client().get("/static/vendor/echarts/echarts.min.js")
    assert response.status_code == 200 and len(response.data) > 500_000
    response.close()


def test_admin_revokes_an_agent_and_the_broker_files_drop_it(hub: Hub) -> None:
    from provisioning.registry import Registry

    registry = Registry(hub.app.extensions["xiaoneng"].config.database)
    agents = [a for a in registry.agents() if a.revoked_at is None]
    assert agents, "the fixture registers agents"
    victim = agents[0].agent_id
    admin = hub.login("admin")
    page = admin.get("/devices").get_data(as_text=True)
    assert f"/devices/{victim}/revoke" in page
    assert admin.post(f"/devices/{victim}/revoke").status_code == 403  # no CSRF token
    assert hub.login("monitor").post(f"/devices/{victim}/revoke", data={"csrf_token": "x"}).status_code == 403
    assert registry.public_key(victim) is not None, "a refused request revokes nothing"
    response = admin.post(f"/devices/{victim}/revoke", data={"csrf_token": page_csrf(admin)})
    assert response.status_code == 302
    assert registry.public_key(victim) is None and registry.agent(victim).revoked_at  # type: ignore[union-attr]
    acl = (Path(hub.app.extensions["xiaoneng"].config.database).parent / "broker" / "acl").read_text()
    assert f"xn/v1/agents/{victim}/" not in acl
    assert "agent.revoke" in admin.get("/admin/audit").get_data(as_text=True)
    assert admin.post("/devices/nobody/revoke", data={"csrf_token": page_csrf(admin)}).status_code == 404
