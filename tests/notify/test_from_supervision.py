"""From the engine to a person: the real supervision raises a card for an overdue case and the
notifier tells the department's contact by e-mail and in the inbox; the month's older cards (there
before notifications started) are not sent."""

from __future__ import annotations

from hub.auth import connect, create_user
from hub.auth.users import set_contact
from hub.notify.schema import ensure_schema
from hub.notify.service import NotifyService
from tests.notify.conftest import FAST, PASSWORD, FakeClock
from tests.supervision.conftest import Month, _step, month  # noqa: F401 - the supervised month of November 2026


def test_a_card_the_supervision_raises_reaches_the_department(month: Month, smtp) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    sink, port = smtp
    data = month.db.parent
    conn = connect(month.db)
    conn.isolation_level = None
    ensure_schema(conn)
    create_user(conn, "zhang.d01", PASSWORD, "department", dept_code="D01", params=FAST)
    set_contact(conn, "zhang.d01", "zhang@d01.example.cn", None)
    conn.close()
    (data / "notify.yaml").write_text(
        f"smtp: {{host: 127.0.0.1, port: {port}, starttls: false, sender: xn@hub.example.cn}}\n", encoding="utf-8")
    clock = FakeClock(month.clock())
    notifier = NotifyService(data, clock=clock, render=lambda m, c: None)
    month.service.listeners.append(notifier.wake)
    try:
        notifier.turn()
        assert sink.accepted == [], "cards raised before notifications started are not sent"
        month.feed.accept("F", "2026-11-12T09:30")  # 5 working days: due 2026-11-19
        _step(month, "2026-11-12T09:35")
        _step(month, "2026-11-20T08:00")  # overdue: R2 yellow card
        notifier.turn()
    finally:
        notifier.stop()
    subjects = [str(m["Subject"]) for m in sink.accepted]
    assert any("黄牌 R2" in s for s in subjects), subjects
    r2 = next(m for m in sink.accepted if "黄牌 R2" in str(m["Subject"]))
    assert str(r2["To"]) == "zhang@d01.example.cn"
    assert "C-F" not in r2.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "办件 F" in r2.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "市场监管局（D01）" in r2.get_body(("plain",)).get_content()  # type: ignore[union-attr]
