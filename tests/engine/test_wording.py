"""Card titles and texts in plain Chinese (hub.engine.wording): no ids, no type names, no ISO times."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from hub.engine.localtime import LOCAL_TZ
from hub.engine.wording import Context, event_name, plain, short_case_id, text, title, when

INTERNAL = re.compile(r"card-[0-9a-f]{8}|[0-9a-f]{16,}|\b(case|presence|agent|complaint|disclosure|queue)\.[a-z_]+"
                      r"|\d{4}-\d\d-\d\dT")
MOMENT = datetime(2026, 11, 3, 9, 12, 30, tzinfo=LOCAL_TZ)
LONG_ID = "99010000000000001376"


def test_event_names_are_chinese_and_unknown_types_are_just_records() -> None:
    assert event_name("case.suspended") == "特别程序开始"
    assert event_name("case.accepted") == "受理"
    assert event_name("presence.absent") == "人员离岗"
    assert event_name("case.something_new") == "记录"


def test_times_are_local_minutes_and_dates_stay_dates() -> None:
    assert when("2026-11-23T06:05:59+00:00") == "2026-11-23 14:05"
    assert when(MOMENT) == "2026-11-03 09:12"
    assert when("2026-11-20") == "2026-11-20"
    assert when("not a time") == "not a time" and when(None) == ""


def test_long_case_numbers_are_shortened() -> None:
    assert short_case_id(LONG_ID) == "9901…1376"
    assert short_case_id("C-1") == "C-1"


def test_r2_open_completed_and_with_overdue_days() -> None:
    details = {"due_date": "2026-11-20", "provisional": False}
    assert title("R2", details, MOMENT, f"case:{LONG_ID}", Context(item="酒类零售许可")) == (
        "办件 9901…1376（酒类零售许可）超过承诺办结日 2026-11-20 仍未办结")
    assert title("R2", details, MOMENT, f"case:{LONG_ID}", Context(item="酒类零售许可", overdue_days=2)) == (
        "办件 9901…1376（酒类零售许可）超过承诺期限 2 个工作日仍未办结（承诺办结日 2026-11-20）")
    done = Context(completed_at="2026-11-24T10:00:00+08:00", overdue_days=2, unit="G")
    assert title("R2", details, MOMENT, "case:C1", done) == (
        "办件 C1 超过承诺办结日 2026-11-20，于 2026-11-24 办结，超期 2 个工作日")


def test_r3_escalation_names_the_yellow_card_by_its_title() -> None:
    details = {"deadline": "2026-11-20", "escalates_rule": "R2", "case_id": "C1"}
    yellow = "办件 C1 超过承诺办结日 2026-11-10 仍未办结"
    assert title("R3", details, MOMENT, "case:C1", Context(escalated_title=yellow)) == (
        f"黄牌『{yellow}』督办期限 2026-11-20 已过仍未整改")
    assert title("R3", details, MOMENT, "case:C1") == "办件 C1 的超期黄牌督办期限 2026-11-20 已过仍未整改"
    statutory = {"statutory_due_date": "2026-12-04", "provisional": False}
    assert title("R3", statutory, MOMENT, "case:C1") == "办件 C1 超过法定办结日 2026-12-04 仍未办结"


def test_r8_says_which_record_was_late_and_when() -> None:
    details = {"event": "case.accepted", "delay_hours": 31, "reported_at": "2026-11-04T16:40:00+08:00"}
    assert title("R8", details, MOMENT, "case:C1") == (
        "办件 C1 的受理记录迟报 31 小时（2026-11-03 09:12 发生，2026-11-04 16:40 报送）")
    old = {"event": "case.step", "delay_hours": 40}  # stored before reported_at was kept
    assert title("R8", old, MOMENT, "case:C1") == "办件 C1 的办理环节记录迟报 40 小时（2026-11-03 09:12 发生）"


@pytest.mark.parametrize(("rule", "details", "subject", "expected"), [
    ("R1", {"due_date": "2026-11-20"}, "case:C1", "办件 C1 即将到期（承诺办结日 2026-11-20）"),
    ("R1", {"due_date": "2026-11-20"}, "disclosure:Q1", "信息公开申请 Q1 即将到期（答复期限 2026-11-20）"),
    ("R2", {"due_date": "2026-11-20"}, "disclosure:Q1", "信息公开申请 Q1 超过答复期限 2026-11-20 仍未答复"),
    ("R2", {"stage": "accept", "due_date": "2026-11-20"}, "complaint:T1", "投诉 T1 未在期限 2026-11-20 前受理"),
    ("R2", {"stage": "accept", "due_date": "2026-11-20"}, "complaint:TS-20261113-001",
     "投诉 TS-20261113-001 未在期限 2026-11-20 前受理"),  # its number whole: people quote it
    ("R4", {"fee_fen": 1500, "standard_fen": 1000}, "case:C1", "办件 C1 收费 15.00 元，超过标准 10.00 元"),
    ("R4", {"fee_fen": 500, "standard_fen": 0}, "case:C1", "办件 C1 为不收费事项，却收费 5.00 元"),
    ("R5", {"event": "case.refused"}, "case:C1", "办件 C1 不予受理，未说明理由"),
    ("R5", {"result_code": 7}, "case:C1", "办件 C1 以“不予许可”办结，未说明理由"),
    ("R6", {"requests": 2}, "case:C1", "办件 C1 第 2 次补正告知，未一次性告知"),
    ("R7", {"reason": "too_fast", "minutes": 3.2}, "case:C1", "办件 C1 受理后 3 分钟即办结，需人工复核"),
    ("R9", {"kind": 2}, "case:C1", "办件 C1 挂起（特别程序）未说明理由"),
    ("R9", {"extension_days": 8, "total": 12, "maximum": 10}, "case:C1",
     "办件 C1 延长 8 天，累计 12 天，超过上限 10 天"),
    ("R10", {"absent_since": "2026-11-03T09:12:30+08:00", "nth_of_day": 2, "minutes": 15}, "window:W3",
     "窗口 W3 离岗超过 15 分钟（自 2026-11-03 09:12 起，当日第 2 次）"),
    ("R11", {"level": 5, "deadline": "2026-11-24"}, "case:C1",
     "办件 C1 的差评（非常不满意）超过整改期限 2026-11-24 仍未整改"),
])
def test_every_rule_has_words(rule: str, details: dict[str, object], subject: str, expected: str) -> None:
    said = title(rule, details, MOMENT, subject)
    assert said == expected
    assert not INTERNAL.search(said)


def test_names_replace_codes_in_the_text() -> None:
    ctx = Context(item="税务登记", dept="市税务局", window="3号窗口", staff="王芳")
    said = text("R2", "yellow", {"due_date": "2026-11-20"}, MOMENT, "case:C1", ctx)
    assert said == ("黄牌：办件 C1（税务登记）超过承诺办结日 2026-11-20 仍未办结。"
                    "部门：市税务局，窗口：3号窗口，经办人：王芳。发生于 2026-11-03 09:12。")
    window = title("R10", {"absent_since": "2026-11-03T09:12:30+08:00", "minutes": 15}, MOMENT, "window:W3", ctx)
    assert window.startswith("窗口 3号窗口 离岗")


def test_unknown_shapes_fall_back_to_the_stored_text_tidied() -> None:
    stored = ("R8 黄牌 card-6093089649c7918f7c6d 督办期限 2026-11-20 已过仍未整改"
              "（case.step 发生于 2026-09-09T16:48:59+08:00）")
    said = title("R99", {}, MOMENT, "case:C1", fallback=stored)
    assert not INTERNAL.search(said), said
    assert "办理环节" in said and "2026-09-09 16:48" in said


def test_old_retraction_notes_read_as_the_new_ones() -> None:
    note = ("系统撤销：办件已于 2026-09-11 办结（依据记录 0123456789abcdef…，case.completed，"
            "发生于 2026-09-11T15:00:00+08:00）")
    assert plain(note) == "系统撤销：办件已于 2026-09-11 办结（依据办结记录，发生于 2026-09-11 15:00）"
    assert plain(None) == ""
