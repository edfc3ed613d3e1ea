"""Server-side web sessions: the browser's cookie holds only a random id.

Kept on the server (not in a signed cookie alone) so logout, disabling a user or changing their
password ends the session everywhere, and an idle session expires.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import timedelta

from hub.auth.clock import Clock, iso, parse_iso, utcnow
from hub.auth.users import User, get_user

_TOUCH_EVERY = timedelta(seconds=60)  # write last_seen_at at most this often


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a session lives at most, and how long it may sit idle."""

    lifetime_s: int = 12 * 3600
    idle_s: int = 2 * 3600


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def start_session(
    conn: sqlite3.Connection, username: str, policy: SessionPolicy, *, ip: str = "", clock: Clock = utcnow
) -> str:
    """Open a session for ``username``; returns the id to put in the cookie."""
    sid = secrets.token_urlsafe(32)
    now = clock()
    with conn:
        conn.execute(
            "INSERT INTO web_sessions(sid_hash, username, created_at, last_seen_at, expires_at, revoked_at, ip)"
            " VALUES (?, ?, ?, ?, ?, NULL, ?)",
            (_hash(sid), username, iso(now), iso(now), iso(now + timedelta(seconds=policy.lifetime_s)), ip[:64]),
        )
    return sid


def resolve_session(
    conn: sqlite3.Connection, sid: str, policy: SessionPolicy, *, clock: Clock = utcnow
) -> User | None:
    """The enabled user of a live session, or None (expired, idle too long, ended, user disabled)."""
    if not sid or len(sid) > 100:
        return None
    row = conn.execute(
        "SELECT username, last_seen_at, expires_at FROM web_sessions WHERE sid_hash = ? AND revoked_at IS NULL",
        (_hash(sid),),
    ).fetchone()
    if row is None:
        return None
    now = clock()
    last_seen = parse_iso(row["last_seen_at"])
    if now >= parse_iso(row["expires_at"]) or now - last_seen >= timedelta(seconds=policy.idle_s):
        end_session(conn, sid)
        return None
    user = get_user(conn, row["username"])
    if user is None or user.disabled:
        return None
    if now - last_seen >= _TOUCH_EVERY:
        with conn:
            conn.execute("UPDATE web_sessions SET last_seen_at = ? WHERE sid_hash = ?", (iso(now), _hash(sid)))
    return user


def end_session(conn: sqlite3.Connection, sid: str) -> None:
    """Forget a session (logout)."""
    with conn:
        conn.execute("DELETE FROM web_sessions WHERE sid_hash = ?", (_hash(sid),))


def purge_sessions(conn: sqlite3.Connection, policy: SessionPolicy, *, clock: Clock = utcnow) -> int:
    """Delete expired and long-idle sessions; returns how many."""
    now = clock()
    with conn:
        cur = conn.execute(
            "DELETE FROM web_sessions WHERE expires_at <= ? OR last_seen_at <= ?",
            (iso(now), iso(now - timedelta(seconds=policy.idle_s))),
        )
    return cur.rowcount
