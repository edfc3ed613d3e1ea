"""The enrolment endpoint: ``POST /api/enroll`` over HTTPS on its own port (``--enroll-port``).

It is separate from the web UI (no sessions, no CSRF, no login: the one-time token is the only
credential) and served by the same hardened server (:class:`hub.webserver.AppServer`) with the web
UI's certificate, whose pin the token carries. Request and answer are JSON::

    {"token": "xn1....", "public_key": "<64 hex>", "csr": "-----BEGIN CERTIFICATE REQUEST-----..."}
    200 {"agent_id", "site_id", "certificate", "ca", "broker": {"host", "port"}, "hub_public_key"}
    4xx {"error": "<code>", "message": "<Chinese / English>"}   (429 with Retry-After)

``POST /api/renew`` (``xiaoneng-agent rotate``) takes ``{"agent_id", "csr", "at", "signature"}`` — the
agent's Ed25519 signature of :func:`shared.enrolment.renewal_message` — and answers ``{"certificate"}``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from werkzeug.wrappers import Response

from hub.enroll import EnrolRefused, EnrolService
from hub.webserver import AppServer
from hub.webtls import TlsFiles
from shared.enrolment import parse_token
from shared.errors import ConfigError

MAX_BODY = 16 * 1024


def create_enrol_app(service: EnrolService) -> Flask:
    app = Flask("xiaoneng-enrol")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY

    def refuse(status: int, code: str, message: str, retry_after: int | None = None) -> Response:
        response = jsonify({"error": code, "message": message})
        response.status_code = status
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.post("/api/enroll")
    def enroll() -> Response:
        body: Any = request.get_json(silent=True)
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("token", "public_key", "csr")):
            return refuse(400, "bad_request", "请求格式错误 / send JSON with token, public_key and csr (strings)")
        try:
            token = parse_token(body["token"])
        except ConfigError as exc:
            service.tokens.audit(request.remote_addr or "?", None, "token_malformed", str(exc))
            return refuse(403, "token_malformed", str(exc))
        try:
            done = service.enrol(token.secret, body["public_key"], body["csr"],
                                 address=request.remote_addr or "?", host=request.host.rsplit(":", 1)[0].strip("[]"))
        except EnrolRefused as exc:
            return refuse(exc.status, exc.code, str(exc), exc.retry_after)
        return jsonify(done.json())

    @app.post("/api/renew")
    def renew() -> Response:
        body: Any = request.get_json(silent=True)
        keys = ("agent_id", "csr", "at", "signature")
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in keys):
            return refuse(400, "bad_request", "请求格式错误 / send JSON with agent_id, csr, at and signature (strings)")
        try:
            pem = service.renew(body["agent_id"], body["csr"], body["at"], body["signature"],
                                address=request.remote_addr or "?")
        except EnrolRefused as exc:
            return refuse(exc.status, exc.code, str(exc), exc.retry_after)
        return jsonify({"certificate": pem})

    @app.errorhandler(413)
    def too_large(_: Exception) -> Response:
        return refuse(413, "too_large", f"请求过大 / request larger than {MAX_BODY} bytes")

    @app.errorhandler(404)
    @app.errorhandler(405)
    def not_here(_: Exception) -> Response:
        return refuse(404, "not_found", "only POST /api/enroll and /api/renew are served on this port")

    return app


class EnrolServer:
    """The enrolment app on its own HTTPS port."""

    def __init__(self, service: EnrolService, host: str, port: int, tls: TlsFiles) -> None:
        self.service = service
        self.server = AppServer(create_enrol_app(service), host, port, tls=tls, threads=4)

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
