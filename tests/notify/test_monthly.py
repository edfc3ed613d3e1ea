"""The monthly report reaches the leaders on the first working day of the month — on the official
calendar, with a fake clock — built by the report code, e-mailed as PDF + Excel to a real SMTP
server and put in their inboxes, once per month across restarts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from hub.auth import connect, create_user
from hub.auth.users import set_contact
from hub.engine.clock_cli import build_calendar
from hub.notify.monthly import first_workday, report_due
from hub.notify.service import NotifyOptions, NotifyService
from shared.errors import XiaonengError
from tests.notify.conftest import FAST, PASSWORD, FakeClock
from tests.supervision.conftest import Month, month  # noqa: F401 - the supervised month of November 2026

NINE = time(9, 0)


def local(text: str) -> datetime:
    """A moment given in Beijing time, as an aware UTC datetime."""
    from hub.engine.localtime import LOCAL_TZ

    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ).astimezone(UTC)


@pytest.mark.parametrize(("moment", "due"), [
    ("2026-10-01T10:00", None),  # 国庆: holidays until Oct 7
    ("2026-10-07T23:59", None),
    ("2026-10-08T08:59", None),  # the first working day, before send_at
    ("2026-10-08T09:00", "2026-09"),
    ("2026-10-20T15:00", "2026-09"),  # a hub down that morning sends later in the month
    ("2026-01-03T12:00", None),  # 元旦: Jan 1-3 off
    ("2026-01-04T09:30", "2025-12"),  # a Sunday declared a working day (调休)
    ("2026-12-01T09:00", "2026-11"),
])
def test_report_due_on_the_official_calendar(moment: str, due: str | None) -> None:
    calendar = build_calendar()
    assert report_due(calendar, local(moment), NINE) == due


def test_first_workday_skips_holidays_and_weekends() -> None:
    calendar = build_calendar()
    assert [first_workday(calendar, 2026, m).isoformat() for m in (1, 2, 5, 10)] == [
        "2026-01-04", "2026-02-02", "2026-05-06", "2026-10-08"]


def _setup(data: Path, smtp_port: int) -> None:
    conn = connect(data / "hub.sqlite")
    from hub.notify.schema import ensure_schema

    conn.isolation_level = None
    ensure_schema(conn)
    create_user(conn, "leader-wang", PASSWORD, "leader", params=FAST)
    set_contact(conn, "leader-wang", "wang@gov.example.cn", "13900000001")
    create_user(conn, "leader-li", PASSWORD, "leader", params=FAST)  # no e-mail: the inbox only
    conn.close()
    (data / "notify.yaml").write_text(json.dumps({
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "starttls": False, "sender": "xn@hub.example.cn"},
        "monthly_report": {"leaders": ["leader-wang", "leader-li"], "emails": ["office@gov.example.cn"],
                           "send_at": "09:00", "city": "示范市"},
    }), encoding="utf-8")
    # the official calendar of this hub: December 1-2 declared holidays (a made-up arrangement)
    (data / "calendar").mkdir()
    (data / "calendar" / "2026.json").write_text(json.dumps({"year": 2026, "days": [
        {"name": "测试假日", "date": "2026-12-01", "isOffDay": True},
        {"name": "测试假日", "date": "2026-12-02", "isOffDay": True}]}), encoding="utf-8")


def test_monthly_report_sent_once_on_the_first_working_day(month: Month, smtp) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    sink, port = smtp
    data = month.db.parent
    _setup(data, port)
    clock = FakeClock(local("2026-12-01T10:00"))
    options = NotifyOptions(report_check_s=0)
    notifier = NotifyService(data, clock=clock, options=options)
    try:
        notifier.turn()
        clock.now = local("2026-12-02T10:00")
        notifier.turn()
        clock.now = local("2026-12-03T08:59")
        notifier.turn()
        assert sink.accepted == [], "no report before the first working day's send time"
        clock.now = local("2026-12-03T09:00")
        notifier.turn()
    finally:
        notifier.stop()
    assert sorted(str(m["To"]) for m in sink.accepted) == ["office@gov.example.cn", "wang@gov.example.cn"]
    mail = sink.accepted[0]
    assert "2026年11月" in str(mail["Subject"]) and "示范市" in str(mail["Subject"])
    files = {part.get_filename(): part.get_content() for part in mail.iter_attachments()}
    assert set(files) == {"xiaoneng-report-2026-11.pdf", "xiaoneng-report-2026-11.xlsx"}
    assert files["xiaoneng-report-2026-11.pdf"].startswith(b"%PDF")
    assert files["xiaoneng-report-2026-11.xlsx"].startswith(b"PK")
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "受理 5" in body  # the month's five cases, from the report code
    conn = connect(month.db)
    try:
        inbox = [r[0] for r in conn.execute("SELECT username FROM notify_inbox ORDER BY username")]
        assert inbox == ["leader-li", "leader-wang"]
    finally:
        conn.close()
    # restarts later that day and later in the month send nothing more
    for moment in ("2026-12-03T09:30", "2026-12-15T09:00", "2026-12-31T23:00"):
        again = NotifyService(data, clock=FakeClock(local(moment)), options=options)
        try:
            again.turn()
        finally:
            again.stop()
    assert len(sink.accepted) == 2
    conn = connect(month.db)
    try:
        assert [tuple(r) for r in conn.execute("SELECT month FROM notify_reports")] == [("2026-11",)]
        sent = conn.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'notify.sent'").fetchone()[0]
        assert sent == 4  # two inboxes, two e-mails
    finally:
        conn.close()


def test_a_report_that_cannot_be_built_is_tried_again_and_holds_up_nothing(store, smtp) -> None:  # type: ignore[no-untyped-def]
    sink, port = smtp
    store.write_config({"smtp": {"host": "127.0.0.1", "port": port, "starttls": False, "sender": "xn@hub.example.cn"},
                        "monthly_report": {"leaders": ["leader-wang"]}})
    calls: list[str] = []

    def render(which: str, city: str | None) -> tuple[dict[str, object], dict[str, bytes]]:
        calls.append(which)
        if len(calls) == 1:
            raise XiaonengError("no embeddable Chinese font: install fonts-wqy-zenhei")
        return {"accepted": 3, "completed": 2, "overdue": 1}, {"pdf": b"%PDF-1.4 test", "xlsx": b"PK test"}

    notifier = NotifyService(store.data, clock=FakeClock(local("2026-12-01T10:00")), render=render,
                             options=NotifyOptions(report_check_s=0))
    try:
        store.raise_card("X1")
        notifier.turn()
        assert notifier.counters["errors"] == 1 and calls == ["2026-11"]
        assert len(sink.accepted) == 2, "the card's e-mails went out although the report failed"
        notifier.turn()
    finally:
        notifier.stop()
    assert calls == ["2026-11", "2026-11"]
    report = [m for m in sink.accepted if "月报" in str(m["Subject"])]
    assert len(report) == 1 and str(report[0]["To"]) == "wang@gov.example.cn"
    assert "受理 3，办结 2，超期 1" in report[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
