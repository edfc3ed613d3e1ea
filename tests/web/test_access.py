"""Every route × every role: allowed or denied, as this table says.

The table is the specification, written independently of the ``@allow`` declarations in the code.
A route added without a line here fails ``test_every_route_is_in_the_table``; a route whose
``@allow`` disagrees with the line fails ``test_route_role_matrix``.
"""

from __future__ import annotations

import pytest

from hub.web.access import UndeclaredAccess, roles_for
from tests.web.conftest import ROLES, USERS, FakeSupervision, Hub, page_csrf

ALL = set(ROLES)
READERS = {"admin", "monitor", "leader"}
CASES = READERS | {"department"}
LINKS = READERS | {"telecom"}
ADMIN = {"admin"}
OPS = {"admin", "telecom"}
ACTORS = {"admin", "monitor", "department"}  # act on cards; leaders read only
DESK = {"admin", "monitor"}  # enter complaints and disclosure requests at the hub's desk
PUBLIC = None

# endpoint: (method, roles allowed or PUBLIC)
EXPECTED: dict[str, tuple[str, set[str] | None]] = {
    "auth.index": ("GET", ALL),
    "auth.login": ("GET", PUBLIC),
    "auth.logout": ("POST", ALL),
    "overview.page": ("GET", READERS),
    "links.page": ("GET", LINKS),
    "quarantine.page": ("GET", LINKS),
    "devices.page": ("GET", ADMIN),
    "devices.revoke": ("POST", ADMIN),
    "devices.push_config": ("POST", ADMIN),
    "devices.issue_token": ("POST", ADMIN),
    "devices.revoke_token": ("POST", ADMIN),
    "video.page": ("GET", READERS),
    "video.cameras": ("GET", READERS),
    "video.watch": ("POST", READERS),
    "video.leave": ("POST", READERS),
    "video.snapshot": ("GET", READERS),
    "supervision.cases": ("GET", CASES),
    "supervision.case": ("GET", CASES),
    "supervision.case_evidence": ("GET", CASES),
    "cards.queue": ("GET", CASES),
    "cards.card": ("GET", CASES),
    "cards.act": ("POST", ACTORS),
    "complaints.page": ("GET", CASES),
    "complaints.new": ("GET", DESK),
    "complaints.create": ("POST", DESK),
    "complaints.detail": ("GET", CASES),
    "complaints.step": ("POST", DESK),
    "complaints.evidence": ("GET", READERS),
    "disclosures.page": ("GET", CASES),
    "disclosures.new": ("GET", DESK),
    "disclosures.create": ("POST", DESK),
    "disclosures.detail": ("GET", CASES),
    "disclosures.step": ("POST", DESK),
    "disclosures.evidence": ("GET", CASES),
    "api_desk.complaints": ("GET", CASES),
    "api_desk.complaint_create": ("POST", DESK),
    "api_desk.complaint": ("GET", CASES),
    "api_desk.complaint_step": ("POST", DESK),
    "api_desk.disclosures": ("GET", CASES),
    "api_desk.disclosure_create": ("POST", DESK),
    "api_desk.disclosure": ("GET", CASES),
    "api_desk.disclosure_step": ("POST", DESK),
    "rankings.page": ("GET", READERS),
    "publish.download": ("GET", {"admin", "monitor"}),
    "reports.page": ("GET", CASES),
    "catalogue.page": ("GET", CASES),
    "catalogue.item": ("GET", CASES),
    "catalogue.edit": ("POST", ADMIN),
    "catalogue.upload": ("POST", ADMIN),
    "catalogue.export": ("GET", CASES),
    "catalogue.findings": ("GET", CASES),
    "reports.download_html": ("GET", CASES),
    "admin.users": ("GET", ADMIN),
    "admin.create_user_view": ("POST", ADMIN),
    "admin.disable_user": ("POST", ADMIN),
    "admin.enable_user": ("POST", ADMIN),
    "admin.create_token_view": ("POST", ADMIN),
    "admin.revoke_token_view": ("POST", ADMIN),
    "admin.audit_log": ("GET", ADMIN),
    "api.me": ("GET", ALL),
    "api.overview": ("GET", READERS),
    "api.openapi": ("GET", ALL),
    "api_links.agents": ("GET", LINKS),
    "api_links.agent": ("GET", LINKS),
    "api_links.agent_history": ("GET", LINKS),
    "api_links.sites": ("GET", LINKS),
    "api_links.quarantined": ("GET", LINKS),
    "api_supervision.cases": ("GET", CASES),
    "api_supervision.case": ("GET", CASES),
    "api_supervision.alerts": ("GET", CASES),
    "api_supervision.alert": ("GET", CASES),
    "api_supervision.alert_action": ("POST", ACTORS),
    "api_supervision.rankings": ("GET", READERS),
    "api_supervision.report": ("GET", CASES),
    "api_supervision.report_pdf": ("GET", CASES),
    "api_supervision.report_xlsx": ("GET", CASES),
    "inbox.inbox": ("GET", ALL),
    "inbox.unread": ("GET", ALL),
    "inbox.read": ("POST", ALL),
    "inbox.read_all": ("POST", ALL),
    "inbox.settings": ("GET", ALL),
    "inbox.save_settings": ("POST", ALL),
    "stream.stream": ("GET", ALL),
    "help.index": ("GET", PUBLIC),
    "help.page": ("GET", PUBLIC),
    "help.asset": ("GET", PUBLIC),
    "metrics.metrics": ("GET", OPS),
    "static": ("GET", PUBLIC),
}

SAMPLE_ARGS = {
    "agent_id": "agent-ok",
    "case_id": "C-1",
    "item_code": "990100001001",
    "card_id": "K-1",
    "month": "2026-11",
    "username": "victim",
    "token_id": "0" * 12,
    "record_id": 1,
    "filename": "css/app.css",
    "item_id": 1,
    "name": "ui",
    "folder": "screenshots",
    "complaint_id": "TS-1",
    "request_id": "GK-1",
}
POST_BODIES = {
    "admin.create_user_view": {"username": "", "password": "", "role": "monitor"},
    "admin.create_token_view": {"username": "victim", "name": "probe"},
    "cards.act": {"action": "respond", "note": "probe"},
}


def _rules(hub: Hub):  # type: ignore[no-untyped-def]
    return [r for r in hub.app.url_map.iter_rules()]


def test_every_route_is_in_the_table(hub: Hub) -> None:
    endpoints = {r.endpoint for r in _rules(hub)}
    assert endpoints == set(EXPECTED), (
        f"routes without a line in EXPECTED: {sorted(endpoints - set(EXPECTED))}; "
        f"lines without a route: {sorted(set(EXPECTED) - endpoints)}"
    )


def test_every_route_declares_its_roles(hub: Hub) -> None:
    for rule in _rules(hub):
        try:
            roles = roles_for(hub.app, rule.endpoint)
        except UndeclaredAccess:
            pytest.fail(f"{rule.endpoint} has neither @allow nor @public")
        expected = EXPECTED[rule.endpoint][1]
        assert (None if roles is None else {r.value for r in roles}) == expected, rule.endpoint


def _url(rule) -> str:  # type: ignore[no-untyped-def]
    return rule.build({name: SAMPLE_ARGS[name] for name in rule.arguments}, append_unknown=False)[1]


def _call(hub: Hub, client, rule, method: str):  # type: ignore[no-untyped-def]
    url = _url(rule)
    if rule.endpoint == "stream.stream":
        response = client.get(url, buffered=False)
    elif method == "POST":
        data = dict(POST_BODIES.get(rule.endpoint, {}))
        try:
            data["csrf_token"] = page_csrf(client)
        except (TypeError, KeyError):
            data["csrf_token"] = "x" * 43
        response = client.post(url, data=data)
    else:
        response = client.get(url)
    response.close()
    return response


def test_route_role_matrix(hub: Hub, report_files: object) -> None:
    with hub.conn() as conn:
        from hub.auth import create_user

        create_user(conn, "victim", "victim password 123", "monitor", params=hub.app.extensions["xiaoneng"].scrypt)
    hub.app.extensions["xiaoneng"].supervision = FakeSupervision()
    clients = {role: hub.login(role) for role in ROLES}
    failures = []
    for rule in sorted(_rules(hub), key=lambda r: r.rule):
        method, allowed = EXPECTED[rule.endpoint]
        assert method in rule.methods, f"{rule.endpoint} does not answer {method}"
        for role in ROLES:
            client = clients[role]
            response = _call(hub, client, rule, method)
            status = response.status_code
            denied = status == 403 or (status == 302 and "/login?next=" in response.headers.get("Location", ""))
            if allowed is None or role in allowed:
                if denied or status == 401 or status >= 500:
                    failures.append(f"{role} {method} {rule.rule}: expected allowed, got {status}")
            elif status != 403:
                failures.append(f"{role} {method} {rule.rule}: expected 403, got {status}")
            if rule.endpoint == "auth.logout" and status == 302:
                clients[role] = hub.login(role)  # logged out by the probe: sign in again
        # anonymous
        anon = hub.client()
        response = _call(hub, anon, rule, method)
        status = response.status_code
        if allowed is None:
            if status in (401, 403) or status >= 500:
                failures.append(f"anonymous {method} {rule.rule}: expected public, got {status}")
        elif rule.rule.startswith("/api/") or rule.rule == "/metrics":
            if status != 401 or response.get_json()["error"] != "unauthorized":
                failures.append(f"anonymous {method} {rule.rule}: expected 401 JSON, got {status}")
        elif status != 302 or not response.headers["Location"].startswith("/login?next="):
            failures.append(f"anonymous {method} {rule.rule}: expected a redirect to the login, got {status}")
    assert not failures, "\n".join(failures)


def test_navigation_shows_only_what_the_role_may_open(hub: Hub) -> None:
    readers = {"/overview", "/cases", "/cards", "/complaints", "/disclosures", "/rankings", "/reports", "/catalogue",
               "/links", "/quarantine", "/video"}
    expectations = {
        "admin": readers | {"/devices", "/admin/users"},
        "monitor": readers,
        "leader": readers,
        "telecom": {"/links", "/quarantine"},
        "department": {"/cases", "/cards", "/complaints", "/disclosures", "/reports", "/catalogue"},
    }
    import re

    for role, urls in expectations.items():
        client = hub.login(role)
        home = client.get("/")
        assert home.status_code == 302
        html = client.get(home.headers["Location"]).get_data(as_text=True)
        nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S)
        assert nav, role
        assert set(re.findall(r'href="([^"]+)"', nav.group(0))) == urls, role


def test_department_user_is_scoped_to_its_department(hub: Hub) -> None:
    """The supervision provider receives the department scope of a department user, None for others."""
    seen: list[str | None] = []

    class Spy:
        available = True

        def cases(self, conn, filters, dept, page):  # type: ignore[no-untyped-def]
            from hub.web.pagination import Page

            seen.append(dept)
            return Page([], page.page, page.per_page, 0)

    hub.app.extensions["xiaoneng"].supervision = Spy()
    assert hub.login("department").get("/api/v1/cases").status_code == 200
    assert hub.login("monitor").get("/api/v1/cases").status_code == 200
    assert seen == ["D01", None]


def test_users_table_fixture_matches_roles() -> None:
    assert set(USERS) == set(ROLES)
