"""Fixtures of the web tests: a real SQLite hub database, an app per test, a signed-in client per role."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.auth import ScryptParams, connect, create_token, create_user, ensure_schema
from hub.web.app import create_app
from hub.web.events import EventBus
from hub.web.metrics import Registry

FAST = ScryptParams(n=2**8, r=8, p=1)  # real scrypt, cheap enough for hundreds of logins
PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 11, 26, 8, 0, 0, tzinfo=UTC)

# The tables of other components, exactly as the web layer reads them.
OTHER_TABLES = """
CREATE TABLE IF NOT EXISTS sites(site_id TEXT PRIMARY KEY, name TEXT, created_at TEXT);
CREATE TABLE IF NOT EXISTS agents(agent_id TEXT PRIMARY KEY, site_id TEXT, name TEXT, public_key BLOB,
    mqtt_username TEXT, password_hash TEXT, created_at TEXT, revoked_at TEXT);
CREATE TABLE IF NOT EXISTS agent_link(agent_id TEXT PRIMARY KEY, online INTEGER, status_at TEXT,
    last_heartbeat_at TEXT, rtt_ms INTEGER, reconnects INTEGER, outbox_depth INTEGER, oldest_unacked_s INTEGER,
    acked_seq INTEGER, cdc_lag_s INTEGER, source_health TEXT, degraded TEXT, health_json TEXT);
CREATE TABLE IF NOT EXISTS link_history(agent_id TEXT, at TEXT, online INTEGER, rtt_ms INTEGER, outbox_depth INTEGER);
CREATE TABLE IF NOT EXISTS quarantine(id INTEGER PRIMARY KEY, received_at TEXT, agent_id TEXT, topic TEXT,
    reason TEXT, detail TEXT, size INTEGER);
CREATE TABLE IF NOT EXISTS records(id INTEGER PRIMARY KEY, agent_id, stream_id, seq, hash BLOB, type TEXT,
    ts TEXT, received_at TEXT, raw BLOB);
"""

ROLES = ("admin", "monitor", "leader", "telecom", "department")
USERS = {role: f"{role}-user" for role in ROLES}


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def seed(conn: sqlite3.Connection, now: datetime = NOW) -> None:
    """Three sites, five agents in every link state, history and quarantined messages."""
    conn.executescript(OTHER_TABLES)
    created = iso(now - timedelta(days=30))
    conn.executemany(
        "INSERT INTO sites VALUES (?, ?, ?)",
        [("hall-a", "市民中心大厅", created), ("hall-b", "公安办证大厅", created), ("hall-c", "不动产大厅", created)],
    )
    agents = [
        ("agent-ok", "hall-a", "A 厅采集点", None),
        ("agent-down", "hall-b", "B 厅采集点", None),
        ("agent-late", "hall-a", "A 厅二号", None),
        ("agent-new", "hall-c", "C 厅采集点", None),
        ("agent-old", "hall-c", "C 厅旧采集点", iso(now - timedelta(days=2))),
    ]
    from provisioning.passwords import hash_password

    conn.executemany(
        "INSERT INTO agents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(a, s, n, bytes(32), f"mq-{a}", hash_password("agent password"), created, r) for a, s, n, r in agents],
    )
    link = "INSERT INTO agent_link VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    conn.execute(link, ("agent-ok", 1, iso(now - timedelta(hours=1)), iso(now - timedelta(seconds=10)), 42, 3, 0, 0,
                        1200, 2, "ok", None, '{"cpu": 3}'))
    conn.execute(link, ("agent-down", 0, iso(now - timedelta(minutes=20)), iso(now - timedelta(minutes=21)), None, 17,
                        850, 1260, 900, 1300, "ok", "outbox_high", None))
    conn.execute(link, ("agent-late", 1, iso(now - timedelta(hours=2)), iso(now - timedelta(minutes=5)), 80, 0, 5, 40,
                        10, 5, "ok", None, None))
    conn.execute(link, ("agent-old", 0, iso(now - timedelta(days=2)), iso(now - timedelta(days=2)), None, 0, 0, 0, 0,
                        0, None, None, None))
    history = []
    for minute in range(0, 180, 5):
        at = now - timedelta(minutes=180 - minute)
        online = 0 if 60 <= minute < 90 else 1
        history.append(("agent-ok", iso(at), online, 40 + minute % 7 if online else None, 0 if online else minute))
    history.append(("agent-ok", iso(now - timedelta(days=3)), 1, 999, 0))  # outside the 24 h window
    conn.executemany("INSERT INTO link_history VALUES (?, ?, ?, ?, ?)", history)
    quarantined = [
        (iso(now - timedelta(hours=1)), "agent-down", "xn/v1/agents/agent-down/records", "bad_signature",
         "batch 17: signature does not verify", 512),
        (iso(now - timedelta(hours=2)), "agent-down", "xn/v1/agents/agent-down/records", "broken_chain",
         "seq 88 prev mismatch", 300),
        (iso(now - timedelta(days=3)), None, "xn/v1/agents/ghost/records", "unknown_agent", "agent ghost", 90),
        (iso(now - timedelta(minutes=5)), "agent-ok", "xn/v1/agents/agent-ok/records", "equivocation",
         "seq 5 <script>alert(1)</script>", 200),
    ]
    conn.executemany(
        "INSERT INTO quarantine(received_at, agent_id, topic, reason, detail, size) VALUES (?, ?, ?, ?, ?, ?)",
        quarantined,
    )
    conn.commit()


@dataclass
class Hub:
    """One test's app and what it was built with."""

    app: Flask
    db: Path
    clock: FakeClock
    bus: EventBus
    registry: Registry

    def conn(self) -> sqlite3.Connection:
        return connect(self.db)

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def login(self, role_or_user: str, password: str = PASSWORD) -> FlaskClient:
        """A client signed in as the user of ``role_or_user`` (a role name or a username)."""
        client = self.app.test_client()
        username = USERS.get(role_or_user, role_or_user)
        response = login(client, username, password)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    def token(self, role: str, name: str = "test") -> str:
        with self.conn() as conn:
            plain, _row = create_token(conn, USERS[role], name, clock=self.clock)
        conn.close()
        return plain


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token, **extra})


def page_csrf(client: FlaskClient, url: str = "/api/v1/me") -> str:
    """The CSRF token of a signed-in client's session."""
    return str(client.get(url).get_json()["csrf_token"])


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    db = tmp_path / "hub.sqlite"
    clock = FakeClock()
    conn = connect(db)
    ensure_schema(conn)
    seed(conn)
    for role in ROLES:
        create_user(conn, USERS[role], PASSWORD, role, display_name=f"{role} 用户",
                    dept_code="D01" if role == "department" else None, params=FAST, clock=clock)
    conn.close()
    bus = EventBus()
    registry = Registry()
    app = create_app(
        {"database": str(db), "secret_key": "test-secret-key-0123456789", "sse_heartbeat_s": 0.05},
        bus=bus, metrics=registry, clock=clock, scrypt=FAST, testing=True,
    )
    yield Hub(app, db, clock, bus, registry)
    bus.close()


class FakeReportFiles:
    """Stands in for ``hub.reports`` (its ``render_pdf`` / ``render_xlsx``) in the web tests."""

    @staticmethod
    def render_pdf(report):  # type: ignore[no-untyped-def]
        return b"%PDF-1.4 fake " + str(report.get("month")).encode()

    @staticmethod
    def render_xlsx(report):  # type: ignore[no-untyped-def]
        return b"PK\x03\x04 fake"

    @staticmethod
    def render_html(report):  # type: ignore[no-untyped-def]
        return b"<!DOCTYPE html><title>fake " + str(report.get("month")).encode() + b"</title>"


@pytest.fixture
def report_files(monkeypatch: pytest.MonkeyPatch) -> FakeReportFiles:
    """Make the report downloads work with :class:`FakeReportFiles`."""
    from hub.web import reportfiles

    fake = FakeReportFiles()
    monkeypatch.setattr(reportfiles, "_module", lambda: fake)
    return fake


class FakeSupervision:
    """A supervision provider with a little data, honouring the department scope.

    Shapes follow ``hub.web.queries.supervision``; the card lifecycle follows the engine's
    (``hub.engine.cards``), with the web's word ``supervise`` for its ``notify`` and ``respond``
    recorded without a state change.
    """

    available = True

    def __init__(self) -> None:
        self.CASES = [
            {"case_id": "C-1", "dept_code": "D01", "dept_name": "市场监管局", "item_code": "IT-01",
             "item_name": "营业执照", "window_id": "W01", "staff_name": "张三", "status": "normal",
             "accepted_at": "2026-11-20T09:00:00+08:00", "due_date": "2026-11-27", "remaining_days": 2,
             "unit": "G", "provisional": False, "case_kind": 2,
             "clock": {"unit": "G", "limit": 5, "counted_days": 3, "remaining_days": 2, "due_date": "2026-11-27",
                       "statutory_due": "2026-12-04", "statutory_limit": 10, "paused": False,
                       "pauses": [{"start": "2026-11-21", "end": "2026-11-23", "kind": "supplement",
                                   "reason": "缺少材料"}]},
             "timeline": [
                 {"type": "case.accepted", "at": "2026-11-20T09:00:00+08:00", "hash": "ab" * 32, "verified": True,
                  "agent_id": "agent-ok", "seq": 7, "body": {"item_name": "营业执照", "applicant_name": "王五"}},
                 {"type": "case.supplement_requested", "at": "2026-11-21T10:00:00+08:00", "hash": "cd" * 32,
                  "verified": False, "agent_id": "agent-ok", "seq": 9, "body": {"reason": "缺少材料"}},
             ]},
            {"case_id": "C-2", "dept_code": "D02", "dept_name": "公安局", "item_name": "户口迁移", "status": "yellow",
             "accepted_at": "2026-11-01T09:00:00+08:00", "due_date": "2026-11-10", "remaining_days": -11,
             "unit": "G"},
        ]
        self.CARDS = [
            {"card_id": "K-1", "rule": "R2", "level": "yellow", "rule_type": "时效", "state": "raised",
             "case_id": "C-1", "dept_code": "D01", "dept_name": "市场监管局", "window_id": "W01",
             "raised_at": "2026-11-26T07:00:00+00:00", "message": "办件 C-1 超期", "deadline": "2026-12-01",
             "evidence": ["ab" * 32], "history": []},
            {"card_id": "K-2", "rule": "R4", "level": "red", "rule_type": "收费", "state": "notified",
             "case_id": "C-2", "dept_code": "D02", "dept_name": "公安局",
             "raised_at": "2026-11-25T07:00:00+00:00", "message": "办件 C-2 违规收费",
             "evidence": [], "history": [{"action": "notify", "state": "notified", "at": "2026-11-25T08:00:00+00:00",
                                          "actor": "monitor-user", "note": ""}]},
        ]
        self.acted: list[tuple[str, str, str, str]] = []

    def _scoped(self, rows, dept):  # type: ignore[no-untyped-def]
        return [r for r in rows if dept is None or r["dept_code"] == dept]

    def overview(self, conn, dept):  # type: ignore[no-untyped-def]
        return {"accepted_today": 12, "completed_today": 9, "open": 40, "overdue": 2, "on_time_rate": 0.955,
                "cards_today": 3}

    def cases(self, conn, filters, dept, page):  # type: ignore[no-untyped-def]
        from hub.web.pagination import Page

        rows = self._scoped(self.CASES, dept)
        if "status" in filters:
            rows = [r for r in rows if r["status"] == filters["status"]]
        if "q" in filters:
            rows = [r for r in rows if filters["q"] in r["case_id"] or filters["q"] in r["item_name"]]
        listed = [{k: v for k, v in r.items() if k not in ("timeline", "clock")} for r in rows]
        return Page(listed[page.offset: page.offset + page.per_page], page.page, page.per_page, len(rows))

    def case(self, conn, case_id, dept):  # type: ignore[no-untyped-def]
        found = next((c for c in self._scoped(self.CASES, dept) if c["case_id"] == case_id), None)
        if found is None:
            return None
        return {**found, "cards": [k for k in self.CARDS if k["case_id"] == case_id]}

    def alerts(self, conn, filters, dept, page):  # type: ignore[no-untyped-def]
        from hub.web.pagination import Page

        rows = self._scoped(self.CARDS, dept)
        for key in ("level", "state"):
            if key in filters:
                rows = [r for r in rows if r[key] == filters[key]]
        return Page(rows[page.offset: page.offset + page.per_page], page.page, page.per_page, len(rows))

    def card(self, conn, card_id, dept):  # type: ignore[no-untyped-def]
        return next((dict(k) for k in self._scoped(self.CARDS, dept) if k["card_id"] == card_id), None)

    def act(self, card_id, action, actor, note, now):  # type: ignore[no-untyped-def]
        from hub.engine.cards import TRANSITIONS, Action, CardState, InvalidTransition

        card = next((k for k in self.CARDS if k["card_id"] == card_id), None)
        if card is None:
            raise LookupError(card_id)
        if action == "respond":
            target = card["state"]
        else:
            step = Action("notify" if action == "supervise" else action)
            nxt = TRANSITIONS.get((CardState(card["state"]), step))
            if nxt is None:
                raise InvalidTransition(f"card {card_id} is {card['state']}: cannot {action}")
            target = nxt.value
        card["state"] = target
        card["history"] = [*card["history"], {"action": action, "state": target, "at": now.isoformat(),
                                              "actor": actor, "note": note}]
        self.acted.append((card_id, action, actor, note))
        return dict(card)

    def rankings(self, conn, period, kind, dept):  # type: ignore[no-untyped-def]
        return [
            {"rank": 1, "name": "市场监管局", "entity": "D01", "score": 98.5, "grade": "优秀",
             "blocks": {"timeliness": 38.5, "conformity": 15, "fees": 10, "complaints": 15, "satisfaction": 20},
             "counts": {"cases_completed": 200, "on_time": 200, "early": 200, "divisor": 200,
                        "cards": {"R2": {"yellow": 1}}, "yellow": 1, "red": 0,
                        "complaints": {"filed": 0, "judged": 0, "answered_on_time": 0, "substantiated": 0},
                        "ratings": {}},
             "deductions": [{"block": "timeliness", "points": 1.5, "reason": "R2 超期 黄牌 ×1", "kind": "cards",
                             "rule": "R2", "level": "yellow", "count": 1, "weight": 3,
                             "basis": "100 × 1 × 3 ÷ 200"}]},
            {"rank": 2, "name": "公安局", "entity": "D02", "score": 71.0, "grade": "合格", "blocks": {},
             "deductions": []},
        ]

    def report(self, conn, month, dept):  # type: ignore[no-untyped-def]
        if month != "2026-11":
            return None
        return {"month": month, "dept": dept, "cases": 1234, "totals": {"accepted": 1234, "completed": 1100},
                "rates": {"on_time_rate": 0.93},
                "departments": [{"rank": 1, "name": "市场监管局", "score": 98.5, "grade": "优秀"}]}
