"""CSRF tokens for forms and the security headers of every response.

CSRF protection is Flask-WTF's ``CSRFProtect`` (installed by ``create_app``): a random token kept
in the signed session, handed to pages and scripts signed (itsdangerous), accepted from the form
field ``csrf_token`` or the header ``X-CSRF-Token``; over HTTPS the ``Referer`` must also be this
site (``Referrer-Policy: same-origin`` below lets browsers send it). The check runs in
:func:`hub.web.guard.guard`, not on every request, because only browser sessions need it: API
calls with a bearer token carry no cookie a third-party site could ride on.
"""

from __future__ import annotations

from flask import Flask, current_app, g, session
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from werkzeug.wrappers import Response

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def install_csrf(app: Flask) -> CSRFProtect:
    """Flask-WTF's CSRF protection, checked by the guard (see the module docstring)."""
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False,  # the guard decides which requests need it
        WTF_CSRF_FIELD_NAME=CSRF_FIELD,
        WTF_CSRF_HEADERS=[CSRF_HEADER, "X-CSRFToken"],
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session (itself limited: idle and absolute)
        WTF_CSRF_SSL_STRICT=True,
    )
    return CSRFProtect(app)


def csrf_token() -> str:
    """A signed CSRF token for this session (made on first use); forms put it in a hidden field."""
    return str(generate_csrf())


def rotate_csrf() -> None:
    """A new token (at login and logout): the old one stops working."""
    session.pop(CSRF_FIELD, None)
    g.pop(CSRF_FIELD, None)


def csrf_ok() -> bool:
    """Whether an unsafe request carries a valid token for this session (form field or header)."""
    protect: CSRFProtect = current_app.extensions["csrf"]
    try:
        protect.protect()
    except CSRFError:
        return False
    return True


def add_security_headers(response: Response, *, static: bool, https: bool) -> Response:
    """Headers every response carries; dynamic responses are never cached."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
    if https:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not static:
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response
