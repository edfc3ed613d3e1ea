"""Who may call which endpoint: every view declares its roles, anything undeclared is refused.

    @bp.get("/links")
    @allow(*LINK_READERS)
    def links() -> str: ...

``@public`` marks the few endpoints open without login (the login form, static files).
:func:`roles_for` is what the request guard and the route-walking test both read, so a new route
without a declaration fails closed (403 for everyone) and fails the test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from flask import Flask

from hub.auth.roles import ALL_ROLES, Role
from hub.auth.users import User

F = TypeVar("F", bound=Callable[..., object])

ADMIN = frozenset({Role.ADMIN})
READERS = frozenset({Role.ADMIN, Role.MONITOR, Role.LEADER})
"""Read the supervision screens (overview, rankings, reports, video)."""
CASE_READERS = READERS | {Role.DEPARTMENT}
"""Cases and cards: department users see their own only (the query scopes it)."""
LINK_READERS = READERS | {Role.TELECOM}
"""Links, quarantine and the agent list of the API."""
OPERATIONS = frozenset({Role.ADMIN, Role.TELECOM})
"""/metrics for Prometheus (use a telecom-role token)."""
EVERYONE = ALL_ROLES

PUBLIC_ENDPOINTS = frozenset({"static"})
_ROLES_ATTR = "__xn_roles__"
_PUBLIC_ATTR = "__xn_public__"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making the request, and how they proved it."""

    user: User
    via: Literal["session", "token"]

    @property
    def role(self) -> Role:
        return self.user.role

    @property
    def dept_scope(self) -> str | None:
        """The department a department user is limited to; None for city-wide roles."""
        return self.user.dept_code if self.user.role is Role.DEPARTMENT else None


def allow(*roles: Role) -> Callable[[F], F]:
    """Declare the roles that may call the decorated view."""
    if not roles:
        raise ValueError("allow() needs at least one role; use @public for open endpoints")
    allowed = frozenset(Role(r) for r in roles)

    def mark(view: F) -> F:
        setattr(view, _ROLES_ATTR, allowed)
        return view

    return mark


def public(view: F) -> F:
    """Declare a view open to anonymous visitors."""
    setattr(view, _PUBLIC_ATTR, True)
    return view


class UndeclaredAccess(LookupError):
    """A view has neither ``@allow`` nor ``@public``."""


def roles_for(app: Flask, endpoint: str) -> frozenset[Role] | None:
    """The roles allowed on ``endpoint``; None when it is public; :class:`UndeclaredAccess` if unset."""
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    view = app.view_functions.get(endpoint)
    if view is None:
        raise UndeclaredAccess(endpoint)
    if getattr(view, _PUBLIC_ATTR, False):
        return None
    roles: frozenset[Role] | None = getattr(view, _ROLES_ATTR, None)
    if roles is None:
        raise UndeclaredAccess(endpoint)
    return roles


def may(app: Flask, endpoint: str, role: Role) -> bool:
    """Whether ``role`` may call ``endpoint`` (False for undeclared endpoints)."""
    try:
        roles = roles_for(app, endpoint)
    except UndeclaredAccess:
        return False
    return roles is None or role in roles
