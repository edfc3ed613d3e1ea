"""The audit helper every blueprint calls after a human action.

    from hub.web.audit import audit_action
    audit_action("card.supervise", target=card_id, detail={"note": note})

It records the signed-in user (or ``anonymous``), the client address and the request id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import g, request

from hub.auth.audit import audit
from hub.web.db import get_db
from hub.web.state import web_state


def client_address() -> str:
    """The client's address: the TCP peer, or with ``trust_proxy`` the address the trusted proxy forwarded."""
    return request.remote_addr or ""


def audit_action(
    action: str, target: str = "", detail: Mapping[str, Any] | None = None, *, username: str | None = None
) -> int:
    """Append an audit entry for the current request; returns its id."""
    principal = g.get("principal")
    who = username or (principal.user.username if principal is not None else "anonymous")
    full = {**dict(detail or {}), "ip": client_address(), "request_id": g.get("request_id", "")}
    return audit(get_db(), who, action, target, full, clock=web_state().clock)
