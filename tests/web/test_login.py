"""Signing in and out, sessions, CSRF, throttling and security headers through the test client."""

from __future__ import annotations

import re

from hub.auth import get_user, set_disabled
from tests.web.conftest import PASSWORD, USERS, Hub, csrf_from, login, page_csrf


def _cookie_header(response, name: str) -> str:  # type: ignore[no-untyped-def]
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    assert headers, f"no {name} cookie set"
    return headers[-1]


def test_login_sets_a_hardened_session_cookie_and_rotates_it(hub: Hub) -> None:
    client = hub.client()
    before = client.get("/login")
    anonymous_cookie = _cookie_header(before, "xn_session")
    response = login(client, USERS["monitor"])
    assert response.status_code == 302 and response.headers["Location"] == "/overview"
    cookie = _cookie_header(response, "xn_session")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert cookie.split(";")[0] != anonymous_cookie.split(";")[0], "a new session at login"
    assert client.get("/overview").status_code == 200
    me = client.get("/api/v1/me").get_json()
    assert me["username"] == USERS["monitor"] and me["role"] == "monitor" and me["auth"] == "session"


def test_wrong_password_and_unknown_user_look_the_same(hub: Hub) -> None:
    a = login(hub.client(), USERS["monitor"], "wrong password")
    b = login(hub.client(), "nobody-here", "wrong password")
    assert a.status_code == b.status_code == 401
    assert "用户名或密码错误" in a.get_data(as_text=True) and "用户名或密码错误" in b.get_data(as_text=True)
    with hub.conn() as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["auth.login_failed", "auth.login_failed"]


def test_login_requires_csrf(hub: Hub) -> None:
    client = hub.client()
    client.get("/login")
    response = client.post("/login", data={"username": USERS["admin"], "password": PASSWORD})
    assert response.status_code == 403 and "表单已过期" in response.get_data(as_text=True)
    response = client.post("/login", data={"username": USERS["admin"], "password": PASSWORD, "csrf_token": "x" * 43})
    assert response.status_code == 403


def test_forms_are_rejected_without_the_csrf_token(hub: Hub) -> None:
    admin = hub.login("admin")
    body = {"username": "newbie", "password": "a fine password", "role": "monitor"}
    assert admin.post("/admin/users", data=body).status_code == 403
    assert admin.post("/admin/users", data={**body, "csrf_token": "forged" * 8}).status_code == 403
    other = hub.login("monitor")
    assert admin.post("/admin/users", data={**body, "csrf_token": page_csrf(other)}).status_code == 403, (
        "another session's token is not this session's"
    )
    assert admin.post("/logout").status_code == 403
    with hub.conn() as conn:
        assert get_user(conn, "newbie") is None
    ok = admin.post("/admin/users", data={**body, "csrf_token": page_csrf(admin)})
    assert ok.status_code == 302
    with hub.conn() as conn:
        assert get_user(conn, "newbie") is not None
    # the header works too (for scripts of the UI)
    response = admin.post("/admin/users/newbie/disable", headers={"X-CSRF-Token": page_csrf(admin)})
    assert response.status_code == 302


def test_logout_ends_the_session_on_the_server(hub: Hub) -> None:
    client = hub.login("leader")
    stolen = client.get_cookie("xn_session")
    assert stolen is not None
    response = client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    replay = hub.client()
    replay.set_cookie("xn_session", stolen.value)
    assert replay.get("/overview").status_code == 302, "the old cookie no longer signs in"
    with hub.conn() as conn:
        assert [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")] == ["auth.login",
                                                                                           "auth.logout"]


def test_disabling_a_user_ends_their_sessions(hub: Hub) -> None:
    client = hub.login("monitor")
    with hub.conn() as conn:
        set_disabled(conn, USERS["monitor"], True)
    assert client.get("/overview").status_code == 302
    assert login(hub.client(), USERS["monitor"]).status_code == 401


def test_idle_session_expires(hub: Hub) -> None:
    client = hub.login("monitor")
    hub.clock.advance(2 * 3600 + 1)
    assert client.get("/api/v1/me").status_code == 401


def test_login_throttling_locks_out_exponentially(hub: Hub) -> None:
    client = hub.client()
    statuses = [login(client, USERS["telecom"], "bad password").status_code for _ in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]
    locked = login(client, USERS["telecom"])  # the right password is not even checked while locked
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "秒后重试" in locked.get_data(as_text=True)
    hub.clock.advance(61)
    assert login(client, USERS["telecom"], "bad password").status_code == 429, "next lockout is longer"
    assert int(login(client, USERS["telecom"]).headers["Retry-After"]) == 60, "30 s doubled"
    hub.clock.advance(60)
    assert login(client, USERS["telecom"]).status_code == 302
    assert login(hub.client(), USERS["telecom"], "bad password").status_code == 401, "success cleared the count"
    with hub.conn() as conn:
        actions = {r[0] for r in conn.execute("SELECT action FROM audit_log")}
    assert {"auth.login_failed", "auth.login_locked", "auth.login"} <= actions


def test_next_parameter_cannot_redirect_off_site(hub: Hub) -> None:
    for target, expected in (("/links", "/links"), ("//evil.example/x", "/overview"),
                             ("https://evil.example/", "/overview"), ("/\\evil", "/overview")):
        response = login(hub.client(), USERS["admin"], next=target)
        assert response.headers["Location"] == expected, target
    response = hub.client().get("/links?state=offline")
    assert response.headers["Location"] == "/login?next=%2Flinks%3Fstate%3Doffline"


def test_security_headers_everywhere(hub: Hub) -> None:
    client = hub.login("admin")
    for url in ("/login", "/overview", "/api/v1/me", "/api/v1/nothing", "/nothing", "/static/css/app.css",
                "/metrics"):
        response = client.get(url)
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, url
        assert "http" not in csp and "unsafe" not in csp and "*" not in csp, url
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["X-Request-Id"]
        if url.startswith("/static/"):
            assert "no-store" not in headers.get("Cache-Control", "")
        else:
            assert headers["Cache-Control"] == "no-store", url
        response.close()


def test_every_post_form_carries_the_csrf_field(hub: Hub) -> None:
    client = hub.login("admin")
    for url in ("/admin/users", "/overview", "/links"):
        html = client.get(url).get_data(as_text=True)
        forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", html, re.S)
        assert forms, url
        for form in forms:
            assert csrf_from(form)
