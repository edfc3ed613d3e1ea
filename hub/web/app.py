"""The application factory of the hub's web UI and API (DESIGN.md §4.6)."""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.wrappers import Response

from hub.auth.clock import Clock, utcnow
from hub.auth.passwords import DEFAULT_PARAMS, ScryptParams
from hub.auth.schema import connect, ensure_schema
from hub.auth.sessions import SessionPolicy
from hub.auth.throttle import SprayPolicy, ThrottlePolicy
from hub.web import blueprints, templating
from hub.web.config import WebConfig
from hub.web.db import close_db
from hub.web.errors import register_error_handlers
from hub.web.events import EventBus
from hub.web.guard import guard
from hub.web.i18n import Catalogue
from hub.web.language import remember_language, select_language
from hub.web.metrics import REGISTRY, Registry
from hub.web.proxy import TrustedProxies
from hub.web.queries.supervision import SupervisionQueries, Unavailable
from hub.web.security import add_security_headers, install_csrf
from hub.web.state import WebMetrics, WebState

_log = logging.getLogger("hub.web")
VERSION = "0.1.0"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")  # a proxy's id is kept if it is log-safe


def _web_config(config: WebConfig | Mapping[str, Any] | object) -> WebConfig:
    if isinstance(config, WebConfig):
        return config
    if isinstance(config, Mapping):
        return WebConfig.from_mapping(config)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return WebConfig.from_mapping(dataclasses.asdict(config), source=type(config).__name__)
    raise TypeError(f"create_app() needs a WebConfig, a mapping or a dataclass, not {type(config).__name__}")


def create_app(
    config: WebConfig | Mapping[str, Any] | object,
    *,
    bus: EventBus | None = None,
    metrics: Registry | None = None,
    supervision: SupervisionQueries | None = None,
    clock: Clock = utcnow,
    scrypt: ScryptParams = DEFAULT_PARAMS,
    testing: bool = False,
) -> Flask:
    """Build the hub's Flask application.

    ``config`` is a :class:`WebConfig`, a mapping of its fields (unknown keys are refused) or any
    dataclass with those fields. ``bus`` is the event bus the hub's ingest publishes to (a new
    one if omitted: ``app.extensions['xiaoneng'].bus``); ``metrics`` the Prometheus registry
    (the process-wide :data:`hub.web.metrics.REGISTRY` by default); ``supervision`` the engine's
    query provider (see :mod:`hub.web.queries.supervision`). The auth tables are created if absent.
    """
    cfg = _web_config(config)
    cfg.database.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(cfg.database)
    try:
        ensure_schema(conn)
    finally:
        conn.close()

    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=cfg.secret_key,
        SESSION_COOKIE_NAME="xn_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=cfg.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=cfg.session_lifetime_s),
        MAX_CONTENT_LENGTH=1024 * 1024,
        XN_DATABASE=str(cfg.database),
        TESTING=testing,
    )
    app.session_interface = _SessionInterface()
    install_csrf(app)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if cfg.trust_proxy:
        app.wsgi_app = TrustedProxies(app.wsgi_app, cfg.proxy_networks)  # type: ignore[method-assign]

    registry = metrics if metrics is not None else REGISTRY
    app.extensions["xiaoneng"] = WebState(
        config=cfg,
        bus=bus if bus is not None else EventBus(),
        registry=registry,
        metrics=WebMetrics.register(registry),
        catalogue=Catalogue.load(strict=testing),
        supervision=supervision if supervision is not None else Unavailable(),
        clock=clock,
        tz=ZoneInfo(cfg.timezone),
        scrypt=scrypt,
        sessions=SessionPolicy(cfg.session_lifetime_s, cfg.session_idle_s),
        pair_throttle=ThrottlePolicy(cfg.login_free_failures, cfg.login_base_lockout_s, cfg.login_max_lockout_s),
        address_throttle=SprayPolicy(cfg.login_spray_users, cfg.login_spray_window_s, cfg.login_base_lockout_s,
                                     cfg.login_max_lockout_s),
        version=VERSION,
    )

    app.before_request(_start_request)
    app.before_request(select_language)
    app.before_request(guard)
    app.after_request(_finish_request)
    app.teardown_appcontext(close_db)
    register_error_handlers(app)
    templating.install(app)
    blueprints.register_all(app)
    return app


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, ``Secure`` whenever the request came over HTTPS.

    HTTPS means the hub's own TLS, or a trusted reverse proxy's ``X-Forwarded-Proto: https``
    (``trust_proxy``); ``cookie_secure`` makes the cookie ``Secure`` on every response.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


def _start_request() -> None:
    offered = request.headers.get("X-Request-Id", "")
    g.request_id = offered if _REQUEST_ID.match(offered) else secrets.token_hex(8)
    g.started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    from hub.web.state import web_state

    state = web_state()
    remember_language(response)  # type: ignore[arg-type]
    add_security_headers(response, static=request.endpoint == "static", https=request.is_secure)
    response.headers["X-Request-Id"] = g.get("request_id", "")
    endpoint = request.endpoint or "unmatched"
    state.metrics.requests.labels(endpoint=endpoint, code=str(response.status_code)).inc()
    if endpoint not in ("static", "stream.stream"):
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        state.metrics.latency.labels(endpoint=endpoint).observe(elapsed)
    return response


def shutdown(app: Flask) -> None:
    """Call when the hub stops: ends every live stream (their browsers reconnect to the next hub)."""
    state = app.extensions.get("xiaoneng")
    if isinstance(state, WebState):
        state.bus.close()
