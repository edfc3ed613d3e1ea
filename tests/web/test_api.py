"""The JSON API: bearer tokens, errors, pagination, link state, OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hub.auth import revoke_token, set_disabled
from hub.auth.tokens import token_hash
from hub.web.openapi import API
from tests.web.conftest import USERS, FakeSupervision, Hub, page_csrf


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_bearer_tokens(hub: Hub) -> None:
    client = hub.client()
    token = hub.token("telecom", "prometheus")
    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200 and me.get_json()["auth"] == "token" and "csrf_token" not in me.get_json()
    assert client.get("/metrics", headers=bearer(token)).status_code == 200
    assert client.get("/api/v1/overview", headers=bearer(token)).status_code == 403, "telecom: links only"
    # a token does not open the pages (people sign in)
    assert client.get("/links", headers=bearer(token)).status_code == 302
    for header in ({"Authorization": "Bearer xnt_wrong"}, {"Authorization": "Basic dXNlcjpwdw=="},
                   {"Authorization": "Bearer "}):
        response = client.get("/api/v1/me", headers=header)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
        assert set(response.get_json()) == {"error", "detail"}
    with hub.conn() as conn:
        set_disabled(conn, USERS["telecom"], True)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    with hub.conn() as conn:
        set_disabled(conn, USERS["telecom"], False)
        revoke_token(conn, token_hash(token))
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_token_post_needs_no_csrf_but_a_session_post_does(hub: Hub) -> None:
    from hub.auth.roles import Role
    from hub.web.access import allow

    @allow(Role.ADMIN)
    def probe() -> dict[str, bool]:
        return {"ok": True}

    hub.app.add_url_rule("/api/v1/probe", "probe", probe, methods=["POST"])  # before the first request
    token = hub.token("admin")
    assert hub.client().post("/api/v1/probe", headers=bearer(token)).status_code == 200, "no cookie, no CSRF risk"
    session = hub.login("admin")
    refused = session.post("/api/v1/probe")
    assert refused.status_code == 403 and refused.get_json()["error"] == "csrf_failed"
    assert session.post("/api/v1/probe", headers={"X-CSRF-Token": page_csrf(session)}).status_code == 200
    assert hub.client().post("/api/v1/me", headers=bearer(token)).status_code == 405


@pytest.mark.parametrize(
    ("url", "status", "error", "detail"),
    [
        ("/api/v1/nothing", 404, "not_found", ""),
        ("/api/v1/agents?per_page=0", 400, "bad_request", "per_page must be an integer between 1 and 500"),
        ("/api/v1/agents?page=x", 400, "bad_request", "page must be an integer"),
        ("/api/v1/agents?state=sleeping", 400, "bad_request", "state must be one of"),
        ("/api/v1/agents/ghost", 404, "not_found", "no agent 'ghost'"),
        ("/api/v1/agents/agent-ok/history?hours=0", 400, "bad_request", "hours must be an integer"),
        ("/api/v1/reports/2026-13", 400, "bad_request", "month must be YYYY-MM"),
        ("/api/v1/cases", 503, "unavailable", "supervision engine is not running"),
    ],
)
def test_json_errors(hub: Hub, url: str, status: int, error: str, detail: str) -> None:
    response = hub.login("admin").get(url)
    assert response.status_code == status
    assert response.content_type == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "detail"} and body["error"] == error and detail in body["detail"]


def test_internal_errors_are_json_without_internals(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(FakeSupervision):
        def cases(self, conn, filters, dept, page):  # type: ignore[no-untyped-def]
            raise RuntimeError("secret internals")

    hub.app.extensions["xiaoneng"].supervision = Broken()
    client = hub.login("admin")
    response = client.get("/api/v1/cases")
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "internal_error" and "secret" not in body["detail"]
    assert response.headers["X-Request-Id"] in body["detail"]
    assert "secret internals" in caplog.text
    page = client.get("/cases")
    assert page.status_code == 500 and "secret" not in page.get_data(as_text=True)


def test_agents_offline_first_with_link_figures(hub: Hub) -> None:
    body = hub.login("telecom").get("/api/v1/agents").get_json()
    assert body["total"] == 5 and body["page"] == 1 and body["pages"] == 1
    order = [(a["agent_id"], a["state"]) for a in body["items"]]
    assert order == [("agent-down", "offline"), ("agent-new", "never"), ("agent-late", "online"),
                     ("agent-ok", "online"), ("agent-old", "revoked")]
    down = body["items"][0]
    assert down["outbox_depth"] == 850 and down["oldest_unacked_s"] == 1260 and down["cdc_lag_s"] == 1300
    assert down["quarantined"] == 2 and down["reconnects"] == 17 and down["degraded"] == "outbox_high"
    late = body["items"][2]
    assert late["stale"] is True and late["heartbeat_age_s"] == 300
    assert body["items"][3]["stale"] is False and body["items"][3]["rtt_ms"] == 42


def test_agents_pagination_and_filters(hub: Hub) -> None:
    client = hub.login("monitor")
    pages = [client.get(f"/api/v1/agents?per_page=2&page={n}").get_json() for n in (1, 2, 3)]
    assert [p["pages"] for p in pages] == [3, 3, 3]
    ids = [a["agent_id"] for p in pages for a in p["items"]]
    assert len(ids) == len(set(ids)) == 5
    assert client.get("/api/v1/agents?page=9").get_json()["items"] == []
    online = client.get("/api/v1/agents?state=online").get_json()
    assert {a["agent_id"] for a in online["items"]} == {"agent-ok", "agent-late"}
    hall = client.get("/api/v1/agents?site=hall-c").get_json()
    assert {a["agent_id"] for a in hall["items"]} == {"agent-new", "agent-old"}


def test_agent_detail_and_history(hub: Hub) -> None:
    client = hub.login("telecom")
    detail = client.get("/api/v1/agents/agent-ok").get_json()
    assert detail["health"] == {"cpu": 3} and detail["site_name"] == "市民中心大厅"
    history = client.get("/api/v1/agents/agent-ok/history?hours=24").get_json()
    points = history["points"]
    assert len(points) == 36, "the 3-day-old sample is outside the window"
    assert [p["at"] for p in points] == sorted(p["at"] for p in points)
    assert sum(1 for p in points if p["online"] == 0) == 6
    coarse = client.get("/api/v1/agents/agent-ok/history?hours=24&points=10").get_json()["points"]
    assert len(coarse) <= 10
    assert client.get("/api/v1/agents/agent-new/history").get_json()["points"] == []


def test_quarantine_api(hub: Hub) -> None:
    client = hub.login("telecom")
    body = client.get("/api/v1/quarantine").get_json()
    assert body["total"] == 4 and body["items"][0]["reason"] == "equivocation"
    assert client.get("/api/v1/quarantine?reason=broken_chain").get_json()["total"] == 1
    assert client.get("/api/v1/quarantine?agent=agent-down").get_json()["total"] == 2


def test_overview_api(hub: Hub) -> None:
    client = hub.login("leader")
    body = client.get("/api/v1/overview").get_json()
    assert body["links"] == {"online": 2, "offline": 1, "never": 1, "revoked": 1, "total": 4}
    assert body["quarantine_24h"] == 3 and body["supervision"] is None and body["ranking"] is None
    assert {s["site_id"]: (s["online"], s["total"]) for s in body["sites"]} == {
        "hall-a": (2, 2), "hall-b": (0, 1), "hall-c": (0, 1)}
    hub.app.extensions["xiaoneng"].supervision = FakeSupervision()
    body = client.get("/api/v1/overview").get_json()
    assert body["supervision"]["on_time_rate"] == 0.955 and body["ranking"][0]["grade"] == "优秀"


def test_supervision_routes_with_a_provider(hub: Hub) -> None:
    hub.app.extensions["xiaoneng"].supervision = FakeSupervision()
    dept = hub.login("department")
    assert [c["case_id"] for c in dept.get("/api/v1/cases").get_json()["items"]] == ["C-1"]
    assert dept.get("/api/v1/cases/C-2").status_code == 404, "another department's case"
    assert dept.get("/api/v1/cases/C-1").get_json()["item_name"] == "营业执照"
    monitor = hub.login("monitor")
    assert monitor.get("/api/v1/cases").get_json()["total"] == 2
    assert monitor.get("/api/v1/rankings?period=2026-Q4&kind=window").status_code == 200
    assert monitor.get("/api/v1/rankings?kind=planet").status_code == 400
    assert monitor.get("/api/v1/reports/2026-11").get_json()["cases"] == 1234
    assert monitor.get("/api/v1/reports/2026-10").status_code == 404


# --- the OpenAPI document -------------------------------------------------------------------------

def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_openapi_document(hub: Hub) -> None:
    doc = hub.login("telecom").get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0" and doc["info"]["title"] and doc["info"]["version"]
    for ref in _refs(doc):
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert isinstance(node, dict), ref
    operation_ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for path, item in doc["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for method, op in item.items():
            assert method in {"get", "post", "put", "patch", "delete"}
            assert op["responses"]["200"] and op["summary"] and op["x-roles"]
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (path, method)
            for p in op.get("parameters", []):
                assert p["in"] in {"query", "path"} and "schema" in p
                if p["in"] == "path":
                    assert p["required"] is True
    for stable in ("/api/v1/cases", "/api/v1/cases/{case_id}", "/api/v1/alerts", "/api/v1/rankings",
                   "/api/v1/agents", "/api/v1/reports/{month}", "/api/v1/stream", "/api/v1/openapi.json"):
        assert stable in doc["paths"], stable


def test_every_api_route_is_documented(hub: Hub) -> None:
    """A /api/v1 route added with a plain @bp.get (not through the registry) fails here."""
    documented = {(op.endpoint, op.method.upper()) for op in API.operations}
    for rule in hub.app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (rule.endpoint, method) in documented, f"{method} {rule.rule} is not in the OpenAPI registry"
    doc = hub.login("admin").get("/api/v1/openapi.json").get_json()
    for op in API.operations:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", op.path)
        assert doc["paths"][path][op.method]["x-roles"] == sorted(r.value for r in op.roles)
