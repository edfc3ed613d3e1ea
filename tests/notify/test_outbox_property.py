"""Delivery under random faults (hypothesis): every row ends sent exactly once or given up after
its last attempt; a restart between attempts (a new notifier on the same database) changes nothing."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.auth import connect, create_user, ensure_schema
from hub.auth.users import set_contact
from hub.notify.channels import DeliveryError
from hub.notify.outbox import OutboxRow
from hub.notify.schema import ensure_schema as ensure_notify
from hub.notify.service import NotifyService
from hub.supervision.schema import connect as sup_connect
from hub.supervision.schema import ensure_schema as ensure_sup_schema
from tests.notify.conftest import FAST, PASSWORD, FakeClock

MAX_ATTEMPTS = 4


class Scripted:
    """A channel whose attempts fail or succeed as the script says (True = success)."""

    def __init__(self, script: list[bool]) -> None:
        self.script = list(script)
        self.delivered: Counter[int] = Counter()

    def send(self, row: OutboxRow) -> None:
        ok = self.script.pop(0) if self.script else True
        if not ok:
            raise DeliveryError("scripted failure")
        self.delivered[row.id] += 1


def _store(folder: Path) -> None:
    conn = sup_connect(folder / "hub.sqlite")
    ensure_sup_schema(conn)
    conn.close()
    conn = connect(folder / "hub.sqlite")
    ensure_schema(conn)
    ensure_notify(conn)
    create_user(conn, "d1", PASSWORD, "department", dept_code="D01", params=FAST)
    set_contact(conn, "d1", "d1@x.cn", "13800000000")
    conn.close()
    (folder / "notify.yaml").write_text(
        "smtp: {host: 127.0.0.1, port: 9, starttls: false, sender: xn@x.cn}\n"
        f"retry: {{max_attempts: {MAX_ATTEMPTS}, base_s: 1, max_s: 8}}\n", encoding="utf-8")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cards=st.integers(1, 6), script=st.lists(st.booleans(), max_size=40),
       restarts=st.lists(st.integers(0, 12), max_size=3))
def test_no_loss_no_duplicate_under_random_faults(cards: int, script: list[bool], restarts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _store(folder)
        clock = FakeClock()
        email = Scripted(script)
        notifier = NotifyService(folder, clock=clock, render=lambda m, c: None, transports={"email": email})
        conn = sup_connect(folder / "hub.sqlite")
        for i in range(cards):
            conn.execute(
                "INSERT INTO cards(card_id, key, rule, level, state, subject, dept_code, title, raised_at, evidence, "
                "json, updated_at) VALUES (?, ?, 'R2', 'yellow', 'raised', ?, 'D01', 't', ?, '[]', '{}', ?)",
                (f"K{i}", f"R2|K{i}", f"case:K{i}", clock().isoformat(), clock().isoformat()))
        conn.close()
        try:
            for turn in range(40):
                if turn in restarts:  # the hub restarts between two turns
                    notifier.stop()
                    notifier = NotifyService(folder, clock=clock, render=lambda m, c: None,
                                             transports={"email": email})
                notifier.turn()
                clock.advance(10)
        finally:
            notifier.stop()
        db = connect(folder / "hub.sqlite")
        try:
            rows = db.execute("SELECT id, channel, state, attempts FROM notify_outbox").fetchall()
        finally:
            db.close()
        assert len([r for r in rows if r["channel"] == "email"]) == cards
        for row in rows:
            if row["channel"] != "email":
                assert row["state"] == "sent"
                continue
            if row["state"] == "sent":
                assert email.delivered[row["id"]] == 1
            else:
                assert row["state"] == "gave_up" and row["attempts"] == MAX_ATTEMPTS
                assert email.delivered[row["id"]] == 0
        assert sum(email.delivered.values()) == sum(1 for r in rows if r["channel"] == "email" and r["state"] == "sent")
