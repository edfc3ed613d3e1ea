"""The web section of the hub configuration: one frozen dataclass, unknown keys refused."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.web.proxy import parse_networks
from shared.errors import ConfigError

LANGUAGES = ("zh", "en")


@dataclass(frozen=True, slots=True)
class WebConfig:
    """Settings of the web application.

    ``database`` is the hub's SQLite file (DATA/hub.sqlite); ``secret_key`` signs the session cookie
    and must stay the same across restarts (the hub CLI keeps it in the data directory).
    """

    database: Path
    secret_key: str
    default_language: str = "zh"
    timezone: str = "Asia/Shanghai"
    cookie_secure: bool = False  # always Secure; without it, Secure whenever the request came over HTTPS
    session_lifetime_s: int = 12 * 3600
    session_idle_s: int = 2 * 3600
    login_free_failures: int = 5
    login_base_lockout_s: int = 30
    login_max_lockout_s: int = 3600
    login_spray_users: int = 10  # distinct usernames failing from one address in the window lock it
    login_spray_window_s: int = 900
    sse_heartbeat_s: float = 15.0
    sse_max_clients: int = 200
    sse_max_duration_s: float = 3600.0  # a stream ends after this; the browser reconnects
    per_page_default: int = 50
    per_page_max: int = 500
    trust_proxy: bool = False  # honour X-Forwarded-For/-Proto from one reverse proxy in front
    proxy_networks: str = "127.0.0.1/32,::1/128"  # the proxy's addresses (comma-separated), when trust_proxy
    source: str = "<config>"  # where the values came from, for error messages

    def __post_init__(self) -> None:
        where = self.source
        if len(self.secret_key) < 16:
            raise ConfigError(f"{where}: web.secret_key must be at least 16 characters")
        if self.default_language not in LANGUAGES:
            raise ConfigError(f"{where}: web.default_language must be one of {', '.join(LANGUAGES)}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{where}: web.timezone {self.timezone!r} is not a known time zone") from None
        for name in ("session_lifetime_s", "session_idle_s", "login_free_failures", "login_base_lockout_s",
                     "login_max_lockout_s", "login_spray_users", "login_spray_window_s", "sse_max_clients",
                     "per_page_default", "per_page_max"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{where}: web.{name} must be a positive integer")
        if not 0.01 <= self.sse_heartbeat_s <= 300:
            raise ConfigError(f"{where}: web.sse_heartbeat_s must be between 0.01 and 300 seconds")
        if self.per_page_default > self.per_page_max:
            raise ConfigError(f"{where}: web.per_page_default exceeds web.per_page_max")
        if self.trust_proxy:
            parse_networks(self.proxy_networks, f"{where}: web.proxy_networks")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = "<config>") -> WebConfig:
        """Build from a dict (e.g. the ``web:`` section of a YAML file); unknown keys are an error."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) in web config: {', '.join(unknown)}")
        missing = [name for name in ("database", "secret_key") if name not in values]
        if missing:
            raise ConfigError(f"{source}: web config needs {', '.join(missing)}")
        kwargs: dict[str, Any] = dict(values)
        kwargs["database"] = Path(kwargs["database"])
        kwargs.setdefault("source", source)
        for name, field in fields.items():
            if name in kwargs and field.type in ("int", "float", "bool", "str"):
                kwargs[name] = _coerce(kwargs[name], str(field.type), name, source)
        return cls(**kwargs)


def _coerce(value: Any, kind: str, name: str, source: str) -> Any:
    expected: type = {"int": int, "float": float, "bool": bool, "str": str}[kind]
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and kind != "bool":
        raise ConfigError(f"{source}: web.{name} must be {kind}, got a boolean")
    if not isinstance(value, expected):
        raise ConfigError(f"{source}: web.{name} must be {kind}, got {type(value).__name__}")
    return value
