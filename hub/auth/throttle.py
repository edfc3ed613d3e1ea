"""Login throttling: per (username, address) with exponential lockout, per address against spraying.

The numbers are the web config's (defaults in brackets; docs/ui.md says the same):

* **(username, address)**: the first ``free_failures`` [5] failures of one username from one
  address cost nothing; the 5th locks that pair for ``base_lockout_s`` [30 s], every further
  failure doubles it, up to ``max_lockout_s`` [1 h]. A success clears the pair; so does
  ``reset_after_s`` [1 h] without a failure. Other users at the same address are not affected.
* **address alone** (password spraying): only while at least ``distinct_users`` [10] *different*
  usernames have failed from one address within ``window_s`` [15 min] is the address locked, for
  everyone: each failure then locks it for ``base_lockout_s`` × 2^(distinct usernames −
  ``distinct_users``) [30 s, 60 s, …], up to ``max_lockout_s``. A username that signs in
  successfully from the address no longer counts, so a room behind one proxy address is not
  locked out by its own typing mistakes unless ten people make them and none gets in.

While locked, an attempt is refused before the password is checked and counts as nothing.
:func:`after_failure` and :func:`spray_lockout` are the pure rules; :class:`LoginThrottle` keeps
the state (one row per failing (username, address) pair) in the ``login_failures`` table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.auth.clock import Clock, iso, parse_iso, utcnow

NAME_MAX = 64  # usernames and addresses are stored at most this long


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Allowance and lockout of one (username, address) pair."""

    free_failures: int = 5
    base_lockout_s: int = 30
    max_lockout_s: int = 3600
    reset_after_s: int = 3600


@dataclass(frozen=True, slots=True)
class SprayPolicy:
    """When one address is locked for every username: many distinct usernames failing from it."""

    distinct_users: int = 10
    window_s: int = 900
    base_lockout_s: int = 30
    max_lockout_s: int = 3600


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """Failures so far and the current lock of one pair."""

    failures: int = 0
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None


def lockout_seconds(failures: int, policy: ThrottlePolicy) -> int:
    """How long a pair with ``failures`` failures is locked (0 while within the allowance)."""
    if failures < policy.free_failures:
        return 0
    exponent = min(failures - policy.free_failures, 30)
    return int(min(policy.base_lockout_s * 2**exponent, policy.max_lockout_s))


def remaining(state: ThrottleState, now: datetime) -> int:
    """Seconds until the pair may try again (0 when it may now)."""
    return _until(state.locked_until, now)


def _until(moment: datetime | None, now: datetime) -> int:
    if moment is None or now >= moment:
        return 0
    return max(1, int((moment - now).total_seconds() + 0.999))


def after_failure(state: ThrottleState, now: datetime, policy: ThrottlePolicy) -> ThrottleState:
    """The pair's state after one more failure at ``now``."""
    failures = state.failures
    if state.last_failure_at is not None and now - state.last_failure_at >= timedelta(seconds=policy.reset_after_s):
        failures = 0
    failures += 1
    lock = lockout_seconds(failures, policy)
    return ThrottleState(failures, now, now + timedelta(seconds=lock) if lock else None)


def spray_lockout(last_failures: Sequence[datetime], now: datetime, policy: SprayPolicy) -> int:
    """Seconds one address is locked, given the last failure time of each username that failed from it."""
    recent = sorted(t for t in last_failures if now - t < timedelta(seconds=policy.window_s))
    if len(recent) < policy.distinct_users:
        return 0
    exponent = min(len(recent) - policy.distinct_users, 30)
    lock = min(policy.base_lockout_s * 2**exponent, policy.max_lockout_s)
    return _until(recent[-1] + timedelta(seconds=lock), now)


class LoginThrottle:
    """Reads and writes throttle state in the ``login_failures`` table."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        pair_policy: ThrottlePolicy = ThrottlePolicy(),
        address_policy: SprayPolicy = SprayPolicy(),
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._conn = conn
        self._pair = pair_policy
        self._address = address_policy
        self._clock = clock

    @staticmethod
    def _names(username: str, address: str) -> tuple[str, str]:
        return username[:NAME_MAX], address[:NAME_MAX]

    def _load(self, username: str, address: str) -> ThrottleState:
        row = self._conn.execute(
            "SELECT failures, last_failure_at, locked_until FROM login_failures WHERE address = ? AND username = ?",
            (address, username),
        ).fetchone()
        if row is None:
            return ThrottleState()
        locked = parse_iso(row[2]) if row[2] else None
        return ThrottleState(int(row[0]), parse_iso(row[1]), locked)

    def _address_wait(self, address: str, now: datetime) -> int:
        since = iso(now - timedelta(seconds=self._address.window_s))
        rows = self._conn.execute(
            "SELECT last_failure_at FROM login_failures WHERE address = ? AND last_failure_at > ?", (address, since)
        ).fetchall()
        return spray_lockout([parse_iso(r[0]) for r in rows], now, self._address)

    def check(self, username: str, address: str) -> int:
        """Seconds the caller must wait before this attempt may be checked (0: go ahead)."""
        username, address = self._names(username, address)
        now = self._clock()
        return max(remaining(self._load(username, address), now), self._address_wait(address, now))

    def failure(self, username: str, address: str) -> int:
        """Record a failed attempt; returns the lockout it caused (seconds, 0 for none)."""
        username, address = self._names(username, address)
        now = self._clock()
        with self._conn:
            state = after_failure(self._load(username, address), now, self._pair)
            self._conn.execute(
                "INSERT INTO login_failures(address, username, failures, last_failure_at, locked_until)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(address, username) DO UPDATE SET failures = excluded.failures,"
                " last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
                (address, username, state.failures, iso(now), iso(state.locked_until) if state.locked_until else None),
            )
        return max(remaining(state, now), self._address_wait(address, now))

    def success(self, username: str, address: str) -> None:
        """Forget this username's failures from this address, and every pair long quiet."""
        username, address = self._names(username, address)
        now = self._clock()
        quiet = iso(now - timedelta(seconds=max(self._pair.reset_after_s, self._address.window_s)))
        with self._conn:
            self._conn.execute("DELETE FROM login_failures WHERE address = ? AND username = ?", (address, username))
            self._conn.execute(
                "DELETE FROM login_failures WHERE last_failure_at < ? AND (locked_until IS NULL OR locked_until < ?)",
                (quiet, iso(now)),
            )
