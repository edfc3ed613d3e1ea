"""The plug-in point of the supervision engine: cases, cards (alerts), rankings and reports.

The web layer talks to the supervision's tables only through :class:`SupervisionQueries`. The
implementation is :class:`hub.supervision.queries.SupervisionProvider`, which the running hub
passes to ``create_app(..., supervision=...)`` (``hub/webserver.py``); every field it returns is
listed in ``docs/supervision.md`` ("Provider API"). Without it :class:`Unavailable` answers, the
pages say the feature is not running yet and the API answers 503.

Every method gets the request's connection and the caller's department scope: ``None`` for
city-wide roles, a department code for department users — an implementation must return only
that department's rows then.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from hub.web.pagination import Page, PageRequest


class NotAvailable(Exception):
    """The supervision engine is not installed in this hub yet."""


class SupervisionQueries(Protocol):
    """What the cases, cards, rankings, reports and overview screens read."""

    available: bool

    def overview(self, conn: sqlite3.Connection, dept: str | None) -> Mapping[str, Any]:
        """Today's figures: ``accepted_today``, ``completed_today``, ``open``, ``overdue``,
        ``on_time_rate`` (0–1), ``cards_today`` — maintained incrementally, never a full scan."""
        ...

    def cases(
        self, conn: sqlite3.Connection, filters: Mapping[str, str], dept: str | None, page: PageRequest
    ) -> Page:
        """A page of cases (each a JSON-ready dict with at least ``case_id``, ``dept_code``,
        ``item_name``, ``status``, ``accepted_at``, ``due_at``, ``remaining_s``)."""
        ...

    def case(self, conn: sqlite3.Connection, case_id: str, dept: str | None) -> Mapping[str, Any] | None:
        """One case with its ``timeline``, ``clock`` and ``cards``; None if absent or out of scope."""
        ...

    def alerts(
        self, conn: sqlite3.Connection, filters: Mapping[str, str], dept: str | None, page: PageRequest
    ) -> Page:
        """A page of cards (reminder / yellow / red) with their state."""
        ...

    def card(self, conn: sqlite3.Connection, card_id: str, dept: str | None) -> Mapping[str, Any] | None:
        """One card (as in :meth:`alerts`, with ``history`` and ``evidence``); None if absent or out
        of scope. The web checks a department user's card through this before acting on it."""
        ...

    def act(self, card_id: str, action: str, actor: str, note: str, now: datetime) -> Mapping[str, Any]:
        """Apply a person's ``action`` (``supervise`` 督办, ``respond``, ``appeal``, ``uphold``,
        ``withdraw``, ``rectify``, ``close``) to a card and return the card after it. Raises
        ``hub.engine.cards.InvalidTransition`` when the card's state does not allow it and
        ``LookupError`` for an unknown card. The web has already checked role and scope."""
        ...

    def rankings(
        self, conn: sqlite3.Connection, period: str, kind: str, dept: str | None
    ) -> Sequence[Mapping[str, Any]]:
        """Ranked rows (``rank``, ``name``, ``score``, ``grade``) of ``kind`` for ``period``."""
        ...

    def report(self, conn: sqlite3.Connection, month: str, dept: str | None) -> Mapping[str, Any] | None:
        """The monthly report ``YYYY-MM`` as data; None when that month has none."""
        ...


class Unavailable:
    """The stand-in until the engine plugs in: every query raises :class:`NotAvailable`."""

    available = False

    def overview(self, conn: sqlite3.Connection, dept: str | None) -> Mapping[str, Any]:
        raise NotAvailable

    def cases(
        self, conn: sqlite3.Connection, filters: Mapping[str, str], dept: str | None, page: PageRequest
    ) -> Page:
        raise NotAvailable

    def case(self, conn: sqlite3.Connection, case_id: str, dept: str | None) -> Mapping[str, Any] | None:
        raise NotAvailable

    def alerts(
        self, conn: sqlite3.Connection, filters: Mapping[str, str], dept: str | None, page: PageRequest
    ) -> Page:
        raise NotAvailable

    def card(self, conn: sqlite3.Connection, card_id: str, dept: str | None) -> Mapping[str, Any] | None:
        raise NotAvailable

    def act(self, card_id: str, action: str, actor: str, note: str, now: datetime) -> Mapping[str, Any]:
        raise NotAvailable

    def rankings(
        self, conn: sqlite3.Connection, period: str, kind: str, dept: str | None
    ) -> Sequence[Mapping[str, Any]]:
        raise NotAvailable

    def report(self, conn: sqlite3.Connection, month: str, dept: str | None) -> Mapping[str, Any] | None:
        raise NotAvailable
