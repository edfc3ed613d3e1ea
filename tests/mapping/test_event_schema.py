"""shared.events: the DOMAIN.md §2 schema both agent and hub validate against."""

from __future__ import annotations

import pytest

from shared.errors import RecordError
from shared.events import EVENTS, check_event, event_problems

ACCEPTED = {
    "case_id": "C1", "item_code": "I1", "item_name": "食品经营许可", "dept_code": "SCJG",
    "dept_name": "市市场监督管理局", "accepted_at": "2026-10-21T09:00:00+08:00", "case_kind": 2,
    "promised_limit": {"value": 5, "unit": "G"}, "statutory_limit": {"value": 20, "unit": "G"},
}


def test_a_valid_body_passes_and_extra_fields_are_kept() -> None:
    assert event_problems("case.accepted", {**ACCEPTED, "vendor_field": "x"}) == []
    check_event("case.accepted", ACCEPTED)


@pytest.mark.parametrize(("change", "problem"), [
    ({"case_id": None}, "required field 'case_id' is missing"),
    ({"case_id": ""}, "field 'case_id' must not be empty"),
    ({"accepted_at": "2026-10-21 09:00:00"}, "has no UTC offset"),
    ({"case_kind": 3}, "field 'case_kind' must be one of 1, 2"),
    ({"case_kind": True}, "must be an integer"),
    ({"promised_limit": {"value": 5, "unit": "M"}}, "unit must be G or Z"),
    ({"promised_limit": {"value": -1, "unit": "G"}}, "value must be a non-negative integer"),
    ({"promised_limit": 5}, 'must be {"value": int, "unit": "G"|"Z"}'),
    ({"fee_standard_fen": -5}, "must not be negative"),
    ({"fee_standard_fen": 1.5}, "must be an integer"),
])
def test_each_problem_is_named(change: dict[str, object], problem: str) -> None:
    problems = event_problems("case.accepted", {**ACCEPTED, **change})
    assert any(problem in p for p in problems), problems
    with pytest.raises(RecordError):
        check_event("case.accepted", {**ACCEPTED, **change})


def test_empty_reasons_are_valid_for_the_rules_to_judge() -> None:
    body = {"case_id": "C", "item_code": "I", "dept_code": "D",
            "at": "2026-10-21T09:00:00+08:00", "reason": ""}
    assert event_problems("case.refused", body) == []


def test_unknown_types_and_non_objects() -> None:
    assert event_problems("case.teleported", {}) == ["unknown event type 'case.teleported'"]
    assert event_problems("case.rated", []) == ["case.rated: body must be an object"]


def test_every_domain_type_is_known() -> None:
    for type_ in ("case.accepted", "case.refused", "case.step", "case.supplement_requested",
                  "case.supplement_received", "case.suspended", "case.resumed", "case.completed",
                  "case.rated", "complaint.filed", "complaint.closed", "disclosure.received",
                  "disclosure.answered", "presence.absent", "presence.present", "queue.long",
                  "agent.health", "agent.mapping_error", "agent.capture_gap"):
        assert type_ in EVENTS
