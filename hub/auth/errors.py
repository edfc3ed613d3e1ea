"""Errors of user, token and session management (all derive from :class:`XiaonengError`)."""

from __future__ import annotations

from shared.errors import XiaonengError


class AuthError(XiaonengError):
    """A user, token or session operation was refused; the message says which and why.

    ``code`` is a stable word the UI translates (``password_too_short``, ``last_admin`` …).
    """

    code = "auth_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class UserExistsError(AuthError):
    """``create_user`` was asked for a username that is already taken."""

    code = "user_exists"


class UnknownUserError(AuthError):
    """The named user does not exist."""

    code = "unknown_user"


class InvalidInputError(AuthError):
    """A username, password, role or department code does not meet the rules."""

    code = "invalid_input"
