"""Delivery on one channel: the UI inbox (a row), e-mail (smtplib), SMS (an HTTP webhook).

A channel's ``send(row)`` returns on success and raises :class:`DeliveryError` otherwise, saying
whether a retry can help (``permanent=False``: the server was down, a timeout, a 4xx/5xx SMTP reply
that is temporary) or not (a refused recipient, a gateway answering 400).
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import smtplib
import sqlite3
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol

from hub.notify.config import SmsConfig, SmtpConfig
from hub.notify.messages import sms_text
from hub.notify.outbox import OutboxRow, stamp
from shared.errors import XiaonengError

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class DeliveryError(XiaonengError):
    """A failed attempt; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent

    def outcome(self) -> str:
        """The text stored in ``last_error`` (``permanent:`` marks errors not worth retrying)."""
        return ("permanent: " if self.permanent else "") + str(self)


class Channel(Protocol):
    def send(self, row: OutboxRow) -> None: ...


def full_link(base_url: str | None, link: str) -> str:
    """``link`` (a UI path) as a URL when the hub's address is configured."""
    if not link:
        return ""
    return base_url.rstrip("/") + link if base_url else link


class InboxChannel:
    """The user's inbox in the UI: a row in ``notify_inbox`` (idempotent)."""

    def __init__(self, conn: sqlite3.Connection, clock: Any) -> None:
        self.conn = conn
        self.clock = clock

    def send(self, row: OutboxRow) -> None:
        now: datetime = self.clock()
        self.conn.execute("INSERT OR IGNORE INTO notify_inbox(username, message_id, created_at) VALUES (?,?,?)",
                          (row.recipient, row.message_id, stamp(now)))  # fmt: skip


def message_id_header(row: OutboxRow, sender: str) -> str:
    """A ``Message-ID`` stable for the row, so a resend after a crash is recognisable."""
    domain = sender.rsplit("@", 1)[-1].strip(" >") or "xiaoneng.local"
    digest = hashlib.sha256(f"{row.message.key}|{row.channel}|{row.recipient}".encode()).hexdigest()[:24]
    return f"<xn-{row.id}-{digest}@{domain}>"


class EmailChannel:
    """E-mail through the configured SMTP server (STARTTLS or implicit TLS, optional login)."""

    def __init__(self, config: SmtpConfig, base_url: str | None = None) -> None:
        self.config = config
        self.base_url = base_url

    def build(self, row: OutboxRow) -> EmailMessage:
        """The e-mail of ``row`` (text, link, attachments)."""
        msg = EmailMessage()
        msg["From"] = self.config.sender
        msg["To"] = row.address
        msg["Subject"] = row.message.subject
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = message_id_header(row, self.config.sender)
        link = full_link(self.base_url, row.message.link)
        msg.set_content(row.message.body + (f"\n查看 / Open: {link}\n" if link else ""))
        for name in row.message.attachments:
            path = Path(name)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise DeliveryError(f"attachment {path} cannot be read: {exc.strerror}") from None
            guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            ctype = XLSX if path.suffix == ".xlsx" else guessed
            maintype, subtype = ctype.split("/", 1)
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)
        return msg

    def tls(self) -> ssl.SSLContext:
        """Certificate-checking TLS (the system's CAs, or ``ca_file``'s)."""
        return ssl.create_default_context(cafile=self.config.ca_file)

    def send(self, row: OutboxRow) -> None:
        cfg = self.config
        msg = self.build(row)
        try:
            if cfg.ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_s,
                                                        context=self.tls())  # fmt: skip
            else:
                client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s)
            with client:
                if cfg.use_starttls:
                    client.starttls(context=self.tls())
                if cfg.username is not None and cfg.password is not None:
                    client.login(cfg.username, cfg.password)
                client.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"the SMTP server refused {row.address}: {exc.recipients}", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            permanent = 500 <= exc.smtp_code < 600 and exc.smtp_code not in (530, 535)  # login problems: fix config
            raise DeliveryError(f"SMTP {cfg.host}:{cfg.port} answered {exc.smtp_code} {text}", permanent=permanent) \
                from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {cfg.host}:{cfg.port} unreachable or failed: {exc}") from None


def render_body(template: Any, phone: str, text: str) -> Any:
    """The JSON body template with ``{phone}`` and ``{text}`` replaced in every string value."""
    if isinstance(template, str):
        return template.replace("{phone}", phone).replace("{text}", text)
    if isinstance(template, Mapping):
        return {k: render_body(v, phone, text) for k, v in template.items()}
    if isinstance(template, list):
        return [render_body(v, phone, text) for v in template]
    return template


class SmsChannel:
    """SMS through an HTTP gateway: the configured JSON body, success on any 2xx answer."""

    def __init__(self, config: SmsConfig, base_url: str | None = None) -> None:
        self.config = config
        self.base_url = base_url

    def request(self, row: OutboxRow) -> urllib.request.Request:
        """The HTTP request for ``row``."""
        cfg = self.config
        text = sms_text(row.message, cfg.max_chars, full_link(self.base_url, row.message.link) if self.base_url else "")
        body = json.dumps(render_body(cfg.body, row.address, text), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": f"xn-{row.id}"}
        if cfg.token:
            headers["Authorization"] = f"Bearer {cfg.token}"
        return urllib.request.Request(cfg.url, data=body, method=cfg.method, headers=headers)  # noqa: S310 - http(s) checked in config

    def send(self, row: OutboxRow) -> None:
        try:
            with urllib.request.urlopen(self.request(row), timeout=self.config.timeout_s) as response:  # noqa: S310 - URL checked http(s) in config
                status = response.status
                response.read(4096)
        except urllib.error.HTTPError as exc:
            permanent = 400 <= exc.code < 500 and exc.code not in (401, 403, 408, 429)
            raise DeliveryError(f"SMS gateway {self.config.url} answered HTTP {exc.code}", permanent=permanent) \
                from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"SMS gateway {self.config.url} unreachable: {exc}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"SMS gateway {self.config.url} answered HTTP {status}")
