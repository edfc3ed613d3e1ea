"""``DATA/notify.yaml``: how notifications leave the hub. Absent file: the UI inbox only.

Example (every section optional)::

    smtp:
      host: mail.example.gov.cn
      port: 587
      starttls: true          # or ssl: true for implicit TLS (port 465)
      username: xiaoneng
      password: "..."
      sender: "效能监察 <xiaoneng@example.gov.cn>"
      ca_file: certs/intranet-ca.pem   # optional: trust this CA (relative to DATA)
    sms:
      url: https://sms-gw.example.gov.cn/api/send
      method: POST
      body: {"mobile": "{phone}", "content": "{text}"}
      token: "..."            # sent as Authorization: Bearer ...
    retry: {max_attempts: 8, base_s: 30, max_s: 3600}
    monthly_report:
      leaders: [wang.leader]  # usernames (their inbox and e-mail)
      emails: [office@example.gov.cn]
      send_at: "09:00"        # local time on the first working day of the month
    base_url: http://hub.example:8080   # links in e-mails and SMS

Unknown keys and bad values are errors that name the key and the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hub.auth.users import EMAIL_RE, USERNAME_RE
from shared.config import build, read_yaml
from shared.errors import ConfigError

CONFIG_FILE = "notify.yaml"
PLACEHOLDERS = ("{phone}", "{text}")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_ADDRESS = re.compile(r"<([^<>]+)>\s*$")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    sender: str
    port: int = 587
    starttls: bool | None = None  # default: STARTTLS unless ssl (implicit TLS) is chosen
    ssl: bool = False
    username: str | None = None
    password: str | None = None
    timeout_s: float = 20.0
    ca_file: str | None = None  # PEM bundle to trust (an intranet CA); relative to the data directory

    @property
    def use_starttls(self) -> bool:
        """Whether to upgrade a plain connection with STARTTLS."""
        return (not self.ssl) if self.starttls is None else (self.starttls and not self.ssl)


@dataclass(frozen=True)
class SmsConfig:
    url: str
    body: dict[str, Any]
    method: str = "POST"
    token: str | None = None
    timeout_s: float = 10.0
    max_chars: int = 300


@dataclass(frozen=True)
class RetryConfig:
    max_attempts: int = 8
    base_s: float = 30.0
    max_s: float = 3600.0


@dataclass(frozen=True)
class MonthlyConfig:
    leaders: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    send_at: str = "09:00"
    city: str | None = None

    @property
    def send_time(self) -> time:
        hour, minute = self.send_at.split(":")
        return time(int(hour), int(minute))


@dataclass(frozen=True)
class NotifyConfig:
    smtp: SmtpConfig | None = None
    sms: SmsConfig | None = None
    retry: RetryConfig = field(default_factory=RetryConfig)
    monthly_report: MonthlyConfig = field(default_factory=MonthlyConfig)
    base_url: str | None = None

    @property
    def channels(self) -> frozenset[str]:
        """The channels this hub can deliver on."""
        out = {"inbox"}
        if self.smtp is not None:
            out.add("email")
        if self.sms is not None:
            out.add("sms")
        return frozenset(out)


def _fail(source: str, where: str, problem: str) -> ConfigError:
    return ConfigError(f"{source}: {where}: {problem}")


def _check_url(source: str, where: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _fail(source, where, f"{url!r} is not an http(s) URL")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def validate(config: NotifyConfig, source: str, base: Path | None = None) -> NotifyConfig:
    """Cross-field checks :func:`shared.config.build` cannot make; returns ``config``. ``base`` is
    the data directory (relative ``ca_file`` paths are read from it)."""
    smtp = config.smtp
    if smtp is not None:
        if not smtp.host.strip():
            raise _fail(source, "smtp.host", "must not be empty")
        if not 0 < smtp.port < 65536:
            raise _fail(source, "smtp.port", f"{smtp.port} is not a TCP port (1-65535)")
        if smtp.starttls is True and smtp.ssl:
            raise _fail(source, "smtp", "choose starttls (port 587) or ssl (port 465), not both")
        if (smtp.username is None) != (smtp.password is None):
            raise _fail(source, "smtp", "username and password go together (give both or neither)")
        match = _ADDRESS.search(smtp.sender)
        address = match.group(1) if match else smtp.sender.strip()
        if not EMAIL_RE.match(address):
            raise _fail(source, "smtp.sender",
                        f"{smtp.sender!r} is not an address (name@domain, or 名称 <name@domain>)")
        if smtp.timeout_s <= 0:
            raise _fail(source, "smtp.timeout_s", "must be positive")
        if smtp.ca_file is not None and base is not None:
            ca = Path(smtp.ca_file) if Path(smtp.ca_file).is_absolute() else base / smtp.ca_file
            if not ca.is_file():
                raise _fail(source, "smtp.ca_file", f"{ca} does not exist")
    sms = config.sms
    if sms is not None:
        _check_url(source, "sms.url", sms.url)
        if sms.method not in ("POST", "PUT"):
            raise _fail(source, "sms.method", f"{sms.method!r}: use POST or PUT (the body is JSON)")
        texts = " ".join(_strings(sms.body))
        missing = [p for p in PLACEHOLDERS if p not in texts]
        if missing:
            raise _fail(source, "sms.body", f"the template must use {' and '.join(missing)} in a value")
        if sms.timeout_s <= 0 or sms.max_chars < 20:
            raise _fail(source, "sms", "timeout_s must be positive and max_chars at least 20")
    retry = config.retry
    if retry.max_attempts < 1 or retry.base_s <= 0 or retry.max_s < retry.base_s:
        raise _fail(source, "retry", "need max_attempts >= 1 and 0 < base_s <= max_s")
    monthly = config.monthly_report
    if not _HHMM.match(monthly.send_at):
        raise _fail(source, "monthly_report.send_at", f"{monthly.send_at!r} is not a time HH:MM (24 h)")
    for name in monthly.leaders:
        if not USERNAME_RE.match(name):
            raise _fail(source, "monthly_report.leaders", f"{name!r} is not a username")
    for address in monthly.emails:
        if not EMAIL_RE.match(address):
            raise _fail(source, "monthly_report.emails", f"{address!r} is not an e-mail address")
    if monthly.emails and smtp is None:
        raise _fail(source, "monthly_report.emails", "e-mail addresses need an smtp section")
    if config.base_url is not None:
        _check_url(source, "base_url", config.base_url)
    return config


def load_config(data_dir: Path) -> NotifyConfig:
    """``DATA/notify.yaml`` checked, or the defaults (inbox only) when the file is absent."""
    path = data_dir / CONFIG_FILE
    if not path.exists():
        return NotifyConfig()
    config = parse_config(read_yaml(path), str(path), data_dir)
    smtp = config.smtp
    if smtp is not None and smtp.ca_file is not None and not Path(smtp.ca_file).is_absolute():
        config = replace(config, smtp=replace(smtp, ca_file=str(data_dir / smtp.ca_file)))
    return config


def parse_config(data: Any, source: str, base: Path | None = None) -> NotifyConfig:
    """A checked configuration from parsed YAML."""
    return validate(build(NotifyConfig, data, source), source, base)
