"""map_row: good rows become the right events; bad rows become agent.mapping_error, never raise."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.mapping import MAPPING_ERROR, load_profile, map_delete, map_row, profile_from_data
from shared.canonical import canonical
from shared.errors import ConfigError
from shared.events import event_problems

PROFILES = Path(__file__).resolve().parents[2] / "firmware_configs" / "profiles"
REFERENCE = load_profile(PROFILES / "reference.yaml")
EXCHANGE = load_profile(PROFILES / "exchange.yaml")
FLOWABLE = load_profile(PROFILES / "flowable.yaml")

CASE_ROW: dict[str, Any] = {
    "id": 17, "case_no": "99010000120261021000017", "item_code": "99010000001001000",
    "item_name": "食品经营许可", "dept_code": "SCJG", "dept_name": "市市场监督管理局",
    "window_no": "SCJG-01", "window_name": "1号窗口（市场监管·综合受理）", "accept_user_no": "S010001",
    "accept_user_name": "汤娜", "applicant_name": "明州鑫源餐饮管理有限公司", "applicant_type": "2", "case_type": "2",
    "legal_limit": 20, "legal_unit": "工作日", "promise_limit": 5, "promise_unit": "工作日",
    "charge_standard": Decimal("0.00"), "accept_status": "1", "refuse_reason": None,
    "accept_time": datetime(2026, 10, 21, 9, 0, 28), "created_at": "2026-10-21 09:00:28",
    "updated_at": "2026-10-21 09:00:28",
}


def _one(events: list[Any]) -> Any:
    assert len(events) == 1, events
    return events[0]


def _error(row: dict[str, Any], profile: Any = REFERENCE, source: str = "appr_case") -> Any:
    event = _one(map_row(profile, source, row, now="2026-11-26T10:00:00+08:00"))
    assert event.type == MAPPING_ERROR, event
    assert event_problems(event.type, event.body) == []
    canonical(event.body)
    return event


def test_accepted_case_maps_to_the_domain_event() -> None:
    event = _one(map_row(REFERENCE, "appr_case", CASE_ROW))
    assert event.type == "case.accepted"
    assert event.ts == "2026-10-21T09:00:28+08:00"
    assert event.key == "appr_case:id=17:case.accepted"
    assert event.body == {
        "case_id": "99010000120261021000017", "item_code": "99010000001001000",
        "item_name": "食品经营许可", "dept_code": "SCJG", "dept_name": "市市场监督管理局",
        "accepted_at": "2026-10-21T09:00:28+08:00", "case_kind": 2,
        "promised_limit": {"value": 5, "unit": "G"}, "statutory_limit": {"value": 20, "unit": "G"},
        "window_id": "SCJG-01", "window_name": "1号窗口（市场监管·综合受理）", "staff_id": "S010001",
        "staff_name": "汤娜", "applicant_name": "明州鑫源餐饮管理有限公司", "applicant_type": "法人",
        "fee_standard_fen": 0, "source_id": "17",
    }


def test_refusal_without_reason_is_an_event_with_an_empty_reason() -> None:
    event = _one(map_row(REFERENCE, "appr_case", {**CASE_ROW, "accept_status": "0"}))
    assert event.type == "case.refused"
    assert event.body["reason"] == ""  # rule R5 must see it, it is not bad data


def test_late_entry_keeps_the_recording_time_as_ts() -> None:
    row = {**CASE_ROW, "created_at": "2026-10-23 16:40:00"}
    event = _one(map_row(REFERENCE, "appr_case", row))
    assert event.ts == "2026-10-23T16:40:00+08:00"
    assert event.body["accepted_at"] == "2026-10-21T09:00:28+08:00"


def test_rows_matching_no_rule_give_nothing() -> None:
    assert map_row(REFERENCE, "appr_case", {**CASE_ROW, "accept_status": "9"}) == []
    step = {"id": 1, "case_no": "C", "step_name": "承办", "end_time": None}
    assert map_row(REFERENCE, "appr_step", step) == []


@pytest.mark.parametrize(("change", "column", "reason"), [
    ({"case_no": None}, "case_no", "missing_required"),
    ({"case_no": "   "}, "case_no", "missing_required"),
    ({"accept_time": "2026-13-45 25:61:00"}, "accept_time", "bad_datetime"),
    ({"accept_time": "昨天下午"}, "accept_time", "bad_datetime"),
    ({"accept_time": datetime(1899, 1, 1)}, "accept_time", "bad_datetime"),
    ({"promise_unit": "月"}, "promise_unit", "unknown_code"),
    ({"case_type": "7"}, "case_type", "unknown_code"),
    ({"item_name": "食品".encode("gbk") + b"\xff\xfe"}, "item_name", "undecodable_text"),
    ({"item_name": "食\ufffd品"}, "item_name", "undecodable_text"),
    ({"applicant_name": "某" * 5000}, "applicant_name", "too_large"),
    ({"charge_standard": Decimal("123456789012.00")}, "charge_standard", "too_large"),
    ({"charge_standard": Decimal("12.345")}, "charge_standard", "bad_number"),
    ({"charge_standard": "twelve"}, "charge_standard", "bad_number"),
    ({"promise_limit": 99999}, "promise_limit", "too_large"),
    ({"promise_limit": -3}, "promise_limit", "too_large"),
    ({"promise_limit": 2.5}, "promise_limit", "bad_number"),
    ({"created_at": "garbage"}, "created_at", "bad_datetime"),
])
def test_bad_rows_become_mapping_errors(change: dict[str, Any], column: str, reason: str) -> None:
    event = _error({**CASE_ROW, **change})
    body = event.body
    assert (body["column"], body["reason"]) == (column, reason), body
    assert body["source"] == "appr_case" and body["table"] == "appr_case"
    assert body["key"] == {"id": "17"}
    assert body["event_type"] == "case.accepted" and body["profile"] == "reference"
    assert body["detail"]
    assert event.ts == "2026-11-26T10:00:00+08:00"
    assert event.key == "appr_case:id=17:case.accepted"
    assert column in body["raw"]
    assert all(len(v) <= 230 for v in body["raw"].values())  # truncated


def test_raw_values_are_truncated_and_bytes_shown_as_hex() -> None:
    body = _error({**CASE_ROW, "item_name": b"\xff" * 1000, "applicant_name": "x" * 999}).body
    assert body["raw"]["item_name"].startswith("0xffff")
    assert body["raw"]["item_name"].endswith("(1000 bytes)")
    assert len(body["raw"]["applicant_name"]) < 250


def test_a_renamed_column_is_named_as_missing() -> None:
    row = {k: v for k, v in CASE_ROW.items() if k != "promise_unit"}
    row["promise_unit_code"] = "工作日"
    body = _error(row).body
    assert (body["column"], body["reason"]) == ("promise_unit", "missing_column")


def test_a_bad_rule_does_not_stop_the_other_rules_of_the_row() -> None:
    row = {"id": 3, "case_no": "C9", "special_type": "2", "special_name": "听证",
           "reason": None, "time_limit": 10, "limit_unit": "工作日", "extend_days": None,
           "start_time": "2026-10-21 10:00:00", "end_time": "2026-10-3x",
           "special_result": "听证完成", "special_fee": 0, "created_at": "2026-10-21 10:00:00",
           "updated_at": "2026-10-28 10:00:00"}
    events = map_row(REFERENCE, "appr_special", row)
    assert [e.type for e in events] == ["case.suspended", MAPPING_ERROR]
    assert events[0].body["reason"] == "" and events[0].body["kind"] == 2
    assert events[1].body["column"] == "end_time"
    assert events[1].ts == "2026-10-28T10:00:00+08:00"  # no `now`: the row's updated_at


def test_gbk_text_utc_times_and_money_in_doubles() -> None:
    profile = profile_from_data({
        "profile": "legacy", "encoding": "gbk", "timezone": "UTC",
        "sources": {"t": {"key": "ID"}},
        "events": [{"type": "case.resumed", "source": "t", "fields": {
            "case_id": "CASE_NO", "at": {"column": "END_MS", "format": "epoch_ms"},
            "result": "RESULT", "fee_fen": {"column": "FEE", "type": "yuan"}}}],
    })
    row = {"ID": 1, "CASE_NO": b"A1", "END_MS": 1792540800000, "RESULT": "检验合格".encode("gbk"),
           "FEE": 12.3}
    event = _one(map_row(profile, "t", row))
    assert event.body == {"case_id": "A1", "at": "2026-10-21T08:00:00+08:00",
                          "result": "检验合格", "fee_fen": 1230}


def test_flowable_variables_and_postgres_lower_case_columns() -> None:
    row = {"id_": "10001", "proc_inst_id_": "10001", "business_key_": "C1",
           "start_time_": datetime(2026, 10, 21, 1, 0, 28), "end_time_": None,
           "end_act_id_": None, "start_user_id_": "S1", "item_code": "I1", "item_name": "排污许可",
           "dept_code": "STHJ", "dept_name": "市生态环境局", "window_no": "STHJ-01",
           "window_name": None, "accept_user_name": "王芳", "applicant_name": "张三", "applicant_type": "1",
           "case_type": 2, "promise_limit": 15, "promise_unit": "workday", "legal_limit": 20,
           "legal_unit": "workday", "fee_standard": 0.0, "accept_status": "accepted"}
    event = _one(map_row(FLOWABLE, "procinst", row))
    assert event.type == "case.accepted"
    assert event.body["accepted_at"] == "2026-10-21T09:00:28+08:00"  # UTC in, +08:00 out
    assert event.body["promised_limit"] == {"value": 15, "unit": "G"}
    assert event.key == "procinst:ID_=10001:case.accepted"


def test_exchange_process_rows_are_steps_or_supplements() -> None:
    base = {"CD_ID": 5, "PROJID": "P1", "SN": 1, "NODECODE": "CB", "NODENAME": "承办",
            "HANDLERID": "S1", "HANDLERNAME": "王芳", "HANDLEOPINION": "同意",
            "NODESTARTTIME": "2026-10-21 09:00:00", "NODEENDTIME": "2026-10-21 10:00:00",
            "CD_OPERATION": "I", "CD_TIME": "2026-10-21 10:00:05"}
    kinds = {a: [e.type for e in map_row(EXCHANGE, "up_pro_process", {**base, "NODEACTION": a})]
             for a in ("1", "2", "3", "4")}
    assert kinds == {"1": ["case.step"], "2": ["case.step"], "3": ["case.supplement_requested"],
                     "4": ["case.supplement_received"]}
    deleted = {**base, "NODEACTION": "1", "CD_OPERATION": "D"}
    assert map_row(EXCHANGE, "up_pro_process", deleted) == []
    odd = _error({**base, "NODEACTION": "1", "NODEENDTIME": "2026-10-21T10:00:00+09:00x"},
                 EXCHANGE, "up_pro_process")
    assert odd.body["column"] == "NODEENDTIME"


def test_deleted_rows_and_unknown_sources() -> None:
    event = map_delete(REFERENCE, "appr_result", {"id": 4}, now=datetime(2026, 10, 21, 9, 0),
                       case_id="C1")
    assert event.type == "agent.row_deleted"
    assert event.body == {"source": "appr_result", "table": "appr_result", "key": {"id": "4"},
                          "profile": "reference", "case_id": "C1"}
    assert event.ts == "2026-10-21T09:00:00+08:00"
    assert event_problems(event.type, event.body) == []
    with pytest.raises(ConfigError, match="no source 'nope'"):
        map_row(REFERENCE, "nope", {})


_values = st.one_of(
    st.none(), st.text(max_size=30), st.binary(max_size=20), st.integers(),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.decimals(allow_nan=True, allow_infinity=True, places=3),
    st.datetimes(), st.dates(),
    st.sampled_from(["1", "0", "工作日", "自然日", "01", "07", "2026-10-21 09:00:00", ""]),
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(REFERENCE.sources)),
       st.dictionaries(st.sampled_from(sorted({c for r in REFERENCE.events for c in r.columns()}
                                              | {"id", "updated_at"})), _values))
def test_any_row_maps_to_valid_events_or_mapping_errors(source: str, row: dict[str, Any]) -> None:
    for event in map_row(REFERENCE, source, row, now=datetime(2026, 1, 1)):
        assert event_problems(event.type, event.body) == [], event
        canonical(event.body)  # float-free, in range: signable
        assert event.body.get("reason") != "internal_error", event.body


def test_date_columns_count_as_midnight() -> None:
    event = _one(map_row(REFERENCE, "appr_case", {**CASE_ROW, "accept_time": date(2026, 10, 21),
                                                  "created_at": None}))
    assert event.body["accepted_at"] == "2026-10-21T00:00:00+08:00"
    assert event.ts == "2026-10-21T00:00:00+08:00"  # no recording time: the event's own
