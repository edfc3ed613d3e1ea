"""API bearer tokens for machines (Prometheus, integrations, the upper-level hub).

A token is ``xnt_`` + 43 URL-safe characters (256 random bits). Only its SHA-256 is stored, so a
database leak does not leak usable tokens; the plain token is shown once, when created. A token acts
as its user: same role, and it stops working when the user is disabled.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass

from hub.auth.clock import Clock, iso, utcnow
from hub.auth.errors import InvalidInputError, UnknownUserError
from hub.auth.users import User, get_user

TOKEN_PREFIX = "xnt_"  # noqa: S105 - a marker that makes leaked tokens greppable, not a secret


@dataclass(frozen=True, slots=True)
class ApiToken:
    """One row of ``api_tokens``."""

    token_hash: str
    username: str
    name: str
    created_at: str
    revoked_at: str | None

    @property
    def token_id(self) -> str:
        """A short, shareable identifier (the first 12 hex digits of the hash)."""
        return self.token_hash[:12]


def token_hash(token: str) -> str:
    """The stored form of ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    conn: sqlite3.Connection, username: str, name: str, *, clock: Clock = utcnow
) -> tuple[str, ApiToken]:
    """A new token for ``username``; returns ``(plain token, row)``. Show the plain token once."""
    if get_user(conn, username) is None:
        raise UnknownUserError(f"no user named {username!r}")
    label = name.strip()[:120]
    if not label:
        raise InvalidInputError("a token needs a name that says what uses it (e.g. 'prometheus')", "token_name")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(token_hash(plain), username, label, iso(clock()), None)
    with conn:
        conn.execute(
            "INSERT INTO api_tokens(token_hash, username, name, created_at, revoked_at) VALUES (?, ?, ?, ?, NULL)",
            (row.token_hash, row.username, row.name, row.created_at),
        )
    return plain, row


def user_for_token(conn: sqlite3.Connection, token: str) -> User | None:
    """The enabled user a live token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = conn.execute(
        "SELECT username FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL", (token_hash(token),)
    ).fetchone()
    if row is None:
        return None
    user = get_user(conn, row["username"])
    return None if user is None or user.disabled else user


def list_tokens(conn: sqlite3.Connection, username: str | None = None) -> list[ApiToken]:
    """Tokens (live and revoked), newest first, optionally of one user."""
    sql = "SELECT token_hash, username, name, created_at, revoked_at FROM api_tokens"
    args: tuple[str, ...] = ()
    if username is not None:
        sql += " WHERE username = ?"
        args = (username,)
    rows = conn.execute(sql + " ORDER BY created_at DESC, token_hash", args).fetchall()
    return [ApiToken(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def find_token(conn: sqlite3.Connection, token_id: str) -> ApiToken | None:
    """The token whose hash starts with ``token_id`` (at least 12 hex digits), if exactly one does."""
    if len(token_id) < 12 or any(c not in "0123456789abcdef" for c in token_id):
        return None
    rows = conn.execute(
        "SELECT token_hash, username, name, created_at, revoked_at FROM api_tokens"
        " WHERE token_hash >= ? AND token_hash < ? LIMIT 2",
        (token_id, token_id + "g"),
    ).fetchall()
    if len(rows) != 1:
        return None
    r = rows[0]
    return ApiToken(r[0], r[1], r[2], r[3], r[4])


def revoke_token(conn: sqlite3.Connection, token_hash_: str, *, clock: Clock = utcnow) -> bool:
    """Revoke a token by its hash; False if it was unknown or already revoked."""
    with conn:
        cur = conn.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
            (iso(clock()), token_hash_),
        )
    return cur.rowcount == 1
