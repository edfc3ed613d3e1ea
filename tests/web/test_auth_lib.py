"""hub.auth without Flask: passwords, users, tokens, sessions, throttling, audit."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.auth import (
    InvalidInputError,
    LoginThrottle,
    SessionPolicy,
    SprayPolicy,
    ThrottlePolicy,
    UnknownUserError,
    UserExistsError,
    audit,
    authenticate,
    connect,
    create_token,
    create_user,
    end_session,
    ensure_schema,
    find_token,
    list_audit,
    list_tokens,
    resolve_session,
    revoke_token,
    set_disabled,
    set_password,
    set_role,
    start_session,
    user_for_token,
)
from hub.auth.passwords import ScryptParams, hash_password, needs_rehash, verify_password
from hub.auth.throttle import ThrottleState, after_failure, lockout_seconds, remaining, spray_lockout
from tests.web.conftest import FAST, NOW, FakeClock


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = connect(tmp_path / "hub.sqlite")
    ensure_schema(c)
    yield c
    c.close()


def test_password_hash_is_salted_scrypt_and_verifies() -> None:
    a = hash_password("a long password", FAST)
    b = hash_password("a long password", FAST)
    assert a != b and a.startswith("scrypt$256$8$1$")
    assert verify_password("a long password", a)
    assert not verify_password("a long passworD", a)
    assert not needs_rehash(a, FAST) and needs_rehash(a, ScryptParams())


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$3$8$1$AA==$AA==", "scrypt$x$8$1$a$b",
                                    "scrypt$1048576000$8$1$AA==$" + "A" * 44, "md5$abc"])
def test_malformed_hashes_never_verify(stored: str) -> None:
    assert verify_password("anything", stored) is False


def test_create_user_rules(conn: sqlite3.Connection) -> None:
    user = create_user(conn, "wang", "0123456789", "monitor", display_name="王", params=FAST)
    assert user.role.value == "monitor" and user.dept_code is None and not user.disabled
    with pytest.raises(UserExistsError):
        create_user(conn, "wang", "0123456789", "monitor", params=FAST)
    cases = [
        (("Wang!", "0123456789", "monitor"), {}, "invalid_username"),
        (("li", "short", "monitor"), {}, "password_too_short"),
        (("li", "0123456789", "boss"), {}, "invalid_role"),
        (("li", "0123456789", "department"), {}, "dept_required"),
        (("li", "0123456789", "leader"), {"dept_code": "D01"}, "dept_not_allowed"),
    ]
    for args, kwargs, code in cases:
        with pytest.raises(InvalidInputError) as info:
            create_user(conn, *args, params=FAST, **kwargs)
        assert info.value.code == code
    dept = create_user(conn, "zhao", "0123456789", "department", dept_code="D07", params=FAST)
    assert dept.dept_code == "D07"


def test_authenticate_disabled_and_rehash(conn: sqlite3.Connection) -> None:
    create_user(conn, "wang", "0123456789", "admin", params=ScryptParams(n=2**4, r=8, p=1))
    create_user(conn, "li", "0123456789", "monitor", params=FAST)
    assert authenticate(conn, "wang", "wrong password", FAST) is None
    assert authenticate(conn, "nobody", "0123456789", FAST) is None
    user = authenticate(conn, "wang", "0123456789", FAST)
    assert user is not None and user.username == "wang"
    stored = conn.execute("SELECT password_hash FROM users WHERE username = 'wang'").fetchone()[0]
    assert stored.startswith("scrypt$256$"), "weaker hash upgraded at login"
    set_disabled(conn, "li", True)
    assert authenticate(conn, "li", "0123456789", FAST) is None
    set_password(conn, "li", "a new password!", FAST)
    set_disabled(conn, "li", False)
    assert authenticate(conn, "li", "a new password!", FAST) is not None


def test_last_admin_cannot_be_disabled_or_demoted(conn: sqlite3.Connection) -> None:
    create_user(conn, "root", "0123456789", "admin", params=FAST)
    with pytest.raises(InvalidInputError) as info:
        set_disabled(conn, "root", True)
    assert info.value.code == "last_admin"
    with pytest.raises(InvalidInputError):
        set_role(conn, "root", "monitor")
    create_user(conn, "root2", "0123456789", "admin", params=FAST)
    set_disabled(conn, "root", True)
    with pytest.raises(UnknownUserError):
        set_disabled(conn, "ghost", True)


def test_tokens(conn: sqlite3.Connection) -> None:
    create_user(conn, "prom", "0123456789", "telecom", params=FAST)
    plain, row = create_token(conn, "prom", "prometheus", clock=FakeClock())
    assert plain.startswith("xnt_") and len(plain) > 40
    assert plain not in str(conn.execute("SELECT * FROM api_tokens").fetchall())
    user = user_for_token(conn, plain)
    assert user is not None and user.username == "prom"
    assert user_for_token(conn, plain + "x") is None and user_for_token(conn, "Bearer") is None
    assert find_token(conn, row.token_id) == row and find_token(conn, "zz") is None
    set_disabled(conn, "prom", True)
    assert user_for_token(conn, plain) is None
    set_disabled(conn, "prom", False)
    assert revoke_token(conn, row.token_hash) and not revoke_token(conn, row.token_hash)
    assert user_for_token(conn, plain) is None
    assert list_tokens(conn, "prom")[0].revoked_at is not None
    with pytest.raises(InvalidInputError):
        create_token(conn, "prom", "  ")
    with pytest.raises(UnknownUserError):
        create_token(conn, "ghost", "x")


def test_sessions_expire_idle_and_end(conn: sqlite3.Connection) -> None:
    clock = FakeClock()
    create_user(conn, "wang", "0123456789", "monitor", params=FAST)
    policy = SessionPolicy(lifetime_s=3600, idle_s=600)
    sid = start_session(conn, "wang", policy, clock=clock)
    assert resolve_session(conn, sid, policy, clock=clock) is not None
    clock.advance(500)
    assert resolve_session(conn, sid, policy, clock=clock) is not None  # touches last_seen
    clock.advance(500)
    assert resolve_session(conn, sid, policy, clock=clock) is not None, "activity keeps it alive"
    clock.advance(601)
    assert resolve_session(conn, sid, policy, clock=clock) is None, "idle too long"
    sid = start_session(conn, "wang", policy, clock=clock)
    for _ in range(8):
        clock.advance(500)
        alive = resolve_session(conn, sid, policy, clock=clock)
    assert alive is None, "lifetime is a hard limit"
    sid = start_session(conn, "wang", policy, clock=clock)
    end_session(conn, sid)
    assert resolve_session(conn, sid, policy, clock=clock) is None
    sid = start_session(conn, "wang", policy, clock=clock)
    set_password(conn, "wang", "another password", FAST)
    assert resolve_session(conn, sid, policy, clock=clock) is None, "a password change ends sessions"


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=1, max_value=10),
       st.integers(min_value=1, max_value=600), st.integers(min_value=1, max_value=100_000))
def test_lockout_grows_and_is_capped(failures: int, free: int, base: int, cap: int) -> None:
    policy = ThrottlePolicy(free_failures=free, base_lockout_s=base, max_lockout_s=cap)
    now, more = lockout_seconds(failures, policy), lockout_seconds(failures + 1, policy)
    assert 0 <= now <= more
    assert (now == 0) == (failures < free)
    assert now <= cap


@settings(max_examples=50)
@given(st.lists(st.integers(min_value=0, max_value=7200), min_size=1, max_size=30))
def test_throttle_state_only_resets_after_a_quiet_period(gaps: list[int]) -> None:
    policy = ThrottlePolicy(free_failures=3, base_lockout_s=10, max_lockout_s=1000, reset_after_s=3600)
    state, now = ThrottleState(), NOW
    for gap in gaps:
        now += timedelta(seconds=gap)
        before = state.failures
        state = after_failure(state, now, policy)
        assert state.failures == (1 if gap >= 3600 and before else before + 1)
        assert remaining(state, now) == lockout_seconds(state.failures, policy)


def test_login_throttle_exponential_lockout(conn: sqlite3.Connection) -> None:
    clock = FakeClock()
    policy = ThrottlePolicy(free_failures=3, base_lockout_s=30, max_lockout_s=100)
    throttle = LoginThrottle(conn, policy, SprayPolicy(distinct_users=1000), clock=clock)
    assert [throttle.failure("wang", "10.0.0.1") for _ in range(5)] == [0, 0, 30, 60, 100]
    assert throttle.check("wang", "10.0.0.1") == 100
    assert throttle.check("wang", "10.0.0.2") == 0, "another address is not locked"
    assert throttle.check("li", "10.0.0.1") == 0, "another user from the address is not locked"
    clock.advance(100)
    assert throttle.check("wang", "10.0.0.1") == 0
    throttle.success("wang", "10.0.0.1")
    assert throttle.failure("wang", "10.0.0.1") == 0


def test_address_is_locked_only_by_many_distinct_usernames(conn: sqlite3.Connection) -> None:
    clock = FakeClock()
    throttle = LoginThrottle(conn, ThrottlePolicy(free_failures=100), SprayPolicy(distinct_users=5, window_s=900),
                             clock=clock)
    for _ in range(50):
        throttle.failure("same-user", "10.9.9.9")
    assert throttle.check("fresh-user", "10.9.9.9") == 0, "one username failing often does not lock the address"
    for i in range(3):
        throttle.failure(f"user{i}", "10.9.9.9")
    assert throttle.check("fresh-user", "10.9.9.9") == 0, "four distinct usernames: below the threshold"
    assert throttle.failure("user3", "10.9.9.9") == 30, "the fifth distinct username locks the address"
    assert throttle.check("fresh-user", "10.9.9.9") == 30 and throttle.check("x", "10.9.9.8") == 0
    clock.advance(30)
    assert throttle.failure("user4", "10.9.9.9") == 60, "each further username doubles the lock"
    clock.advance(60)
    throttle.success("user4", "10.9.9.9")
    throttle.success("user3", "10.9.9.9")
    assert throttle.failure("user0", "10.9.9.9") == 0, "usernames that signed in no longer count"
    clock.advance(901)
    for i in range(5, 9):
        throttle.failure(f"user{i}", "10.9.9.9")
    assert throttle.check("fresh-user", "10.9.9.9") == 0, "failures older than the window are forgotten"


@given(st.lists(st.integers(min_value=0, max_value=2000), max_size=40), st.integers(min_value=1, max_value=12))
def test_spray_lockout_needs_the_threshold_within_the_window(offsets: list[int], threshold: int) -> None:
    policy = SprayPolicy(distinct_users=threshold, window_s=900, base_lockout_s=30, max_lockout_s=3600)
    now = NOW + timedelta(seconds=2000)
    times = [NOW + timedelta(seconds=o) for o in offsets]
    wait = spray_lockout(times, now, policy)
    recent = [t for t in times if now - t < timedelta(seconds=900)]
    if len(recent) < threshold:
        assert wait == 0
    else:
        assert 0 <= wait <= 3600
        assert wait == 0 or now < max(recent) + timedelta(seconds=3600)


def test_audit_log(conn: sqlite3.Connection) -> None:
    clock = FakeClock()
    first = audit(conn, "cli", "user.create", "wang", {"role": "monitor"}, clock=clock)
    audit(conn, "wang", "auth.login", clock=clock)
    audit(conn, "wang", "card.supervise", "K-1", {"note": "x" * 10_000}, clock=clock)
    entries, total = list_audit(conn)
    assert total == 3 and entries[0].action == "card.supervise" and "truncated" in entries[0].detail
    entries, total = list_audit(conn, username="wang", action="auth.login")
    assert total == 1 and entries[0].username == "wang"
    assert list_audit(conn, username="cli")[0][0].id == first
