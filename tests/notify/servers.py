"""Real servers the notification tests send to: an SMTP server (aiosmtpd) and an SMS gateway
(http.server in a thread), both on free ports of 127.0.0.1, with scripted failures."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.ports import free_port


@dataclass
class SmtpSink:
    """What the SMTP server received. ``replies`` scripts the next answers to DATA ("451 …"),
    ``hold`` makes DATA wait (a hub killed mid-send); ``accepted`` are the messages answered 250."""

    accepted: list[EmailMessage] = field(default_factory=list)
    attempts: int = 0
    replies: list[str] = field(default_factory=list)
    hold: threading.Event | None = None
    hold_from: int = 1  # with ``hold``: the attempt number from which DATA waits
    holding: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self.lock:
            self.attempts += 1
            reply = self.replies.pop(0) if self.replies else "250 OK"
            hold = self.hold if self.attempts >= self.hold_from else None
        if hold is not None:
            self.holding.set()
            import asyncio

            while not hold.is_set():
                await asyncio.sleep(0.02)
            return "451 4.3.0 try again later"
        if reply.startswith("250"):
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            with self.lock:
                self.accepted.append(parsed)
        return reply

    def ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.accepted]


@contextmanager
def smtp_server() -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        if sink.hold is not None:
            sink.hold.set()
        controller.stop()


@dataclass
class Gateway:
    """What the SMS gateway received; ``statuses`` scripts the next HTTP answers."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if 200 <= r["status"] < 300]


@contextmanager
def sms_gateway() -> Iterator[tuple[Gateway, str]]:
    gateway = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with gateway.lock:
                status = gateway.statuses.pop(0) if gateway.statuses else 200
                gateway.requests.append({"body": body, "status": status, "auth": self.headers.get("Authorization"),
                                         "key": self.headers.get("Idempotency-Key"), "path": self.path})
            payload = json.dumps({"ok": status == 200}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test server
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="sms-gateway", daemon=True)
    thread.start()
    try:
        yield gateway, f"http://127.0.0.1:{server.server_port}/send"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
