"""Errors: JSON ``{"error", "detail"}`` under /api/v1 and /metrics, a localised page elsewhere."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from hub.web.queries.supervision import NotAvailable

_log = logging.getLogger("hub.web")

ERROR_WORDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
PAGE_MESSAGES = {
    400: "error.bad_request",
    401: "error.unauthorized",
    403: "error.forbidden",
    404: "error.not_found",
    405: "error.method",
    429: "error.too_many",
    503: "error.unavailable",
}


def wants_json() -> bool:
    """API and metrics callers get JSON errors."""
    return request.path.startswith("/api/") or request.path == "/metrics"


def json_error(status: int, detail: str, error: str | None = None) -> Response:
    """A JSON error response."""
    response = jsonify({"error": error or ERROR_WORDS.get(status, "error"), "detail": detail})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="xiaoneng"'
    return response


def error_response(status: int, detail: str, *, error: str | None = None, message_key: str | None = None) -> Response:
    """JSON or an HTML error page, depending on the path."""
    if wants_json():
        return json_error(status, detail, error)
    key = message_key or PAGE_MESSAGES.get(status, "error.title")
    html = render_template("error.html", status=status, message_key=key, request_id=g.get("request_id", ""))
    return Response(html, status=status, mimetype="text/html")


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 500:
        return _internal(exc)
    detail = exc.description or ERROR_WORDS.get(status, "error")
    response = error_response(status, detail)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _internal(exc: BaseException) -> Response:
    request_id = g.get("request_id", "")
    if not isinstance(exc, HTTPException) or (exc.code or 500) >= 500:
        _log.error("request %s %s failed (id %s)", request.method, request.path, request_id, exc_info=exc)
    detail = f"internal error; the hub log has the details under request id {request_id}"
    if wants_json():
        return json_error(500, detail)
    html = render_template("error.html", status=500, message_key="error.internal", request_id=request_id)
    return Response(html, status=500, mimetype="text/html")


def _not_available(_exc: NotAvailable) -> Response:
    detail = "the supervision engine is not running in this hub yet"
    return error_response(503, detail, message_key="common.unavailable")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on ``app``."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(NotAvailable, _not_available)
    app.register_error_handler(InternalServerError, _internal)
    app.register_error_handler(Exception, _internal)
