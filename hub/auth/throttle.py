"""Login throttling with exponential lockout.

Each failed login counts against two keys: the (username, client address) pair and the client
address alone (with a higher allowance, against password spraying). After ``free_failures``
failures a key is locked for ``base_lockout_s`` seconds, doubling with every further failure up to
``max_lockout_s``. A success clears the pair's key; a quiet period of ``reset_after_s`` forgets
old failures. :func:`after_failure` is the pure rule; :class:`LoginThrottle` stores the state.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.auth.clock import Clock, iso, parse_iso, utcnow


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Allowance and lockout of one kind of key."""

    free_failures: int = 5
    base_lockout_s: int = 30
    max_lockout_s: int = 3600
    reset_after_s: int = 3600


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """Failures so far and the current lock of one key."""

    failures: int = 0
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None


def lockout_seconds(failures: int, policy: ThrottlePolicy) -> int:
    """How long a key with ``failures`` failures is locked (0 while within the allowance)."""
    if failures < policy.free_failures:
        return 0
    exponent = min(failures - policy.free_failures, 30)
    return int(min(policy.base_lockout_s * 2**exponent, policy.max_lockout_s))


def remaining(state: ThrottleState, now: datetime) -> int:
    """Seconds until the key may try again (0 when it may now)."""
    if state.locked_until is None or now >= state.locked_until:
        return 0
    return max(1, int((state.locked_until - now).total_seconds() + 0.999))


def after_failure(state: ThrottleState, now: datetime, policy: ThrottlePolicy) -> ThrottleState:
    """The state after one more failure at ``now``."""
    failures = state.failures
    if state.last_failure_at is not None and now - state.last_failure_at >= timedelta(seconds=policy.reset_after_s):
        failures = 0
    failures += 1
    lock = lockout_seconds(failures, policy)
    return ThrottleState(failures, now, now + timedelta(seconds=lock) if lock else None)


class LoginThrottle:
    """Reads and writes throttle state in the ``login_throttle`` table."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        pair_policy: ThrottlePolicy = ThrottlePolicy(),
        address_policy: ThrottlePolicy = ThrottlePolicy(free_failures=30),
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._conn = conn
        self._policies = (pair_policy, address_policy)
        self._clock = clock

    @staticmethod
    def keys(username: str, address: str) -> tuple[str, str]:
        """The (pair, address) keys of one attempt."""
        return f"user:{username[:64]}|addr:{address[:64]}", f"addr:{address[:64]}"

    def _load(self, key: str) -> ThrottleState:
        row = self._conn.execute(
            "SELECT failures, last_failure_at, locked_until FROM login_throttle WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return ThrottleState()
        locked = parse_iso(row[2]) if row[2] else None
        return ThrottleState(int(row[0]), parse_iso(row[1]), locked)

    def check(self, username: str, address: str) -> int:
        """Seconds the caller must wait before this attempt may be checked (0: go ahead)."""
        now = self._clock()
        return max(remaining(self._load(key), now) for key in self.keys(username, address))

    def failure(self, username: str, address: str) -> int:
        """Record a failed attempt; returns the lockout it caused (seconds, 0 for none)."""
        now = self._clock()
        waits = []
        with self._conn:
            for key, policy in zip(self.keys(username, address), self._policies):
                state = after_failure(self._load(key), now, policy)
                self._conn.execute(
                    "INSERT INTO login_throttle(key, failures, last_failure_at, locked_until) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET failures = excluded.failures,"
                    " last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
                    (key, state.failures, iso(now), iso(state.locked_until) if state.locked_until else None),
                )
                waits.append(remaining(state, now))
        return max(waits)

    def success(self, username: str, address: str) -> None:
        """Forget the failures of this username from this address, and keys long quiet."""
        quiet = iso(self._clock() - timedelta(seconds=max(p.reset_after_s for p in self._policies)))
        with self._conn:
            self._conn.execute("DELETE FROM login_throttle WHERE key = ?", (self.keys(username, address)[0],))
            self._conn.execute(
                "DELETE FROM login_throttle WHERE last_failure_at < ? AND (locked_until IS NULL OR locked_until < ?)",
                (quiet, iso(self._clock())),
            )
