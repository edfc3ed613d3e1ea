"""Cards of a case the engine has not seen accepted still name their case (and department)."""

from __future__ import annotations

from hub.engine.config import EngineConfig
from hub.engine.rules import decide
from tests.engine.helpers import Driver, at, rules_of, ts


def test_r5_on_a_refusal_names_its_case_and_department() -> None:
    cards = Driver().send("case.refused", case_id="C9", item_code="I1", dept_code="D1",
                          at=ts("2026-09-24T10:00"), reason="")  # fmt: skip
    assert rules_of(cards) == ["R5"]
    assert cards[0].decision.case_id == "C9" and cards[0].decision.dept_code == "D1"


def test_r8_late_refusal_takes_the_department_from_the_body() -> None:
    cards = Driver().send("case.refused", case_id="C9", item_code="I1", dept_code="D1",
                          at=ts("2026-09-24T10:00"), reason="材料不全",
                          reported_at="2026-09-25T11:00")  # fmt: skip
    assert rules_of(cards) == ["R8"]
    assert cards[0].decision.case_id == "C9" and cards[0].decision.dept_code == "D1"


def test_r8_on_a_case_never_accepted_names_its_case() -> None:
    late = Driver().case("completed", "C7", when="2026-09-24T10:00", result_code=1,
                         reported_at="2026-09-26T10:00")  # fmt: skip
    r8 = [c for c in late if c.rule == "R8"]
    assert r8 and r8[0].decision.case_id == "C7" and r8[0].decision.dept_code is None  # no department in it


def test_decide_prefers_the_explicit_case_and_ignores_other_subjects() -> None:
    config = EngineConfig()
    explicit = decide(config, "R5", "k", "case:C1", at("2026-09-24"), "m", case_id="C2")
    assert explicit is not None and explicit.case_id == "C2"
    other = decide(config, "R8", "k", "complaint:P1", at("2026-09-24"), "m", dept_code="D1")
    assert other is not None and other.case_id is None and other.dept_code == "D1"
