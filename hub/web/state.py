"""What the app holds besides Flask's own config: bus, metrics, catalogue, plug-ins, clock."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from flask import current_app

from hub.auth.clock import Clock
from hub.auth.passwords import ScryptParams
from hub.auth.sessions import SessionPolicy
from hub.auth.throttle import SprayPolicy, ThrottlePolicy
from hub.web.config import WebConfig
from hub.web.events import EventBus
from hub.web.i18n import Catalogue
from hub.web.metrics import Counter, Gauge, Histogram, Registry
from hub.web.queries.supervision import SupervisionQueries


@dataclass(slots=True)
class WebMetrics:
    """The web layer's own metrics."""

    requests: Counter
    latency: Histogram
    logins: Counter
    sse_clients: Gauge

    @classmethod
    def register(cls, registry: Registry) -> WebMetrics:
        return cls(
            requests=registry.counter(
                "xiaoneng_http_requests_total", "HTTP requests served, by endpoint and status.", ["endpoint", "code"]
            ),
            latency=registry.histogram(
                "xiaoneng_http_request_duration_seconds", "Server time per HTTP request.", ["endpoint"]
            ),
            logins=registry.counter("xiaoneng_logins_total", "Login attempts by outcome.", ["outcome"]),
            sse_clients=registry.gauge("xiaoneng_sse_clients", "Open live-update (SSE) connections."),
        )


class StreamSlots:
    """Live streams admitted and not yet closed, counted at admission (before their first byte).

    The bus's subscriber count lags (a stream subscribes once its body starts), so a burst of
    reconnecting browsers could all pass a check on it; this count cannot be overtaken. Each open
    stream holds a server worker, and the server keeps workers beyond ``sse_max_clients`` for pages.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0

    def acquire(self, limit: int) -> bool:
        with self._lock:
            if self.open >= limit:
                return False
            self.open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.open = max(0, self.open - 1)


@dataclass(slots=True)
class WebState:
    """Everything a request needs from the application (``current_app.extensions['xiaoneng']``)."""

    config: WebConfig
    bus: EventBus
    registry: Registry
    metrics: WebMetrics
    catalogue: Catalogue
    supervision: SupervisionQueries
    clock: Clock
    tz: ZoneInfo
    scrypt: ScryptParams
    sessions: SessionPolicy
    pair_throttle: ThrottlePolicy
    address_throttle: SprayPolicy
    version: str
    streams: StreamSlots = field(default_factory=StreamSlots)


def web_state() -> WebState:
    """The running app's state."""
    value = current_app.extensions["xiaoneng"]
    if not isinstance(value, WebState):
        raise RuntimeError("create_app() did not initialise this application")
    return value
