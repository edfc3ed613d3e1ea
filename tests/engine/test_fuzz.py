"""Parsers of outside input raise only the project's declared errors (STYLE.md §6)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.engine.arrangement import parse_arrangement
from hub.engine.calendar import WorkCalendar
from hub.engine.clock_cli import due_from_json
from hub.engine.config import parse_config
from hub.engine.events import parse_event
from hub.engine.supervision import Supervision
from shared.errors import ConfigError, RecordError
from tests.engine.helpers import at

CAL = WorkCalendar()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.text(max_size=12)
    | st.sampled_from(["2026-10-01", "2026-10-01T10:00:00+08:00", "G", "Z", "2027-13-01"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=20,
)  # fmt: skip

DAY_KEYS = st.sampled_from(["name", "date", "isOffDay", "extra"])
day_entries = st.dictionaries(DAY_KEYS, json_values, max_size=4)


@settings(max_examples=150, deadline=None)
@given(st.one_of(
    st.text(max_size=200),
    st.builds(lambda y, days: json.dumps({"year": y, "days": days}),
              st.one_of(st.integers(1890, 2210), json_values), st.lists(day_entries, max_size=5)),
))  # fmt: skip
def test_arrangement_parser_raises_only_config_error(text: str) -> None:
    try:
        arrangement = parse_arrangement(text, "fuzz.json")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.json")
        return
    WorkCalendar([arrangement])  # whatever parses can be loaded


def test_deeply_nested_json_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="deep.json: not valid JSON"):
        parse_arrangement("[" * 100_000 + "]" * 100_000, "deep.json")
    with pytest.raises(ConfigError, match="deep.yaml: not valid YAML"):
        parse_config("[" * 100_000 + "]" * 100_000, "deep.yaml")


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**400), 10**400) | st.floats(allow_nan=True)
    | st.text(max_size=10) | st.sampled_from(["09:00-12:00", "pause", "restart", "G", "yellow"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["thresholds", "rules", "R1", "enabled", "level", "departments", "D1",
                         "supervision_days", "office_hours", "scoring", "grades", "items",
                         "bad_rating_levels", "on_time_points", "version", "x"]),
        children, max_size=4),
    max_leaves=15,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(yaml_values)
def test_config_parser_raises_only_config_error(value: Any) -> None:
    text = json.dumps(value) if not isinstance(value, float) else str(value)
    try:
        parse_config(text, "fuzz.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.yaml")


TYPES = [
    "case.accepted", "case.refused", "case.step", "case.supplement_requested",
    "case.supplement_received", "case.suspended", "case.resumed", "case.completed", "case.rated",
    "case.rating_rectified", "complaint.filed", "complaint.answered", "disclosure.received",
    "disclosure.extended", "presence.absent", "presence.present", "queue.long",
]  # fmt: skip
FIELDS = [
    "case_id", "item_code", "dept_code", "accepted_at", "at", "case_kind", "promised_limit",
    "statutory_limit", "reason", "kind", "extension_days", "result_code", "fee_charged_fen",
    "level", "window_id", "complaint_id", "request_id", "substantiated", "started_at", "step_name",
]  # fmt: skip
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=10)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TYPES), bodies)
def test_event_parser_and_engine_raise_only_record_error(type_: str, body: dict[str, Any]) -> None:
    sup = Supervision(calendar=CAL)
    try:
        event = parse_event(type_, body, "ab" * 32)
    except RecordError:
        return
    if event is not None:
        try:
            sup.ingest(event, at("2026-10-01"))
            sup.tick(at("2027-06-01"))
        except ValueError as exc:  # a date beyond the calendar's range (year 2100+)
            assert "range" in str(exc)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["accepted", "limit", "unit", "pauses", "extension", "x"]),
                       json_values, max_size=5))  # fmt: skip
def test_jsonl_objects_raise_only_value_or_type_error(obj: dict[str, Any]) -> None:
    try:
        due_from_json(CAL, obj)
    except (ValueError, TypeError):
        pass
