"""Who gets what: a department's contacts and their preferences, the leaders for the report.

A department contact is an enabled user of role ``department`` for that department. Each user's
preferences (``notify_prefs``) say which channels and which card levels reach them; without a row,
every channel the hub has and every level. A channel needs an address: e-mail needs
``users.email``, SMS ``users.phone``; the UI inbox needs nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from hub.auth.clock import iso

CHANNELS = ("inbox", "email", "sms")
LEVELS = ("reminder", "yellow", "red")


@dataclass(frozen=True)
class Prefs:
    """A user's choice: channels and card levels that reach them."""

    channels: frozenset[str] = frozenset(CHANNELS)
    levels: frozenset[str] = frozenset(LEVELS)

    def __post_init__(self) -> None:
        bad = sorted((set(self.channels) - set(CHANNELS)) | (set(self.levels) - set(LEVELS)))
        if bad:
            raise ValueError(f"unknown channel or level {bad[0]!r} (channels: {', '.join(CHANNELS)}; "
                             f"levels: {', '.join(LEVELS)})")


@dataclass(frozen=True)
class Person:
    """A recipient as the outbox needs them."""

    username: str
    email: str | None
    phone: str | None
    prefs: Prefs


@dataclass(frozen=True)
class Delivery:
    """One (channel, recipient) of a message."""

    channel: str
    recipient: str
    address: str


def get_prefs(conn: sqlite3.Connection, username: str) -> Prefs:
    """The user's preferences (the defaults without a row)."""
    row = conn.execute("SELECT channels, levels FROM notify_prefs WHERE username = ?", (username,)).fetchone()
    if row is None:
        return Prefs()
    return Prefs(frozenset(json.loads(row[0])), frozenset(json.loads(row[1])))


def set_prefs(conn: sqlite3.Connection, username: str, prefs: Prefs, now: datetime) -> None:
    """Store the user's preferences."""
    with conn:
        conn.execute(
            "INSERT INTO notify_prefs(username, channels, levels, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT(username) DO UPDATE SET channels = excluded.channels, levels = excluded.levels, "
            "updated_at = excluded.updated_at",
            (username, json.dumps(sorted(prefs.channels)), json.dumps(sorted(prefs.levels)), iso(now)),
        )


def _people(conn: sqlite3.Connection, where: str, args: Sequence[object]) -> list[Person]:
    rows = conn.execute(f"SELECT username, email, phone FROM users WHERE disabled = 0 AND {where} "  # noqa: S608
                        "ORDER BY username", args).fetchall()  # fmt: skip
    return [Person(r[0], r[1], r[2], get_prefs(conn, r[0])) for r in rows]


def department_contacts(conn: sqlite3.Connection, dept_code: str) -> list[Person]:
    """The enabled department users of ``dept_code``."""
    return _people(conn, "role = 'department' AND dept_code = ?", (dept_code,))


def named_people(conn: sqlite3.Connection, usernames: Iterable[str]) -> list[Person]:
    """The enabled users among ``usernames`` (the configured leaders)."""
    names = sorted(set(usernames))
    if not names:
        return []
    return _people(conn, f"username IN ({', '.join('?' * len(names))})", names)


def card_deliveries(people: Iterable[Person], level: str | None, available: frozenset[str]) -> list[Delivery]:
    """Each person's (channel, address) for a card of ``level``: their channels that the hub has
    and they have an address for, when they want that level (pure)."""
    out = []
    for person in people:
        if level is not None and level not in person.prefs.levels:
            continue
        out += _deliveries(person, person.prefs.channels & available)
    return out


def report_deliveries(people: Iterable[Person], extra_emails: Iterable[str],
                      available: frozenset[str]) -> list[Delivery]:
    """The monthly report: every leader's inbox and e-mail (preferences do not filter the report),
    and the extra addresses of the configuration."""
    out = []
    for person in people:
        out += _deliveries(person, frozenset({"inbox", "email"}) & available)
    if "email" in available:
        out += [Delivery("email", f"mailto:{a}", a) for a in extra_emails]
    return out


def _deliveries(person: Person, channels: frozenset[str]) -> list[Delivery]:
    out = []
    if "inbox" in channels:
        out.append(Delivery("inbox", person.username, person.username))
    if "email" in channels and person.email:
        out.append(Delivery("email", person.username, person.email))
    if "sms" in channels and person.phone:
        out.append(Delivery("sms", person.username, person.phone))
    return out
