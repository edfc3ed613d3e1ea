"""Each rule of DOMAIN.md §4 with a scenario that fires it and one that must not."""

from __future__ import annotations

from hub.engine.cards import Action, CardState
from hub.engine.config import EngineConfig, Level, parse_config
from hub.engine.rules import RULES
from tests.engine.helpers import Driver, at, d, rules_of, ts


def test_catalogue_has_ids_levels_and_types() -> None:
    assert list(RULES) == [f"R{i}" for i in range(1, 12)]
    assert {spec.rule_type for spec in RULES.values()} <= {"时效", "流程", "内容", "收费", "其他"}
    assert RULES["R2"].level is Level.YELLOW and RULES["R3"].level is Level.RED
    assert {r for r, s in RULES.items() if s.kind == "time"} == {"R1", "R2", "R3", "R10", "R11"}


# -- R1 提醒 ---------------------------------------------------------------------------------------

def test_r1_fires_at_midnight_of_the_last_day() -> None:
    drv = Driver()
    drv.accept()  # 2026-09-24 + 5 G -> due 2026-10-09
    assert drv.tick("2026-10-08T23:59") == []
    cards = drv.tick("2026-10-09T00:00")
    assert rules_of(cards) == ["R1"] and cards[0].level is Level.REMINDER
    assert cards[0].deadline is None and cards[0].decision.case_id == "C1"
    assert drv.tick("2026-10-09T12:00") == []  # once


def test_r1_not_for_a_case_completed_in_time_or_an_immediate_case() -> None:
    drv = Driver()
    drv.accept()
    drv.case("completed", when="2026-10-08T15:00", result_code=0)
    assert drv.tick("2026-12-31") == []
    drv.accept("C2", limit=0, statutory=None, kind=1)
    drv.case("completed", "C2", when="2026-09-24T10:30", result_code=0)
    assert drv.tick("2026-12-31") == []


def test_r1_threshold_from_config() -> None:
    drv = Driver(parse_config("items: {I1: {reminder_days: 2}}", "t.yaml"))
    drv.accept()
    assert drv.tick("2026-09-30T23:00") == []
    assert rules_of(drv.tick("2026-10-01T00:00")) == ["R1"]  # after 09-30 two days remain


# -- R2 超期 ---------------------------------------------------------------------------------------

def test_r2_yellow_with_a_supervision_deadline_on_the_working_day_clock() -> None:
    drv = Driver()
    drv.accept()
    drv.tick("2026-10-09")
    assert drv.tick("2026-10-09T23:59:59") == []
    cards = drv.tick("2026-10-10T00:00")
    assert rules_of(cards) == ["R2"] and cards[0].level is Level.YELLOW
    # Raised Saturday 10-10 (a 调休 working day); 3 G counted from 10-11: 10-12, 10-13, 10-14.
    assert cards[0].deadline == d("2026-10-14") and not cards[0].deadline_provisional


def test_r2_not_when_completed_on_the_due_date() -> None:
    drv = Driver()
    drv.accept()
    drv.case("completed", when="2026-10-09T16:00", result_code=6)
    assert "R2" not in rules_of(drv.tick("2026-12-31"))


def test_r2_not_while_paused_and_later_after_resumption() -> None:
    drv = Driver()
    drv.accept()
    drv.case("suspended", when="2026-09-28T09:00", kind=2, reason="专家评审")
    assert drv.tick("2026-11-30") == []  # paused: no due date
    drv.case("resumed", when="2026-11-30T09:00")
    # 5 G after 11-30: 12-01 .. 12-07 (12-05/06 weekend) -> due 12-07 (09-25 is a holiday).
    assert drv.sup.deadlines("C1").promised.day == d("2026-12-07")  # type: ignore[union-attr]
    assert rules_of(drv.tick("2026-12-07")) == ["R1"]
    assert rules_of(drv.tick("2026-12-08")) == ["R2"]


def test_a_late_tick_past_the_due_date_raises_no_reminder() -> None:
    """Reminders are for the living: a hub that ticks only after the due date (down overnight)
    raises the overdue card, not a reminder of what is already late."""
    drv = Driver()
    drv.accept()  # due 2026-10-09
    assert rules_of(drv.tick("2026-10-10")) == ["R2"]
    assert "R1" not in rules_of(drv.tick("2026-12-31"))  # escalations only, never the reminder
    assert "R1|case:C1|2026-10-09" in drv.sup.raised  # decided: never raised later


# -- R3 督办逾期 / 超法定时限 ----------------------------------------------------------------------

def test_r3_escalates_a_yellow_card_not_rectified_by_its_deadline() -> None:
    drv = Driver(parse_config("thresholds: {}\nrules: {R1: {enabled: false}}", "t.yaml"))
    drv.accept(statutory=None)
    (yellow,) = drv.tick("2026-10-10")
    assert drv.tick("2026-10-14T23:59") == []
    (red,) = drv.tick("2026-10-15T00:00")
    assert red.rule == "R3" and red.level is Level.RED
    assert red.decision.escalates == yellow.card_id and red.decision.case_id == "C1"
    assert drv.tick("2026-12-31") == []


def test_r3_no_escalation_when_the_case_completes_or_the_card_is_rectified() -> None:
    drv = Driver()
    drv.accept(statutory=None)
    drv.tick("2026-10-10")
    drv.case("completed", when="2026-10-13T10:00", result_code=0)
    assert drv.tick("2026-12-31") == []
    drv = Driver()
    drv.accept(statutory=None)
    (r1,) = drv.tick("2026-10-09")
    (yellow,) = drv.tick("2026-10-10")
    drv.sup.transition(yellow.card_id, Action.NOTIFY, at("2026-10-10T09:00"))
    drv.sup.transition(yellow.card_id, Action.RECTIFY, at("2026-10-12T09:00"))
    assert drv.tick("2026-12-31") == []


def test_r3_past_the_statutory_due_date() -> None:
    drv = Driver()
    drv.accept(limit=20, statutory=20)  # due 10-29 both
    cards = drv.tick("2026-10-30")
    assert sorted(rules_of(cards)) == ["R2", "R3"]  # no reminder once the due date is past
    red = next(c for c in cards if c.rule == "R3")
    assert red.decision.details["statutory_due_date"] == "2026-10-29"
    drv = Driver()
    drv.accept(limit=20, statutory=20)
    drv.case("completed", when="2026-10-29T10:00", result_code=6)
    assert drv.tick("2026-12-31") == []


# -- R4 违规收费 -----------------------------------------------------------------------------------

def test_r4_fee_above_standard_or_on_a_no_fee_item() -> None:
    drv = Driver()
    drv.accept()
    cards = drv.case("completed", when="2026-10-08T10:00", result_code=0, fee_charged_fen=1500)
    assert rules_of(cards) == ["R4"] and cards[0].level is Level.RED
    assert cards[0].decision.details == {"fee_fen": 1500, "standard_fen": 1000}
    drv = Driver(parse_config("items: {I1: {no_fee: true}}", "t.yaml"))
    drv.accept()
    assert rules_of(drv.case("completed", when="2026-10-08T10:00", result_code=0,
                             fee_charged_fen=1)) == ["R4"]  # fmt: skip


def test_r4_not_within_the_standard() -> None:
    drv = Driver()
    drv.accept()
    assert drv.case("completed", when="2026-10-08T10:00", result_code=0, fee_charged_fen=1000) == []


# -- R5 不予受理/退回未说明理由 ---------------------------------------------------------------------

def test_r5_refusal_or_return_without_reason() -> None:
    drv = Driver()
    cards = drv.send("case.refused", case_id="C9", item_code="I1", dept_code="D1",
                     at="2026-09-24T10:00:00+08:00", reason="  ", window_id="W2")  # fmt: skip
    assert rules_of(cards) == ["R5"] and cards[0].decision.window_id == "W2"
    drv.accept()
    assert rules_of(drv.case("completed", when="2026-10-08T10:00", result_code=1)) == ["R5"]


def test_r5_not_with_a_reason_or_for_a_licence() -> None:
    drv = Driver()
    assert drv.send("case.refused", case_id="C9", item_code="I1", dept_code="D1",
                    at="2026-09-24T10:00:00+08:00", reason="材料不属于本部门职权范围") == []  # fmt: skip
    drv.accept()
    assert drv.case("completed", when="2026-10-08T10:00", result_code=7, reason="不符合条件") == []
    drv.accept("C2")
    assert drv.case("completed", "C2", when="2026-10-08T10:00", result_code=6) == []


# -- R6 一次性告知 ---------------------------------------------------------------------------------

def test_r6_second_supplement_request() -> None:
    drv = Driver()
    drv.accept()
    assert drv.case("supplement_requested", when="2026-09-25T10:00") == []
    drv.case("supplement_received", when="2026-09-28T10:00")
    cards = drv.case("supplement_requested", when="2026-09-29T10:00")
    assert rules_of(cards) == ["R6"] and cards[0].decision.details == {"requests": 2}
    drv.case("supplement_received", when="2026-09-30T10:00")
    assert drv.case("supplement_requested", when="2026-10-08T10:00") == []  # one card per case


def test_r6_not_for_a_single_request_or_a_duplicate_record() -> None:
    drv = Driver()
    drv.accept()
    drv.case("supplement_requested", when="2026-09-25T10:00")
    type_, body, evidence, now, reported = drv.log[-1]
    assert drv.sup.ingest_record(type_, body, evidence, now, reported) == []  # same record again
    assert drv.sup.cases["C1"].supplement_requests == 1


# -- R7 异常办结 -----------------------------------------------------------------------------------

def test_r7_implausible_completions() -> None:
    drv = Driver()
    drv.accept()
    cards = drv.case("completed", when="2026-09-24T10:02", result_code=6)
    assert rules_of(cards) == ["R7"] and cards[0].level is Level.REMINDER
    assert cards[0].decision.details["reason"] == "too_fast"
    drv.accept("C2")
    (card,) = drv.case("completed", "C2", when="2026-09-23T10:00", result_code=6)
    assert card.decision.details["reason"] == "before_acceptance"
    (card,) = drv.case("completed", "C3", when="2026-09-24T10:00", result_code=6)
    assert card.decision.details["reason"] == "no_acceptance"


def test_r7_not_for_an_immediate_case_or_a_normal_completion() -> None:
    drv = Driver()
    drv.accept(limit=0, statutory=None, kind=1)
    assert drv.case("completed", when="2026-09-24T10:02", result_code=0) == []
    drv.accept("C2")
    assert drv.case("completed", "C2", when="2026-09-24T16:00", result_code=6) == []


# -- R8 体外循环 / 迟报 ----------------------------------------------------------------------------

def test_r8_reported_a_day_late() -> None:
    drv = Driver()
    cards = drv.accept(reported_at="2026-09-25T11:00")
    assert rules_of(cards) == ["R8"] and cards[0].decision.details["delay_hours"] == 25


def test_r8_not_within_the_delay_or_when_switched_off() -> None:
    assert Driver().accept(reported_at="2026-09-25T09:59") == []
    drv = Driver(parse_config("rules: {R8: {enabled: false}}", "t.yaml"))
    assert drv.accept(reported_at="2026-09-30T10:00") == []


def test_r8_a_long_step_reported_when_it_ends_is_not_late() -> None:
    drv = Driver()
    drv.accept()
    step = {"case_id": "C1", "step_name": "审核", "action": "通过", "started_at": ts("2026-09-24T10:30")}
    assert drv.send("case.step", **step, ended_at=ts("2026-09-28T10:00"), reported_at="2026-09-28T10:05") == []
    late = drv.send("case.step", **step, ended_at=ts("2026-09-28T10:00"), reported_at="2026-09-30T10:05")
    assert rules_of(late) == ["R8"]


# -- R9 违规延长 / 违规挂起 -------------------------------------------------------------------------

def test_r9_extension_beyond_maximum_after_due_or_suspension_without_reason() -> None:
    drv = Driver()
    drv.accept()
    cards = drv.case("suspended", when="2026-09-28T10:00", kind=1, reason="延长", extension_days=11)
    assert rules_of(cards) == ["R9"] and cards[0].decision.details["total"] == 11
    drv.accept("C2")
    cards = drv.case("suspended", "C2", when="2026-10-12T10:00", kind=1, reason="延长",
                     extension_days=2)  # fmt: skip
    # No tick ran since 10-09: the engine first catches up the case's time rules (R2; the
    # reminder is past its use: the due date has gone).
    assert rules_of(cards) == ["R2", "R9"]
    assert cards[1].decision.details == {"due_date": "2026-10-09"}
    drv.accept("C3")
    assert rules_of(drv.case("suspended", "C3", when="2026-09-28T10:00", kind=2)) == ["R9"]


def test_r9_not_for_a_lawful_extension_or_a_suspension_with_reason() -> None:
    drv = Driver()
    drv.accept()
    assert drv.case("suspended", when="2026-09-28T10:00", kind=1, reason="延长", extension_days=5) == []
    assert drv.case("suspended", when="2026-09-29T10:00", kind=1, reason="延长", extension_days=5) == []
    assert drv.case("suspended", when="2026-09-30T10:00", kind=2, reason="听证") == []


# -- R10 离岗 --------------------------------------------------------------------------------------

def absent(drv: Driver, when: str, window: str = "W1") -> None:
    drv.send("presence.absent", window_id=window, camera_id="cam1", at=at(when).isoformat())


def present(drv: Driver, when: str, window: str = "W1") -> None:
    drv.send("presence.present", window_id=window, camera_id="cam1", at=at(when).isoformat())


def test_r10_absence_in_office_hours_then_repeated_is_yellow() -> None:
    drv = Driver()
    absent(drv, "2026-11-02T10:00")
    assert drv.tick("2026-11-02T10:14") == []
    (first,) = drv.tick("2026-11-02T10:15")
    assert first.rule == "R10" and first.level is Level.REMINDER
    assert first.decision.window_id == "W1"
    present(drv, "2026-11-02T10:40")
    absent(drv, "2026-11-02T15:00")
    (second,) = drv.tick("2026-11-02T15:20")
    assert second.level is Level.YELLOW and second.decision.details["nth_of_day"] == 2


def test_r10_counts_only_office_hours() -> None:
    drv = Driver()
    absent(drv, "2026-11-02T11:50")  # 10 min before lunch, then 13:30 + 5 min
    assert drv.tick("2026-11-02T13:34") == []
    (card,) = drv.tick("2026-11-02T13:35")
    assert card.decision.moment == at("2026-11-02T13:35")


def test_r10_not_for_short_absences_lunch_or_holidays() -> None:
    drv = Driver()
    absent(drv, "2026-11-02T10:00")
    present(drv, "2026-11-02T10:10")
    absent(drv, "2026-11-02T12:00")
    present(drv, "2026-11-02T13:35")  # only 5 office minutes
    absent(drv, "2026-10-01T10:00", window="W2")  # National Day
    present(drv, "2026-10-01T16:00", window="W2")
    assert drv.tick("2026-11-30") == []


# -- R11 差评未整改 --------------------------------------------------------------------------------

def test_r11_bad_rating_not_rectified_in_15_working_days() -> None:
    drv = Driver(parse_config("rules: {R1: {enabled: false}}", "t.yaml"))
    drv.accept()
    drv.case("completed", when="2026-10-08T10:00", result_code=6)
    drv.case("rated", when="2026-10-12T10:00", level=5, channel="pad")
    # 15 G after Monday 10-12: 10-13 .. 11-02 -> fires at 00:00 on 11-03.
    assert drv.tick("2026-11-02T23:59") == []
    (card,) = drv.tick("2026-11-03T00:00")
    assert card.rule == "R11" and card.decision.details["deadline"] == "2026-11-02"


def test_r11_not_when_rectified_or_for_a_good_rating() -> None:
    drv = Driver()
    drv.accept()
    drv.case("completed", when="2026-10-08T10:00", result_code=6)
    drv.case("rated", when="2026-10-12T10:00", level=4)
    drv.case("rating_rectified", when="2026-10-20T10:00")
    drv.case("rated", "C1", when="2026-10-13T10:00", level=2)
    assert drv.tick("2026-12-31") == []


def test_r11_rectification_puts_right_the_rating_it_names_or_those_before_it() -> None:
    drv = Driver()
    drv.accept()
    drv.case("completed", when="2026-10-08T10:00", result_code=6)
    drv.case("rated", when="2026-10-12T10:00", level=5)
    drv.case("rated", when="2026-10-13T10:00", level=4)
    drv.case("rating_rectified", when="2026-10-20T10:00", rating_at=ts("2026-10-13T10:00"), measure="已回访")
    (card,) = drv.tick("2026-12-31")  # the rating of 10-12 was not put right: R11
    assert card.rule == "R11" and card.decision.details["level"] == 5
    drv2 = Driver()
    drv2.accept()
    drv2.case("completed", when="2026-10-08T10:00", result_code=6)
    drv2.case("rated", when="2026-10-12T10:00", level=5)
    drv2.case("rating_rectified", when="2026-10-14T10:00")  # names none: every bad rating so far
    drv2.case("rated", when="2026-10-15T10:00", level=4)  # a later one is not put right by it
    (card,) = drv2.tick("2026-12-31")
    assert card.rule == "R11" and card.decision.details["level"] == 4


def test_r11_escalation_stops_when_the_rating_is_rectified() -> None:
    drv = Driver()
    drv.accept()
    drv.case("completed", when="2026-10-08T10:00", result_code=6)
    drv.case("rated", when="2026-10-12T10:00", level=5)
    (card,) = drv.tick("2026-11-03")
    assert card.deadline == d("2026-11-06")
    drv.case("rating_rectified", when="2026-11-05T10:00")
    assert drv.tick("2026-12-31") == []
    # put right: the yellow card stands (it counts), rectified by the fact itself
    assert drv.sup.cards[card.card_id].state is CardState.RECTIFIED


def test_a_switched_off_rule_never_fires() -> None:
    cfg = parse_config("rules: {R1: {enabled: false}, R2: {enabled: false}}", "t.yaml")
    drv = Driver(cfg)
    drv.accept(statutory=None)
    assert drv.tick("2026-12-31") == []
    assert drv.sup.scheduler.moment_of("case:C1") is None
    assert EngineConfig().rule("R2").enabled
