"""The devices page: each agent's applied configuration version beside the pushed one, and drift."""

from __future__ import annotations

import re

from hub.configpush import SCHEMA
from tests.web.conftest import Hub


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
