"""Fixtures of the notification tests: a hub data directory with the supervision and auth tables,
department and leader users with contacts, the real SMTP and SMS servers, a fake clock."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.auth import ScryptParams, connect, create_user, ensure_schema
from hub.auth.users import set_contact
from hub.notify.schema import ensure_schema as ensure_notify_schema
from hub.supervision.schema import connect as sup_connect
from hub.supervision.schema import ensure_schema as ensure_sup_schema
from tests.notify.servers import Gateway, SmtpSink, sms_gateway, smtp_server

FAST = ScryptParams(n=2**8, r=8, p=1)
PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 11, 26, 2, 0, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Store:
    """A hub data directory for the notifier."""

    data: Path

    @property
    def db(self) -> Path:
        return self.data / "hub.sqlite"

    def conn(self) -> sqlite3.Connection:
        return connect(self.db)

    def write_config(self, config: dict[str, Any]) -> None:
        (self.data / "notify.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")

    def raise_card(self, card_id: str, *, level: str = "yellow", dept: str = "D01", rule: str = "R2",
                   historical: bool = False, escalates: str | None = None, state: str = "raised") -> None:
        """A card row as the supervision writes it."""
        conn = sup_connect(self.db)
        conn.execute(
                "INSERT INTO cards(card_id, key, rule, level, state, subject, case_id, dept_code, title, raised_at, "
                "deadline, escalates, evidence, json, updated_at, historical) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (card_id, f"{rule}|case:{card_id}", rule, level, state, f"case:C-{card_id}", f"C-{card_id}", dept,
                 "办件超过承诺时限仍未办结", NOW.isoformat(), "2026-12-01", escalates, "[]", "{}",
                 NOW.isoformat(), int(historical)))
        conn.close()

    def supervise(self, card_id: str, note: str = "请三日内整改") -> None:
        """A 督办 action as the supervision records it."""
        conn = sup_connect(self.db)
        conn.execute("INSERT INTO card_actions(card_id, action, from_state, to_state, actor, note, at) "
                     "VALUES (?, 'supervise', 'raised', 'notified', 'monitor-user', ?, ?)",
                     (card_id, note, NOW.isoformat()))
        conn.close()

    def outbox(self) -> list[sqlite3.Row]:
        conn = self.conn()
        try:
            return conn.execute("SELECT o.*, m.key FROM notify_outbox o JOIN notify_messages m ON m.id = o.message_id "
                                "ORDER BY o.id").fetchall()
        finally:
            conn.close()

    def audit(self, action: str) -> list[dict[str, Any]]:
        conn = self.conn()
        try:
            rows = conn.execute("SELECT target, detail FROM audit_log WHERE action = ? ORDER BY id", (action,))
            return [{"target": r[0], **json.loads(r[1])} for r in rows]
        finally:
            conn.close()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    data = tmp_path / "data"
    data.mkdir()
    s = Store(data)
    conn = sup_connect(s.db)
    ensure_sup_schema(conn)
    conn.execute("INSERT INTO sup_names(kind, code, name) VALUES ('dept', 'D01', '市场监管局')")
    conn.close()
    conn = connect(s.db)
    ensure_schema(conn)
    ensure_notify_schema(conn)
    users = [("dept-a", "department", "D01", "a@d01.example.cn", "13800000001"),
             ("dept-b", "department", "D01", "b@d01.example.cn", None),
             ("dept-other", "department", "D02", "x@d02.example.cn", "13800000009"),
             ("leader-wang", "leader", None, "wang@gov.example.cn", "13900000001"),
             ("monitor-user", "monitor", None, None, None)]
    for name, role, dept, mail, phone in users:
        create_user(conn, name, PASSWORD, role, dept_code=dept, params=FAST)
        set_contact(conn, name, mail, phone)
    conn.close()
    return s


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSink, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def gateway() -> Iterator[tuple[Gateway, str]]:
    with sms_gateway() as gw:
        yield gw


def channels_config(smtp_port: int, sms_url: str, **retry: float) -> dict[str, Any]:
    return {
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "starttls": False, "sender": "效能监察 <xn@hub.example.cn>",
                 "timeout_s": 5},
        "sms": {"url": sms_url, "body": {"mobile": "{phone}", "content": "{text}", "sign": "效能办"},
                "token": "gw-token", "timeout_s": 5},
        "retry": {"max_attempts": 4, "base_s": 10, "max_s": 60, **retry},
        "base_url": "http://hub.example.cn:8080",
    }


# the browser tests' fixtures (Debian's Chromium through Playwright, the web app on a free port)
from tests.browser.conftest import artifacts, browser, fake_hub, watched  # noqa: E402, F401
