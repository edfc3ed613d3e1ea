"""Users of the hub: create, look up, authenticate, disable, change role or password.

Functions take an open :mod:`sqlite3` connection (see :func:`hub.auth.schema.connect`) and commit
their own change, so the CLI and the web UI call them the same way.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from hub.auth.clock import Clock, iso, utcnow
from hub.auth.errors import InvalidInputError, UnknownUserError, UserExistsError
from hub.auth.passwords import (
    DEFAULT_PARAMS,
    ScryptParams,
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from hub.auth.roles import Role

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
DEPT_CODE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class User:
    """One row of ``users`` (without the password hash)."""

    username: str
    display_name: str
    role: Role
    dept_code: str | None
    created_at: str
    disabled: bool


def _row_to_user(row: sqlite3.Row) -> User:
    return User(
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        dept_code=row["dept_code"],
        created_at=row["created_at"],
        disabled=bool(row["disabled"]),
    )


def check_username(username: str) -> str:
    """``username`` if valid (lower-case ASCII letters, digits, ``._-``; 2–64 chars)."""
    if not USERNAME_RE.match(username):
        raise InvalidInputError(
            f"invalid username {username[:80]!r}: use 2-64 lower-case letters, digits, '.', '_' or '-'",
            "invalid_username",
        )
    return username


def check_password(password: str) -> str:
    """``password`` if it is long enough to be worth hashing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters", "password_too_short")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInputError(f"password too long: at most {MAX_PASSWORD_LENGTH} characters", "password_too_long")
    return password


def check_role_dept(role: Role, dept_code: str | None) -> str | None:
    """The department code to store: required for ``department`` users, refused for the others."""
    if role is Role.DEPARTMENT:
        if not dept_code or not DEPT_CODE_RE.match(dept_code):
            raise InvalidInputError(
                "a department user needs a department code (letters, digits, '._-')", "dept_required"
            )
        return dept_code
    if dept_code:
        raise InvalidInputError(
            f"role {role.value!r} takes no department code (got {dept_code!r})", "dept_not_allowed"
        )
    return None


def create_user(
    conn: sqlite3.Connection,
    username: str,
    password: str,
    role: Role | str,
    *,
    display_name: str | None = None,
    dept_code: str | None = None,
    params: ScryptParams = DEFAULT_PARAMS,
    clock: Clock = utcnow,
) -> User:
    """Create a user; raises :class:`UserExistsError` or :class:`InvalidInputError` with the reason."""
    check_username(username)
    check_password(password)
    try:
        role = role if isinstance(role, Role) else Role.parse(role)
    except ValueError as exc:
        raise InvalidInputError(str(exc), "invalid_role") from None
    dept = check_role_dept(role, dept_code or None)
    name = (display_name or username).strip()[:120] or username
    created = iso(clock())
    try:
        with conn:
            conn.execute(
                "INSERT INTO users(username, display_name, role, dept_code, password_hash, created_at,"
                " disabled) VALUES (?, ?, ?, ?, ?, ?, 0)",
                (username, name, role.value, dept, hash_password(password, params), created),
            )
    except sqlite3.IntegrityError:
        raise UserExistsError(f"user {username!r} already exists") from None
    return User(username, name, role, dept, created, False)


def get_user(conn: sqlite3.Connection, username: str) -> User | None:
    """The user named ``username``, or None."""
    row = conn.execute(
        "SELECT username, display_name, role, dept_code, created_at, disabled FROM users WHERE username = ?",
        (username,),
    ).fetchone()
    return None if row is None else _row_to_user(row)


def list_users(conn: sqlite3.Connection) -> list[User]:
    """All users, by username."""
    rows = conn.execute(
        "SELECT username, display_name, role, dept_code, created_at, disabled FROM users ORDER BY username"
    ).fetchall()
    return [_row_to_user(r) for r in rows]


def authenticate(
    conn: sqlite3.Connection, username: str, password: str, params: ScryptParams = DEFAULT_PARAMS
) -> User | None:
    """The enabled user whose password this is, or None.

    Takes the same time whether or not the user exists, and re-hashes a password stored with older
    parameters than ``params``.
    """
    row = conn.execute("SELECT password_hash, disabled FROM users WHERE username = ?", (username,)).fetchone()
    if row is None:
        verify_password(password, dummy_hash(params))
        return None
    if not verify_password(password, row["password_hash"]) or row["disabled"]:
        return None
    if needs_rehash(row["password_hash"], params):
        with conn:
            conn.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?",
                (hash_password(password, params), username),
            )
    return get_user(conn, username)


def _require(conn: sqlite3.Connection, username: str) -> User:
    user = get_user(conn, username)
    if user is None:
        raise UnknownUserError(f"no user named {username!r}")
    return user


def _active_admins(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0").fetchone()
    return int(row[0])


def set_disabled(conn: sqlite3.Connection, username: str, disabled: bool) -> User:
    """Disable or re-enable a user; refuses to disable the last enabled admin.

    Disabling also ends the user's web sessions (their API tokens stop working because every
    lookup checks ``disabled``).
    """
    user = _require(conn, username)
    if disabled and user.role is Role.ADMIN and not user.disabled and _active_admins(conn) <= 1:
        raise InvalidInputError(f"{username!r} is the last enabled admin and cannot be disabled", "last_admin")
    with conn:
        conn.execute("UPDATE users SET disabled = ? WHERE username = ?", (int(disabled), username))
        if disabled:
            conn.execute(
                "DELETE FROM web_sessions WHERE username = ?",
                (username,),
            )
    return _require(conn, username)


def set_password(
    conn: sqlite3.Connection, username: str, password: str, params: ScryptParams = DEFAULT_PARAMS
) -> None:
    """Replace a user's password and end their web sessions."""
    _require(conn, username)
    check_password(password)
    with conn:
        conn.execute(
            "UPDATE users SET password_hash = ? WHERE username = ?", (hash_password(password, params), username)
        )
        conn.execute("DELETE FROM web_sessions WHERE username = ?", (username,))


def set_role(conn: sqlite3.Connection, username: str, role: Role | str, dept_code: str | None = None) -> User:
    """Change a user's role (and department); refuses to demote the last enabled admin."""
    user = _require(conn, username)
    try:
        new_role = role if isinstance(role, Role) else Role.parse(role)
    except ValueError as exc:
        raise InvalidInputError(str(exc), "invalid_role") from None
    dept = check_role_dept(new_role, dept_code or None)
    if user.role is Role.ADMIN and new_role is not Role.ADMIN and not user.disabled and _active_admins(conn) <= 1:
        raise InvalidInputError(f"{username!r} is the last enabled admin and must stay admin", "last_admin")
    with conn:
        conn.execute(
            "UPDATE users SET role = ?, dept_code = ? WHERE username = ?", (new_role.value, dept, username)
        )
        conn.execute("DELETE FROM web_sessions WHERE username = ?", (username,))
    return _require(conn, username)


# -- contact fields (notifications: hub.notify) ----------------------------------------------------

EMAIL_RE = re.compile(r"^[^@\s<>]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
PHONE_RE = re.compile(r"^\+?[0-9]{5,20}$")


@dataclass(frozen=True, slots=True)
class Contact:
    """Where a user can be reached outside the UI (both optional)."""

    email: str | None
    phone: str | None


def ensure_contact_fields(conn: sqlite3.Connection) -> None:
    """Upgrade step: add ``users.email`` and ``users.phone`` to stores made before they existed."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(users)")}
    with conn:
        for column in "email phone".split():
            if present and column not in present:
                conn.execute(f"ALTER TABLE users ADD COLUMN {column} TEXT NULL")


def check_contact(email: str | None, phone: str | None) -> Contact:
    """The contact to store: blanks become None; a malformed address or number is refused."""
    email = (email or "").strip() or None
    phone = (phone or "").replace(" ", "").replace("-", "").strip() or None
    if email is not None and not EMAIL_RE.match(email):
        raise InvalidInputError(f"invalid e-mail address {email[:80]!r}: expected name@domain", "invalid_email")
    if phone is not None and not PHONE_RE.match(phone):
        raise InvalidInputError(
            f"invalid phone number {phone[:40]!r}: digits only, optionally with a leading +", "invalid_phone"
        )
    return Contact(email, phone)


def set_contact(conn: sqlite3.Connection, username: str, email: str | None, phone: str | None) -> Contact:
    """Store a user's e-mail address and mobile number (blank clears one)."""
    _require(conn, username)
    contact = check_contact(email, phone)
    ensure_contact_fields(conn)
    with conn:
        conn.execute("UPDATE users SET email = ?, phone = ? WHERE username = ?",
                     (contact.email, contact.phone, username))  # fmt: skip
    return contact


def get_contact(conn: sqlite3.Connection, username: str) -> Contact:
    """A user's contact (empty if the user has none or the store predates contacts)."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(users)")}
    if "email" not in present:
        return Contact(None, None)
    row = conn.execute("SELECT email, phone FROM users WHERE username = ?", (username,)).fetchone()
    return Contact(None, None) if row is None else Contact(row[0], row[1])
