"""CSRF tokens for forms and the security headers of every response."""

from __future__ import annotations

import hmac
import secrets

from flask import request, session
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


def csrf_token() -> str:
    """The session's CSRF token (created on first use); forms put it in a hidden field."""
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def rotate_csrf() -> None:
    """A new token (at login and logout)."""
    session["csrf"] = secrets.token_urlsafe(32)


def csrf_ok() -> bool:
    """Whether an unsafe request carries the session's CSRF token (form field or header)."""
    expected = session.get("csrf")
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    return isinstance(expected, str) and len(expected) >= 32 and hmac.compare_digest(expected, sent)


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
