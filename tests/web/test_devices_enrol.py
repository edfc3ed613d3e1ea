"""The devices page issues one-time enrolment tokens (admins only, CSRF-protected, audited): the token
shown once with its expiry, the hall command and its QR code inline; outstanding tokens listed and
revocable; the page says when the hub runs without the enrolment port."""

from __future__ import annotations

import re
import sqlite3

import pytest

from hub.enroll import WEB_EXTENSION, EnrolEndpoint, TokenStore, hall_command
from hub.webtls import self_issued
from provisioning import ca
from shared.enrolment import parse_token
from tests.web.conftest import USERS, Hub, page_csrf


@pytest.fixture()
def tls_hub(hub: Hub) -> Hub:
    """The web app as the running hub attaches it: enrolment on port 8443 with the hub's certificate."""
    files = self_issued(hub.db.parent, ["localhost"])
    hub.app.extensions[WEB_EXTENSION] = EnrolEndpoint(8443, files.cert, "hub.xn.gov")
    return hub


def _issue(client, **form: str):  # type: ignore[no-untyped-def]
    data = {"site": "hall-a", "agent": "pc-new", "ttl": "24h", "csrf_token": page_csrf(client), **form}
    return client.post("/devices/enrol", data=data)


def test_an_admin_issues_a_token_and_sees_it_once(tls_hub: Hub) -> None:
    admin = tls_hub.login("admin")
    page = admin.get("/devices").get_data(as_text=True)
    assert 'id="enrol-form"' in page and 'id="enrol-port-off"' not in page and 'id="enrol-issued"' not in page
    response = _issue(admin)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    token_text = re.search(r'<code id="enrol-token">([^<]+)</code>', html)
    assert token_text, html[-3000:]
    token = parse_token(token_text.group(1))
    assert token.fingerprint == ca.leaf_fingerprint(tls_hub.db.parent / ca.CA_DIR / "server.pem")
    command = hall_command("https://hub.xn.gov:8443", token_text.group(1))
    assert f'<pre class="enrol-command" id="enrol-command">{command}</pre>' in html
    assert re.search(r'<svg viewBox="0 0 \d+ \d+" class="enrol-qr">', html)  # inline: the CSP allows it
    expires = re.search(r'<strong id="enrol-expires">([^<]+)</strong>', html)
    assert expires and expires.group(1) == "2026-11-27 16:00:00"  # the test clock (08:00 UTC) + 24 h, in +08:00
    with sqlite3.connect(tls_hub.db) as conn:
        stored = conn.execute("SELECT site_id, agent_id, secret_hash FROM enrol_tokens").fetchall()
    assert stored == [("hall-a", "pc-new", token.secret_hash)]
    again = admin.get("/devices").get_data(as_text=True)
    assert token_text.group(1) not in again and 'id="enrol-issued"' not in again  # shown once
    listed = re.search(r'<table class="grid" id="enrol-tokens">.*?</table>', again, re.S)
    assert listed and "pc-new" in listed.group(0) and "hall-a" in listed.group(0)
    audit = admin.get("/admin/audit?action=enrol.create").get_data(as_text=True)
    assert "hall-a/pc-new" in audit
    rows = TokenStore(tls_hub.db, clock=tls_hub.clock).audit_rows()
    assert [(r[1], r[2], r[3]) for r in rows] == [(f"web:{USERS['admin']}", "pc-new", "created")]


def test_the_same_checks_as_the_command_line(tls_hub: Hub) -> None:
    admin = tls_hub.login("admin")
    for form, problem in (({"agent": "agent-ok"}, "already exists"), ({"site": "nowhere"}, "not registered"),
                          ({"agent": "bad id!"}, "must be 1-64"), ({"ttl": "99d"}, "between 1 minute and 30 days"),
                          ({"agent": "pc-x", "reenrol": "1"}, "needs an active agent")):
        response = _issue(admin, **form)
        assert response.status_code == 302, form
        html = admin.get(response.headers["Location"]).get_data(as_text=True)
        assert problem in html and "签发失败" in html and 'id="enrol-issued"' not in html, (form, problem)
    with sqlite3.connect(tls_hub.db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM enrol_tokens").fetchone()[0] == 0
    reenrol = _issue(admin, agent="agent-ok", reenrol="1").get_data(as_text=True)
    command = re.search(r'<pre class="enrol-command" id="enrol-command">([^<]+)</pre>', reenrol)
    assert command and command.group(1).endswith(" --again")


def test_revoking_an_outstanding_token(tls_hub: Hub) -> None:
    admin = tls_hub.login("admin")
    shown = re.search(r'<code id="enrol-token">([^<]+)</code>', _issue(admin).get_data(as_text=True))
    assert shown
    token = parse_token(shown.group(1))
    token_id = TokenStore(tls_hub.db, clock=tls_hub.clock).outstanding()[0].token_id
    wrong = admin.post(f"/devices/enrol/{token_id}/revoke", data={"agent": "other", "csrf_token": page_csrf(admin)},
                       follow_redirects=True).get_data(as_text=True)
    assert "撤销失败" in wrong and len(TokenStore(tls_hub.db, clock=tls_hub.clock).outstanding()) == 1
    done = admin.post(f"/devices/enrol/{token_id}/revoke", data={"agent": "pc-new", "csrf_token": page_csrf(admin)},
                      follow_redirects=True).get_data(as_text=True)
    assert "已撤销代理 pc-new 的注册令牌" in done and TokenStore(tls_hub.db, clock=tls_hub.clock).outstanding() == []
    from hub.enroll import EnrolRefused

    with pytest.raises(EnrolRefused, match="revoked") as refused:
        TokenStore(tls_hub.db, clock=tls_hub.clock).consume(token.secret, "10.0.0.9")
    assert refused.value.code == "token_revoked"
    assert "enrol.revoke" in admin.get("/admin/audit?action=enrol.revoke").get_data(as_text=True)


def test_only_admins_with_a_csrf_token(tls_hub: Hub) -> None:
    monitor = tls_hub.login("monitor")
    assert monitor.get("/devices").status_code == 403
    assert monitor.post("/devices/enrol", data={"site": "hall-a", "agent": "pc-m", "csrf_token": page_csrf(monitor)}
                        ).status_code == 403
    admin = tls_hub.login("admin")
    assert admin.post("/devices/enrol", data={"site": "hall-a", "agent": "pc-c"}).status_code in (400, 403)
    assert TokenStore(tls_hub.db, clock=tls_hub.clock).outstanding() == []


def test_the_page_says_when_tokens_cannot_be_used_or_issued(hub: Hub) -> None:
    admin = hub.login("admin")
    html = admin.get("/devices").get_data(as_text=True)
    assert 'id="enrol-port-off"' in html and 'id="enrol-no-tls"' in html and 'id="enrol-form"' not in html
    refused = admin.post("/devices/enrol", data={"site": "hall-a", "agent": "pc-1", "csrf_token": page_csrf(admin)},
                         follow_redirects=True).get_data(as_text=True)
    assert "签发失败" in refused and "HTTPS" in refused
    self_issued(hub.db.parent, ["localhost"])  # the --tls-self-issued certificate: issuing works, use does not yet
    html = admin.get("/devices").get_data(as_text=True)
    assert 'id="enrol-port-off"' in html and 'id="enrol-form"' in html
    issued = _issue(admin).get_data(as_text=True)
    assert "https://localhost:8443" in issued  # the name the browser used, the default port
    en = admin.get("/devices?lang=en").get_data(as_text=True)
    assert "started without --enroll-port" in en and "Outstanding tokens" in en


def test_devices_page_shows_link_state(tls_hub: Hub) -> None:
    html = tls_hub.login("admin").get("/devices").get_data(as_text=True)
    row = re.search(r"<tr[^>]*>\s*<td><code>agent-ok</code>.*?</tr>", html, re.S)
    assert row and "state-online" in row.group(0) and "在线" in row.group(0)
