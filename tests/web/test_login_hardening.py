"""Issue 11, finding 5: HEAD is no login attempt, ``next`` is a plain same-site path, fair throttling."""

from __future__ import annotations

import pytest

from hub.auth import create_user
from hub.web.guard import safe_next
from tests.web.conftest import FAST, PASSWORD, USERS, Hub, csrf_from, login

HOME = "/overview"  # the admin's first screen

BAD_NEXT = [
    "/\t/evil.example/",  # browsers drop the tab: //evil.example/
    "/\n/evil.example/",
    "/\r\n/evil.example/",
    "\t//evil.example/",
    "//evil",
    "///evil",
    "/\\evil",
    "/\\/evil",
    "\\\\evil",
    "/x//evil",
    "%09",
    "https://evil",
    "http:/evil",
    "javascript:alert(1)",
    "evil.example",
    "/ /evil",
    "/\u00a0/evil",  # no-break space
    "/\u2028/evil",  # line separator
    "/\u200b/evil",  # zero-width space (a format character)
    "/\x00",
    "/" + "a" * 3000,
    "",
]
GOOD_NEXT = ["/links", "/links?state=offline", "/cases/C-1", "/%09/evil.example/", "/cases/%E5%8A%9E", "/cases/办件"]


@pytest.mark.parametrize("target", BAD_NEXT)
def test_next_falls_back_home_unless_a_plain_path(hub: Hub, target: str) -> None:
    assert safe_next(target) is None
    response = login(hub.client(), USERS["admin"], next=target)
    assert response.status_code == 302 and response.headers["Location"] == HOME, repr(target)


@pytest.mark.parametrize("target", GOOD_NEXT)
def test_next_keeps_same_site_paths(hub: Hub, target: str) -> None:
    assert safe_next(target) == target
    response = login(hub.client(), USERS["admin"], next=target)
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//"), location
    assert location in (target, "/cases/%E5%8A%9E%E4%BB%B6"), location  # non-ASCII is sent %-encoded


def test_next_from_the_query_string_is_checked_before_the_form_carries_it(hub: Hub) -> None:
    html = hub.client().get("/login?next=%2F%09%2Fevil.example%2F").get_data(as_text=True)
    assert 'name="next"' not in html
    html = hub.client().get("/login?next=%2Flinks").get_data(as_text=True)
    assert 'name="next" value="/links"' in html


def test_redirect_to_login_keeps_an_encoded_next_that_passes(hub: Hub) -> None:
    response = hub.client().get("/cases/办 件?q=a b")
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    from urllib.parse import parse_qs, urlsplit

    target = parse_qs(urlsplit(location).query)["next"][0]
    assert safe_next(target) == target and " " not in target


def _counts(hub: Hub) -> tuple[int, int]:
    with hub.conn() as conn:
        audit = conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
        failures = conn.execute("SELECT COUNT(*) FROM login_failures").fetchone()[0]
    conn.close()
    return int(audit), int(failures)


def test_head_login_is_never_an_attempt(hub: Hub) -> None:
    client = hub.client()
    for _ in range(50):  # an uptime probe, every few seconds for a while
        response = client.head("/login")
        assert response.status_code == 200 and response.get_data() == b""
    assert _counts(hub) == (0, 0)
    assert login(client, USERS["monitor"]).status_code == 302, "no lockout"
    signed_in = hub.login("monitor")
    assert signed_in.head("/login").status_code == 302, "like GET: a signed-in user goes home"


def test_success_resets_the_pair_and_other_users_at_the_address_are_unaffected(hub: Hub) -> None:
    client = hub.client()
    for _ in range(4):
        assert login(client, USERS["monitor"], "typo").status_code == 401
    assert login(client, USERS["monitor"]).status_code == 302
    for _ in range(4):
        assert login(hub.client(), USERS["monitor"], "typo").status_code == 401, "the count started again"
    for _ in range(5):
        login(hub.client(), USERS["leader"], "typo")
    assert login(hub.client(), USERS["leader"]).status_code == 429, "the leader's pair is locked"
    assert login(hub.client(), USERS["admin"]).status_code == 302, "others at the same address are not"


def test_a_room_behind_one_address_is_not_locked_by_its_own_typos(hub: Hub) -> None:
    staff = [f"staff{i:02d}" for i in range(20)]
    with hub.conn() as conn:
        for name in staff:
            create_user(conn, name, PASSWORD, "monitor", params=FAST, clock=hub.clock)
    conn.close()
    for name in staff:  # everyone in the room mistypes three times, then gets it right
        for _ in range(3):
            assert login(hub.client(), name, "typo").status_code == 401
        assert login(hub.client(), name).status_code == 302, name
    assert _counts(hub)[1] == 0, "every success cleared its own failures"


def test_spraying_many_usernames_from_one_address_locks_it(hub: Hub) -> None:
    for i in range(9):
        assert login(hub.client(), f"guess{i}", "Password1").status_code == 401
    tenth = login(hub.client(), "guess9", "Password1")
    assert tenth.status_code == 429 and int(tenth.headers["Retry-After"]) == 30
    locked = login(hub.client(), USERS["admin"])  # even the right password waits while the address is locked
    assert locked.status_code == 429
    with hub.conn() as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    conn.close()
    assert actions.count("auth.login_failed") == 10 and actions[-1] == "auth.login_locked"
    hub.clock.advance(30)
    assert login(hub.client(), USERS["admin"]).status_code == 302
    assert login(hub.client(), "guess10", "Password1").status_code == 429, "an 11th username: locked again, longer"
    hub.clock.advance(59)
    assert login(hub.client(), USERS["admin"]).status_code == 429
    hub.clock.advance(1)
    assert login(hub.client(), USERS["admin"]).status_code == 302
    hub.clock.advance(15 * 60)
    assert login(hub.client(), "guess11", "Password1").status_code == 401, "the window has passed"


def test_session_cookie_secure_follows_the_request_scheme(hub: Hub) -> None:
    plain = hub.client()
    token = csrf_from(plain.get("/login").get_data(as_text=True))
    response = plain.post("/login", data={"username": USERS["admin"], "password": PASSWORD, "csrf_token": token})
    assert "Secure" not in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in response.headers
    tls = hub.client()
    token = csrf_from(tls.get("/login", base_url="https://hub.example").get_data(as_text=True))
    form = {"username": USERS["admin"], "password": PASSWORD, "csrf_token": token}
    # over HTTPS a form must also come from this site (Flask-WTF's strict Referer check)
    foreign = tls.post("/login", base_url="https://hub.example", data=form,
                       headers={"Referer": "https://evil.example/login"})
    assert foreign.status_code == 403
    missing = tls.post("/login", base_url="https://hub.example", data=form)
    assert missing.status_code == 403
    response = tls.post("/login", base_url="https://hub.example", data=form,
                        headers={"Referer": "https://hub.example/login"})
    assert response.status_code == 302 and "; Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
