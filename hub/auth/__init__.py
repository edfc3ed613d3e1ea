"""Users, roles, API tokens, web sessions, login throttling and the audit log of the hub.

No Flask here: the CLI (``xiaoneng-hub user add``) and the web UI call the same functions on an
open database connection::

    from hub.auth import connect, ensure_schema, create_user, create_token, audit

    conn = connect("DATA/hub.sqlite")
    ensure_schema(conn)
    create_user(conn, "wang", "a long password", "monitor", display_name="王监控")
    plain, row = create_token(conn, "prometheus", "prometheus scraper")
    audit(conn, "cli", "user.create", "wang", {"role": "monitor"})
"""

from hub.auth.audit import AuditEntry, audit, list_audit
from hub.auth.errors import (
    AuthError,
    InvalidInputError,
    UnknownUserError,
    UserExistsError,
)
from hub.auth.passwords import (
    DEFAULT_PARAMS,
    ScryptParams,
    hash_password,
    verify_password,
)
from hub.auth.roles import ALL_ROLES, Role
from hub.auth.schema import connect, ensure_schema
from hub.auth.sessions import (
    SessionPolicy,
    end_session,
    purge_sessions,
    resolve_session,
    start_session,
)
from hub.auth.throttle import LoginThrottle, SprayPolicy, ThrottlePolicy
from hub.auth.tokens import (
    ApiToken,
    create_token,
    find_token,
    list_tokens,
    revoke_token,
    user_for_token,
)
from hub.auth.users import (
    User,
    authenticate,
    create_user,
    get_user,
    list_users,
    set_disabled,
    set_password,
    set_role,
)

__all__ = [
    "ALL_ROLES",
    "DEFAULT_PARAMS",
    "ApiToken",
    "AuditEntry",
    "AuthError",
    "InvalidInputError",
    "LoginThrottle",
    "Role",
    "ScryptParams",
    "SessionPolicy",
    "SprayPolicy",
    "ThrottlePolicy",
    "UnknownUserError",
    "User",
    "UserExistsError",
    "audit",
    "authenticate",
    "connect",
    "create_token",
    "create_user",
    "end_session",
    "ensure_schema",
    "find_token",
    "get_user",
    "hash_password",
    "list_audit",
    "list_tokens",
    "list_users",
    "purge_sessions",
    "resolve_session",
    "revoke_token",
    "set_disabled",
    "set_password",
    "set_role",
    "start_session",
    "user_for_token",
    "verify_password",
]
