"""The devices page: each agent's applied configuration version beside the pushed one, and drift."""

from __future__ import annotations

import re

from hub.configpush import SCHEMA
from tests.web.conftest import Hub, page_csrf


def _row(html: str, agent: str) -> str:
    match = re.search(rf"<tr[^>]*>\s*<td><code>{agent}</code>.*?</tr>", html, re.S)
    assert match, agent
    return match.group(0)


def test_versions_and_drift(hub: Hub) -> None:
    client = hub.login("admin")
    html = client.get("/devices").get_data(as_text=True)  # a store from before the config columns
    assert "未下发" in _row(html, "agent-ok")
    with hub.conn() as conn:
        conn.executescript(SCHEMA)
        conn.execute("ALTER TABLE agent_link ADD COLUMN config_version INTEGER")
        conn.execute("ALTER TABLE agent_link ADD COLUMN config_error TEXT")
        conn.execute("INSERT INTO config_pushes VALUES ('agent-ok', 2, 'd', '2026-12-03T10:00:00+00:00', 'agent x')")
        conn.execute("INSERT INTO config_pushes VALUES ('agent-down', 3, 'd', '2026-12-03T10:00:00+00:00', 'site s')")
        conn.execute("UPDATE agent_link SET config_version = 2 WHERE agent_id = 'agent-ok'")
        conn.execute("UPDATE agent_link SET config_version = 1, config_error = 'version 3 rolled back to 1: "
                     "capture failed after applying: <b>dept</b>' WHERE agent_id = 'agent-down'")
    html = client.get("/devices").get_data(as_text=True)
    ok, down = _row(html, "agent-ok"), _row(html, "agent-down")
    assert "已应用 v2 / 已下发 v2" in ok and "未同步" not in ok
    assert "已应用 v1 / 已下发 v3" in down and "未同步" in down
    assert "rolled back to 1" in down and "<b>dept</b>" not in down
    en = client.get("/devices?lang=en").get_data(as_text=True)
    assert "applied v1 / pushed v3" in _row(en, "agent-down") and "drift" in _row(en, "agent-down")


def test_push_action_signs_publishes_and_audits(hub: Hub) -> None:
    from io import BytesIO

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from hub.configpush import EXTENSION
    from provisioning.hubkey import hub_public_key
    from shared.configbundle import parse_bundle

    admin = hub.login("admin")

    def form(target: str, *files: tuple[str, bytes], version: str = "") -> dict[str, object]:
        return {"target": target, "version": version, "csrf_token": page_csrf(admin),
                "files": [(BytesIO(data), name) for name, data in files]}

    html = admin.post("/devices/config", data=form("site:hall-a", ("settings.yaml", b"log_level: INFO\n")),
                      content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "中心运行时才能下发" in html  # no running hub attached

    sent: list[tuple[str, bytes]] = []
    closed: list[bool] = []
    hub.app.extensions[EXTENSION] = lambda: (lambda t, p: sent.append((t, p)), lambda: closed.append(True))
    html = admin.post("/devices/config", data=form("site:hall-a", ("settings.yaml", b"log_level: INFO\n"),
                                                   ("p.yaml", "profile: 测试\n".encode())),
                      content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "已下发版本 1 到 agent-late, agent-ok" in html and closed == [True]
    assert [t for t, _ in sent] == ["xn/v1/agents/agent-late/config", "xn/v1/agents/agent-ok/config"]
    bundle = parse_bundle(sent[0][1], Ed25519PublicKey.from_public_bytes(hub_public_key(hub.db.parent)))
    assert bundle.files == {"settings.yaml": "log_level: INFO\n", "p.yaml": "profile: 测试\n"}
    assert "已应用 v0 / 已下发 v1" in _row(html, "agent-ok") and "未同步" in _row(html, "agent-ok")

    down = admin.post("/devices/config", data=form("agent:agent-ok", ("settings.yaml", b"{}\n"), version="1"),
                      content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "下发失败" in down and "not newer" in down and len(sent) == 2
    bad = admin.post("/devices/config", data=form("agent:agent-ok", ("key.pem", b"x")),
                     content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "下发失败" in bad and "plain .yaml" in bad
    none = admin.post("/devices/config", data=form("agent:agent-ok"), content_type="multipart/form-data",
                      follow_redirects=True).get_data(as_text=True)
    assert "请选择要下发的文件" in none
    audit = admin.get("/admin/audit?action=config.push").get_data(as_text=True)
    assert "site:hall-a" in audit and "agent:agent-ok" in audit
    assert hub.login("monitor").post("/devices/config", data={}).status_code in (400, 403)
