"""E-mail over STARTTLS with a login, to a real SMTP server that requires both (aiosmtpd with a
certificate from a test CA that ``smtp.ca_file`` trusts); without that CA the certificate is refused
and the row waits for a retry with the reason."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from hub.notify.service import NotifyService
from tests.notify.conftest import FakeClock, Store
from tests.notify.servers import SmtpSink
from tests.notify.tlscerts import make_certs
from tests.support.ports import free_port

USER, SECRET = "xiaoneng", "mail password 123"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), SECRET.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[tuple[SmtpSink, int, Path]]:
    ca, cert, key = make_certs(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            auth_require_tls=True, authenticator=_authenticate)
    controller.start()
    try:
        yield sink, port, ca
    finally:
        controller.stop()


def _config(port: int, ca: Path | None, password: str = SECRET) -> dict[str, Any]:
    smtp = {"host": "127.0.0.1", "port": port, "starttls": True, "username": USER, "password": password,
            "sender": "xn@hub.example.cn", "timeout_s": 5}
    if ca is not None:
        smtp["ca_file"] = str(ca)
    return {"smtp": smtp, "retry": {"max_attempts": 3, "base_s": 1, "max_s": 4}}


def test_starttls_and_login_with_the_configured_ca(store: Store, tls_smtp: tuple[SmtpSink, int, Path]) -> None:
    sink, port, ca = tls_smtp
    (store.data / "certs").mkdir()
    (store.data / "certs" / "ca.pem").write_bytes(ca.read_bytes())
    cfg = _config(port, None)
    cfg["smtp"]["ca_file"] = "certs/ca.pem"  # relative to the data directory
    store.write_config(cfg)
    notifier = NotifyService(store.data, clock=FakeClock(), render=lambda m, c: None)
    try:
        store.raise_card("T1")
        notifier.turn()
    finally:
        notifier.stop()
    assert sorted(str(m["To"]) for m in sink.accepted) == ["a@d01.example.cn", "b@d01.example.cn"]
    assert all(r["state"] == "sent" for r in store.outbox())


@pytest.mark.parametrize(("use_ca", "password", "reason"), [
    (False, SECRET, "CERTIFICATE_VERIFY_FAILED"),
    (True, "wrong password 000", "535"),
])
def test_untrusted_certificate_or_wrong_password_keeps_the_row_pending(
        store: Store, tls_smtp: tuple[SmtpSink, int, Path], use_ca: bool, password: str, reason: str) -> None:
    sink, port, ca = tls_smtp
    store.write_config(_config(port, ca if use_ca else None, password))
    notifier = NotifyService(store.data, clock=FakeClock(), render=lambda m, c: None)
    try:
        store.raise_card("T2")
        notifier.turn()
    finally:
        notifier.stop()
    assert sink.accepted == []
    failed = [r for r in store.outbox() if r["channel"] == "email" and r["attempts"]]
    assert failed and failed[0]["state"] == "pending" and reason in failed[0]["last_error"], failed[0]["last_error"]
