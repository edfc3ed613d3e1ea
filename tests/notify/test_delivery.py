"""Cards reach the department's contacts: inbox, e-mail to a real SMTP server, SMS to a real HTTP
gateway; retries with backoff on failing servers; every outcome audited; historical cards never."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from hub.notify.outbox import OutboxRow
from hub.notify.recipients import Prefs, set_prefs
from hub.notify.service import NotifyService
from tests.notify.conftest import NOW, FakeClock, Store, channels_config


def service(store: Store, clock: FakeClock) -> NotifyService:
    return NotifyService(store.data, clock=clock, render=lambda month, city: None)


def test_card_reaches_department_contacts_on_every_channel(store: Store, smtp, gateway) -> None:  # type: ignore[no-untyped-def]
    sink, port = smtp
    gw, url = gateway
    store.write_config(channels_config(port, url))
    clock = FakeClock()
    notifier = service(store, clock)
    try:
        store.raise_card("K1", level="yellow")
        assert notifier.turn() == 5  # dept-a: inbox, e-mail, SMS; dept-b: inbox, e-mail (no phone)
        assert sorted(str(m["To"]) for m in sink.accepted) == ["a@d01.example.cn", "b@d01.example.cn"]
        mail = sink.accepted[0]
        assert "黄牌" in str(mail["Subject"]) and "Yellow card" in str(mail["Subject"])
        body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "市场监管局" in body and "C-K1" in body and "2026-12-01" in body
        assert "http://hub.example.cn:8080/cards/K1" in body
        sms = gw.delivered()
        assert len(sms) == 1 and sms[0]["body"]["mobile"] == "13800000001" and sms[0]["body"]["sign"] == "效能办"
        assert sms[0]["auth"] == "Bearer gw-token" and "黄牌" in sms[0]["body"]["content"]
        assert len(sms[0]["body"]["content"]) <= 300
        # the department of another code heard nothing; the inboxes have the card
        conn = store.conn()
        inbox = conn.execute("SELECT username FROM notify_inbox ORDER BY username").fetchall()
        conn.close()
        assert [r[0] for r in inbox] == ["dept-a", "dept-b"]
        assert all(r["state"] == "sent" for r in store.outbox())
        assert len(store.audit("notify.sent")) == 5
        # a second pass finds nothing new: a card is told once
        assert notifier.turn() == 0
    finally:
        notifier.stop()


def test_historical_and_withdrawn_cards_are_never_notified(store: Store, smtp, gateway) -> None:  # type: ignore[no-untyped-def]
    sink, port = smtp
    gw, url = gateway
    store.write_config(channels_config(port, url))
    notifier = service(store, FakeClock())
    try:
        store.raise_card("OLD", historical=True)
        store.raise_card("GONE", state="withdrawn")
        notifier.turn()
        assert store.outbox() == [] and sink.accepted == [] and gw.requests == []
        assert notifier.feed.counts.skipped == 2
    finally:
        notifier.stop()


def test_escalation_and_supervision_notice(store: Store, smtp, gateway) -> None:  # type: ignore[no-untyped-def]
    sink, port = smtp
    gw, url = gateway
    store.write_config(channels_config(port, url))
    notifier = service(store, FakeClock())
    try:
        store.raise_card("Y1")
        notifier.turn()
        store.raise_card("R1", level="red", rule="R3", escalates="Y1")
        store.supervise("Y1", note="请于三个工作日内整改并回复")
        notifier.turn()
        keys = {r["key"] for r in store.outbox()}
        assert keys == {"card:Y1:raised", "card:R1:escalated", "card:Y1:supervise:1"}
        subjects = [str(m["Subject"]) for m in sink.accepted]
        assert any("升级为红牌" in s for s in subjects)
        notices = [m for m in sink.accepted if "督办通知" in str(m["Subject"])]
        assert len(notices) == 2  # both contacts of D01
        assert "请于三个工作日内整改并回复" in notices[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    finally:
        notifier.stop()


def test_preferences_choose_channels_and_levels(store: Store, smtp, gateway) -> None:  # type: ignore[no-untyped-def]
    sink, port = smtp
    gw, url = gateway
    store.write_config(channels_config(port, url))
    conn = store.conn()
    set_prefs(conn, "dept-a", Prefs(frozenset({"inbox", "sms"}), frozenset({"red"})), NOW)
    set_prefs(conn, "dept-b", Prefs(frozenset({"email"}), frozenset({"yellow", "red"})), NOW)
    conn.close()
    notifier = service(store, FakeClock())
    try:
        store.raise_card("Y2", level="yellow")
        store.raise_card("R2", level="red", rule="R4")
        notifier.turn()
        got = sorted((r["key"], r["channel"], r["recipient"]) for r in store.outbox())
        assert got == [
            ("card:R2:raised", "email", "dept-b"), ("card:R2:raised", "inbox", "dept-a"),
            ("card:R2:raised", "sms", "dept-a"), ("card:Y2:raised", "email", "dept-b"),
        ]
    finally:
        notifier.stop()


def test_failing_servers_retry_with_backoff_then_deliver(store: Store, smtp, gateway) -> None:  # type: ignore[no-untyped-def]
    sink, port = smtp
    gw, url = gateway
    store.write_config(channels_config(port, url))
    conn = store.conn()
    set_prefs(conn, "dept-b", Prefs(frozenset({"inbox"}), frozenset({"yellow", "red"})), NOW)
    conn.close()
    sink.replies = ["451 4.3.0 mailbox busy", "421 4.3.2 shutting down"]
    gw.statuses = [503, 502]
    clock = FakeClock()
    notifier = service(store, clock)
    try:
        store.raise_card("B1")
        notifier.turn()  # inbox sent; e-mail and SMS fail once
        rows = {r["channel"]: r for r in store.outbox()}
        assert rows["inbox"]["state"] == "sent"
        for ch in ("email", "sms"):
            assert rows[ch]["state"] == "pending" and rows[ch]["attempts"] == 1 and rows[ch]["last_error"]
        first_retry = min(r["next_attempt_at"] for r in rows.values() if r["state"] == "pending")
        assert notifier.turn() == 0  # nothing is due before its backoff
        clock.advance(7.9)  # 10 s ± 20 %: not yet
        assert notifier.send_due() == 0
        clock.advance(4.2)
        assert notifier.send_due() == 0  # due, but the servers fail a second time
        rows = {r["channel"]: r for r in store.outbox()}
        assert rows["email"]["attempts"] == 2 and rows["sms"]["attempts"] == 2
        assert min(rows["email"]["next_attempt_at"], rows["sms"]["next_attempt_at"]) > first_retry
        clock.advance(25)  # second delay is 20 s ± 20 %
        assert notifier.send_due() == 2
        assert len(sink.accepted) == 1 and len(gw.delivered()) == 1 and len(gw.requests) == 3
        failed = store.audit("notify.failed")
        assert len(failed) == 4 and "451" in failed[0]["error"]
        assert [r["key"] for r in gw.requests] == ["xn-3"] * 3  # the same idempotency key each time
    finally:
        notifier.stop()


def test_gives_up_after_max_attempts_and_at_once_on_a_permanent_refusal(store: Store, smtp, gateway) -> None:  # type: ignore[no-untyped-def]
    sink, port = smtp
    gw, url = gateway
    store.write_config(channels_config(port, url, max_attempts=2))
    sink.replies = ["451 busy", "451 busy", "451 busy", "451 busy"]
    gw.statuses = [400]
    clock = FakeClock()
    notifier = service(store, clock)
    try:
        store.raise_card("G1")
        notifier.turn()
        sms = [r for r in store.outbox() if r["channel"] == "sms"]
        assert sms[0]["state"] == "gave_up" and sms[0]["attempts"] == 1  # 400: retrying cannot help
        for _ in range(3):  # one e-mail attempt per pass while the server fails (the others wait)
            clock.advance(120)
            notifier.send_due()
        assert sink.attempts == 4
        mails = [r for r in store.outbox() if r["channel"] == "email"]
        assert {r["state"] for r in mails} == {"gave_up"} and {r["attempts"] for r in mails} == {2}
        gave_up = store.audit("notify.gave_up")
        assert len(gave_up) == 3 and any("permanent" in g["error"] for g in gave_up)
    finally:
        notifier.stop()


def test_a_dead_mail_server_does_not_hold_up_the_other_channels(store: Store, gateway) -> None:  # type: ignore[no-untyped-def]
    """Nothing listens on the SMTP port: one e-mail attempt fails per pass, the others wait, and the
    inbox and SMS rows of the same cards go out at once."""
    from tests.support.ports import free_port

    gw, url = gateway
    store.write_config(channels_config(free_port(), url))
    notifier = service(store, FakeClock())
    try:
        for card in ("D1", "D2", "D3"):
            store.raise_card(card)
        notifier.turn()
        rows = store.outbox()
        emails = [r for r in rows if r["channel"] == "email"]
        assert sorted(r["attempts"] for r in emails) == [0, 0, 0, 0, 0, 1]
        assert "unreachable" in next(r["last_error"] for r in emails if r["attempts"])
        assert all(r["state"] == "sent" for r in rows if r["channel"] != "email")
        assert len(gw.delivered()) == 3
    finally:
        notifier.stop()


def test_unconfigured_channel_rows_wait_for_the_config(store: Store, smtp, gateway) -> None:  # type: ignore[no-untyped-def]
    """A user who chose e-mail before the hub had SMTP gets no e-mail row; once notify.yaml names
    a server, the next cards go out by e-mail too (the file is reloaded while running)."""
    sink, port = smtp
    gw, url = gateway
    clock = FakeClock()
    notifier = service(store, clock)
    try:
        store.raise_card("N1")
        notifier.turn()
        assert {r["channel"] for r in store.outbox()} == {"inbox"}
        store.write_config(channels_config(port, url))
        store.raise_card("N2")
        notifier.turn()
        assert {r["channel"] for r in store.outbox() if r["key"] == "card:N2:raised"} == {"inbox", "email", "sms"}
        assert len(sink.accepted) == 2
    finally:
        notifier.stop()


def test_a_busy_database_delays_the_mark_but_never_resends(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """The ingest holds the write lock longer than the busy timeout just as an e-mail was sent: the
    notifier waits to record it instead of leaving the row pending (which would send it twice)."""
    class LockingChannel:
        def __init__(self) -> None:
            self.sent: list[int] = []
            self.blocker = sqlite3.connect(store.db, isolation_level=None, check_same_thread=False)

        def send(self, row: OutboxRow) -> None:
            self.sent.append(row.id)
            if len(self.sent) == 1:
                self.blocker.execute("BEGIN IMMEDIATE")  # another writer, for 1.2 s
                threading.Timer(1.2, lambda: self.blocker.execute("COMMIT")).start()

    store.write_config({"smtp": {"host": "127.0.0.1", "port": 9, "starttls": False, "sender": "xn@hub.example.cn"}})
    channel = LockingChannel()
    conn = store.conn()
    set_prefs(conn, "dept-a", Prefs(frozenset({"email"})), NOW)
    set_prefs(conn, "dept-b", Prefs(frozenset()), NOW)
    conn.close()
    notifier = NotifyService(store.data, clock=FakeClock(), render=lambda m, c: None, transports={"email": channel})
    notifier.conn.execute("PRAGMA busy_timeout=100")
    try:
        store.raise_card("L1")
        notifier.turn()
        notifier.turn()
    finally:
        notifier.stop()
        channel.blocker.close()
    assert channel.sent == [1]
    assert [r["state"] for r in store.outbox()] == ["sent"]
    assert "could not record a delivery; retrying" in caplog.text
