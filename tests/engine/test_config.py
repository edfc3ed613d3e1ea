"""Engine configuration: defaults, the shipped YAML, overrides and strict validation."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from hub.engine.caseclock import SupplementMode
from hub.engine.config import EngineConfig, Level, load_config, parse_config
from shared.errors import ConfigError

DEFAULT_YAML = Path(__file__).resolve().parents[2] / "firmware_configs" / "rules" / "default.yaml"


def test_shipped_yaml_equals_the_built_in_defaults() -> None:
    loaded, built_in = load_config(DEFAULT_YAML), EngineConfig()
    assert loaded.thresholds == built_in.thresholds
    assert loaded.disclosure == built_in.disclosure
    assert loaded.complaints == built_in.complaints
    assert loaded.scoring == built_in.scoring
    for rule_id, setting in loaded.rules.items():
        assert setting.enabled and setting.level is not None, rule_id


def test_domain_md_numbers_are_the_defaults() -> None:
    th = EngineConfig().thresholds
    assert (th.reminder_days, th.supervision_days, th.max_extension_days) == (1, 3, 10)
    assert (th.report_delay_hours, th.absence_minutes, th.rating_rectify_days) == (24, 15, 15)
    assert th.reason_required_codes == frozenset({1, 2, 3, 5, 7})
    cfg = EngineConfig()
    assert (cfg.disclosure.answer_days, cfg.disclosure.max_extension_days) == (20, 20)
    assert cfg.disclosure.supplement_notice_days == 7 and cfg.complaints.accept_days == 5


def test_department_then_item_overrides() -> None:
    cfg = parse_config(
        """
thresholds: {supervision_days: 4}
departments:
  D1: {supervision_days: 5, reminder_days: 2, office_hours: ["08:30-17:00"]}
items:
  I1: {reminder_days: 3, supplement_mode: restart}
rules:
  R8: {enabled: false}
  R7: {level: yellow}
""",
        "t.yaml",
    )
    assert cfg.for_case("X", "X").supervision_days == 4
    d1 = cfg.for_case("X", "D1")
    assert (d1.supervision_days, d1.reminder_days) == (5, 2)
    assert d1.office_hours == ((time(8, 30), time(17)),)
    both = cfg.for_case("I1", "D1")
    assert (both.supervision_days, both.reminder_days) == (5, 3)
    assert both.supplement_mode is SupplementMode.RESTART
    assert cfg.for_case("I1", "D1") is both  # cached
    assert not cfg.rule("R8").enabled and cfg.rule("R7").level is Level.YELLOW
    assert cfg.rule("R1").enabled


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("colour: red", "unknown key(s) ['colour']"),
        ("thresholds: {reminder_dayz: 1}", "thresholds: unknown key 'reminder_dayz'"),
        ("thresholds: {reminder_days: -1}", "thresholds.reminder_days: must be an integer >= 0"),
        ("thresholds: {supplement_mode: skip}", "must be one of ['pause', 'restart']"),
        ("thresholds: {no_fee: 1}", "thresholds.no_fee: must be true or false"),
        ("thresholds: {office_hours: ['12:00-09:00']}", "office_hours[0]"),
        ("thresholds: {office_hours: ['9-12']}", "is not a time"),
        ("departments: {D1: {colour: 1}}", "departments.D1: unknown key 'colour'"),
        ("items: {I1: {supervision_days: 0}}", "items.I1.supervision_days"),
        ("rules: {R12: {enabled: false}}", "unknown rule 'R12'"),
        ("rules: {R1: {enabled: false, extra: 1}}", "rules.R1: unknown key 'extra'"),
        ("rules: {R1: {level: orange}}", "rules.R1.level"),
        ("disclosure: {answer_days: 0}", "disclosure.answer_days"),
        ("complaints: {answer_unit: W}", "complaints.answer_unit"),
        ("scoring: {grades: {}}", "scoring.grades"),
        ("scoring: {window_blocks: [speed]}", "unknown block(s) ['speed']"),
        ("version: 2", "version must be 1"),
        ("[1, 2]", "top level must be a mapping"),
        ("a: [", "not valid YAML"),
    ],
)
def test_invalid_config_names_file_and_key(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "rules.yaml")
    assert str(info.value).startswith("rules.yaml"), info.value
    assert fragment in str(info.value), info.value


def test_load_config_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert load_config(empty).thresholds == EngineConfig().thresholds
