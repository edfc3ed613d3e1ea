"""The engine façade: calendar updates, other clocks (§6), event parsing and bookkeeping."""

from __future__ import annotations

import json

import pytest

from hub.engine.arrangement import parse_arrangement
from hub.engine.calendar import WorkCalendar
from hub.engine.config import Level, parse_config
from hub.engine.supervision import Supervision
from shared.errors import RecordError
from tests.engine.helpers import Driver, at, d, fake_2027, rules_of, ts


def test_provisional_deadlines_are_recomputed_when_the_year_arrives() -> None:
    drv = Driver()
    drv.accept("C1", "2026-12-24T10:00", limit=10, statutory=None)
    drv.accept("C2", "2026-11-02T10:00", limit=5, statutory=None)
    deadlines = drv.sup.deadlines("C1")
    assert deadlines is not None and deadlines.promised == (d("2027-01-07"), True)
    assert drv.sup.provisional_subjects() == {"case:C1"}
    update = drv.sup.set_calendar(WorkCalendar().with_arrangement(fake_2027()))
    assert update.subjects == ["case:C1"]
    deadlines = drv.sup.deadlines("C1")
    assert deadlines is not None and deadlines.promised == (d("2027-01-09"), False)
    assert drv.sup.provisional_subjects() == frozenset()
    c1 = [c.rule for c in drv.tick("2027-01-09T12:00") if c.decision.case_id == "C1"]
    assert c1 == ["R1"]
    assert [c.rule for c in drv.tick("2027-01-10T00:00")] == ["R2"]


def test_correcting_a_covered_year_recomputes_every_deadline() -> None:
    drv = Driver()
    drv.accept("C1", "2026-11-02T10:00", limit=5, statutory=None)  # due 11-09, not provisional
    fix = {"year": 2026, "days": [{"name": "测试", "date": "2026-11-05", "isOffDay": True}]}
    new = drv.sup.calendar.with_arrangement(parse_arrangement(json.dumps(fix), "fix.json"))
    assert drv.sup.calendar.changed_years(new) >= {2026}
    update = drv.sup.set_calendar(new)
    assert update.subjects == ["case:C1"]
    assert drv.sup.deadlines("C1").promised.day == d("2026-11-10")  # type: ignore[union-attr]


def test_provisional_card_deadline_is_re_dated() -> None:
    drv = Driver(parse_config("rules: {R1: {enabled: false}}", "t.yaml"))
    drv.accept("C1", "2026-12-24T10:00", limit=3, statutory=None)  # due 12-29
    (card,) = drv.tick("2026-12-30T00:00")
    # 3 G after 12-30 on Monday-Friday 2027: 12-31, 01-01, 01-04 (provisional).
    assert (card.deadline, card.deadline_provisional) == (d("2027-01-04"), True)
    update = drv.sup.set_calendar(WorkCalendar().with_arrangement(fake_2027()))
    (moved,) = update.cards
    assert (moved.deadline, moved.deadline_provisional) == (d("2027-01-06"), False)
    assert drv.tick("2027-01-06T23:00") == []
    assert rules_of(drv.tick("2027-01-07T00:00")) == ["R3"]


def test_nothing_crashes_in_an_uncovered_year() -> None:
    drv = Driver()
    drv.accept("C1", "2027-03-01T10:00", limit=5, statutory=20)
    assert drv.sup.deadlines("C1").promised == (d("2027-03-08"), True)  # type: ignore[union-attr]
    cards = drv.tick("2027-04-30")
    assert sorted(rules_of(cards)) == ["R2", "R3"]  # past the due date: no reminder any more
    assert all(c.decision.details.get("provisional") for c in cards)


def test_events_before_acceptance_are_applied_once_it_arrives() -> None:
    drv = Driver()
    drv.case("supplement_requested", when="2026-09-28T10:00")
    drv.case("supplement_received", when="2026-09-29T10:00")
    drv.accept()
    assert drv.sup.deadlines("C1").promised.day == d("2026-10-12")  # type: ignore[union-attr]


def test_unknown_types_are_ignored_and_bad_bodies_raise_record_error() -> None:
    sup = Supervision()
    assert sup.ingest_record("queue.long", {"hall_id": "H"}, "00" * 32, at("2026-10-01")) == []
    assert sup.ingest_record("case.unknown_kind", {"case_id": "C"}, "0" * 64, at("2026-10-01")) == []
    bad = [
        ("case.accepted", {"case_id": "C1", "accepted_at": ts("2026-10-01")}, "item_code"),
        ("case.completed", {"case_id": "C1", "at": "2026-10-01T10:00"}, "no UTC offset"),
        ("case.completed", {"case_id": "C1", "at": ts("2026-10-01"), "result_code": "6"},
         "result_code"),
        ("case.suspended", {"case_id": "C1", "at": ts("2026-10-01"), "kind": 3}, "kind"),
        ("case.rated", {"case_id": "C1", "at": ts("2026-10-01"), "level": 6}, "level"),
        ("case.accepted", {"case_id": "C1", "item_code": "I", "dept_code": "D",
                           "accepted_at": ts("2026-10-01"), "case_kind": 2,
                           "promised_limit": {"value": 5, "unit": "W"}}, "promised_limit.unit"),
        ("presence.absent", {"at": ts("2026-10-01")}, "window_id"),
        ("complaint.filed", {"complaint_id": "T", "at": ts("2026-10-01"), "substantiated": "yes"},
         "substantiated"),
        ("disclosure.received", {"request_id": "R", "at": ts("2026-10-01")}, "dept_code"),
    ]  # fmt: skip
    for type_, body, fragment in bad:
        with pytest.raises(RecordError, match=type_.replace(".", r"\.")) as info:
            sup.ingest_record(type_, body, "11" * 32, at("2026-10-01"))
        assert fragment in str(info.value)


def test_window_department_is_learned_from_cases() -> None:
    drv = Driver(parse_config("departments: {D1: {absence_minutes: 30}}", "t.yaml"))
    drv.accept()
    drv.send("presence.absent", window_id="W1", at=ts("2026-11-02T10:00"))
    drv.tick("2026-11-01")  # the case's own cards
    assert drv.tick("2026-11-02T10:29") == []
    (card,) = drv.tick("2026-11-02T10:30")
    assert card.decision.dept_code == "D1"


# -- disclosure requests -------------------------------------------------------------------------

def disclose(drv: Driver, kind: str, when: str, **extra: object) -> list:  # type: ignore[type-arg]
    return drv.send(f"disclosure.{kind}", request_id="Q1", dept_code="D2", at=ts(when), **extra)


def test_disclosure_answer_within_20_working_days() -> None:
    drv = Driver()
    disclose(drv, "received", "2026-11-02T10:00")
    # 20 G after Monday 11-02 -> Monday 11-30.
    assert rules_of(drv.tick("2026-11-30T12:00")) == ["R1"]
    cards = drv.tick("2026-12-01T00:00")
    assert "R2" in rules_of(cards)
    r2 = next(c for c in cards if c.rule == "R2")
    assert r2.decision.details["due_date"] == "2026-11-30" and r2.decision.dept_code == "D2"
    drv = Driver()
    disclose(drv, "received", "2026-11-02T10:00")
    disclose(drv, "answered", "2026-11-30T10:00")
    assert "R2" not in rules_of(drv.tick("2026-12-31"))


def test_disclosure_supplement_restarts_and_late_notice_is_r9() -> None:
    drv = Driver()
    disclose(drv, "received", "2026-11-02T10:00")
    assert disclose(drv, "supplement_requested", "2026-11-11T10:00") == []  # 7th working day
    drv2 = Driver()
    disclose(drv2, "received", "2026-11-02T10:00")
    assert rules_of(disclose(drv2, "supplement_requested", "2026-11-12T10:00")) == ["R9"]
    assert drv.sup.disclosures["Q1"].due(drv.sup.calendar, drv.sup.config).day is None  # type: ignore[union-attr]
    disclose(drv, "supplement_received", "2026-11-16T10:00")
    due = drv.sup.disclosures["Q1"].due(drv.sup.calendar, drv.sup.config)
    assert due is not None and due.day == d("2026-12-14")  # 20 G after 11-16


def test_disclosure_extension_and_consultation() -> None:
    drv = Driver()
    disclose(drv, "received", "2026-11-02T10:00")
    disclose(drv, "consult_started", "2026-11-09T10:00")
    disclose(drv, "consult_ended", "2026-11-13T10:00")  # 11-09..11-13 not counted
    assert disclose(drv, "extended", "2026-11-20T10:00", extension_days=20) == []
    due = drv.sup.disclosures["Q1"].due(drv.sup.calendar, drv.sup.config)
    assert due is not None and due.day == d("2027-01-04")  # 45 G in all, into 2027: provisional
    assert due.provisional
    assert rules_of(disclose(drv, "extended", "2026-11-21T10:00", extension_days=1)) == ["R9"]
    drv = Driver()
    disclose(drv, "received", "2026-11-02T10:00")
    assert rules_of(disclose(drv, "extended", "2026-11-05T10:00", extension_days=21)) == ["R9"]


# -- complaints -----------------------------------------------------------------------------------

def complain(drv: Driver, kind: str, when: str, cid: str = "T1", **extra: object) -> list:  # type: ignore[type-arg]
    return drv.send(f"complaint.{kind}", complaint_id=cid, target_dept="D1", target_staff="S1",
                    at=ts(when), **extra)  # fmt: skip


def test_complaint_acceptance_and_answer_clocks() -> None:
    drv = Driver()
    complain(drv, "filed", "2026-11-02T10:00")
    assert drv.tick("2026-11-09T23:00") == []  # 5 G: 11-03 .. 11-09
    (card,) = drv.tick("2026-11-10T00:00")
    assert card.rule == "R2" and card.decision.details["stage"] == "accept"
    assert card.decision.dept_code == "D1" and card.decision.staff_id == "S1"
    complain(drv, "accepted", "2026-11-10T10:00")
    assert drv.tick("2026-11-14") == []  # accepted: the accept-stage card does not escalate
    state = drv.sup.complaints["T1"]
    assert state.answer_due(drv.sup.calendar, drv.sup.config).day == d("2026-12-01")  # type: ignore[union-attr]
    complain(drv, "answered", "2026-11-30T10:00", substantiated=True)
    assert state.answered_on_time(drv.sup.calendar, drv.sup.config) is True
    assert drv.tick("2026-12-31") == []
    drv = Driver()
    complain(drv, "filed", "2026-11-02T10:00")
    complain(drv, "accepted", "2026-11-03T10:00")
    (late,) = drv.tick("2026-12-02")
    assert late.decision.details["stage"] == "answer"
    assert [c.rule for c in drv.tick("2026-12-31")] == ["R3"]  # still unanswered


def test_second_substantiated_complaint_flags_the_staff_member() -> None:
    drv = Driver()
    complain(drv, "filed", "2026-03-02T10:00", "T1")
    complain(drv, "closed", "2026-03-10T10:00", "T1", substantiated=True)
    assert drv.sup.complaint_book.flagged(2026, drv.sup.config) == {}
    complain(drv, "filed", "2026-06-02T10:00", "T2")
    complain(drv, "closed", "2026-06-10T10:00", "T2", substantiated=True)
    complain(drv, "filed", "2026-06-03T10:00", "T3")
    complain(drv, "closed", "2026-06-11T10:00", "T3", substantiated=False)
    assert drv.sup.complaint_book.flagged(2026, drv.sup.config) == {"S1": ("T1", "T2")}
    assert drv.sup.complaint_book.flagged(2027, drv.sup.config) == {}


def test_level_override_from_config() -> None:
    drv = Driver(parse_config("rules: {R7: {level: yellow}}", "t.yaml"))
    (card,) = drv.case("completed", "C9", when="2026-10-01T10:00", result_code=6)
    assert card.level is Level.YELLOW and card.deadline is not None
