"""The complaints-system profile (firmware_configs/profiles/complaints.yaml): one row per complaint
or disclosure request, each state column that gets a value one ``complaint.*`` / ``disclosure.*``
event keyed by complaint_id / request_id."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from click.testing import CliRunner

from agent.cli import main as agent_cli
from agent.mapping import (
    MAPPING_ERROR,
    check_profile,
    load_profile,
    map_row,
    profile_from_data,
    validate_profile,
)
from simulator.db import connect
from simulator.engine import Simulator, initialise
from tests.mapping.rows import map_database

TZ = ZoneInfo("Asia/Shanghai")
PATH = Path(__file__).resolve().parents[2] / "firmware_configs" / "profiles" / "complaints.yaml"
PROFILE = load_profile(PATH)


def complaint_row(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": 7, "ticket_no": "TS20261102000007", "channel": "12345热线电话", "complainant": "王芳",
        "target_dept_code": "SCJG", "target_dept_name": "市市场监督管理局",
        "target_staff_no": "S010003", "target_staff_name": "李静", "case_no": None,
        "content": "窗口要求提交清单之外的材料", "status": "40",
        "register_time": "2026-11-02 10:00:00", "accept_time": "2026-11-04 09:30:00",
        "reply_time": "2026-11-20 15:00:00", "finish_time": "2026-11-23 10:00:00",
        "verify_result": "2", "reply_content": "已约谈", "created_at": "2026-11-02 10:01:00",
        "updated_at": "2026-11-23 10:00:00",
    }
    row.update(over)
    return row


def request_row(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": 3, "apply_no": "GK20261102000003", "dept_code": "ZRZY", "dept_name": "市自然资源和规划局",
        "applicant_name": "张伟", "apply_way": "网上申请", "content": "申请公开某地块出让合同",
        "receive_time": "2026-11-02 09:10:00", "supplement_notice_time": "2026-11-05 10:00:00",
        "supplement_receive_time": "2026-11-10 11:00:00",
        "consult_start_time": "2026-11-16 09:00:00", "consult_end_time": "2026-11-27 16:00:00",
        "extend_time": "2026-12-10 10:00:00", "extend_days": 15,
        "reply_time": "2026-12-28 10:00:00", "reply_type": "2",
        "created_at": "2026-11-02 09:12:00", "updated_at": "2026-12-28 10:00:00",
    }
    row.update(over)
    return row


def test_profile_is_consistent_with_the_event_schema() -> None:
    assert check_profile(PROFILE) == []
    assert {r.type for r in PROFILE.events} == {
        "complaint.filed", "complaint.accepted", "complaint.answered", "complaint.closed",
        "disclosure.received", "disclosure.supplement_requested", "disclosure.supplement_received",
        "disclosure.consult_started", "disclosure.consult_ended", "disclosure.extended",
        "disclosure.answered"}


def test_validate_config_accepts_the_profile() -> None:
    result = CliRunner().invoke(agent_cli, ["validate-config", str(PATH)])
    assert result.exit_code == 0, result.output
    assert "config OK" in result.output


def test_a_complaint_row_gives_one_event_per_state() -> None:
    events = map_row(PROFILE, "ts_complaint", complaint_row())
    assert [e.type for e in events] == ["complaint.filed", "complaint.accepted",
                                        "complaint.answered", "complaint.closed"]
    filed, accepted, answered, closed = events
    assert filed.body == {"complaint_id": "TS20261102000007", "at": "2026-11-02T10:00:00+08:00",
                          "target_dept": "SCJG", "target_staff": "S010003",
                          "text": "窗口要求提交清单之外的材料"}
    assert filed.ts == "2026-11-02T10:01:00+08:00"  # registered: the row's created_at
    assert accepted.ts == accepted.body["at"] == "2026-11-04T09:30:00+08:00"  # not updated_at
    assert answered.body["at"] == "2026-11-20T15:00:00+08:00"
    assert closed.body["substantiated"] is True  # 2 部分属实 counts against the department
    assert [e.key for e in events] == [f"ts_complaint:id=7:{t}" for t in (
        "complaint.filed", "complaint.accepted", "complaint.answered", "complaint.closed")]
    (unfounded,) = [e for e in map_row(PROFILE, "ts_complaint", complaint_row(verify_result="3"))
                    if e.type == "complaint.closed"]
    assert unfounded.body["substantiated"] is False


def test_state_columns_not_yet_set_give_no_event_and_refusal_has_no_finding() -> None:
    just_filed = complaint_row(accept_time=None, reply_time=None, finish_time=None,
                               verify_result=None, status="10", target_staff_no=None)
    (filed,) = map_row(PROFILE, "ts_complaint", just_filed)
    assert filed.type == "complaint.filed" and "target_staff" not in filed.body
    refused = complaint_row(accept_time=None, reply_time=None, verify_result=None, status="90")
    events = map_row(PROFILE, "ts_complaint", refused)
    assert [e.type for e in events] == ["complaint.filed", "complaint.closed"]
    assert "substantiated" not in events[1].body


def test_unknown_finding_is_a_mapping_error_and_the_other_states_still_map() -> None:
    events = map_row(PROFILE, "ts_complaint", complaint_row(verify_result="9"),
                     now=datetime(2026, 11, 23, 11, 0, tzinfo=TZ))
    assert [e.type for e in events] == ["complaint.filed", "complaint.accepted",
                                        "complaint.answered", MAPPING_ERROR]
    error = events[-1].body
    assert error["reason"] == "unknown_code" and error["column"] == "verify_result"
    assert error["event_type"] == "complaint.closed" and error["key"] == {"id": "7"}


def test_a_disclosure_row_gives_its_whole_timeline() -> None:
    events = map_row(PROFILE, "gk_apply", request_row())
    assert [e.type for e in events] == [
        "disclosure.received", "disclosure.supplement_requested", "disclosure.supplement_received",
        "disclosure.consult_started", "disclosure.consult_ended", "disclosure.extended",
        "disclosure.answered"]
    assert all(e.body["request_id"] == "GK20261102000003" and e.body["dept_code"] == "ZRZY"
               for e in events)
    assert events[0].ts == "2026-11-02T09:12:00+08:00"
    assert events[5].body["extension_days"] == 15
    assert events[6].body["answer_type"] == "部分公开"
    assert all(e.ts == e.body["at"] for e in events[1:])
    (received,) = map_row(PROFILE, "gk_apply", request_row(
        supplement_notice_time=None, supplement_receive_time=None, consult_start_time=None,
        consult_end_time=None, extend_time=None, extend_days=None, reply_time=None,
        reply_type=None))
    assert received.type == "disclosure.received"
    bad = map_row(PROFILE, "gk_apply", request_row(extend_days="二十"))
    assert [e.body["reason"] for e in bad if e.is_error] == ["bad_number"]


def test_the_simulated_complaints_system_maps_without_errors(tmp_path: Path) -> None:
    now = datetime(2026, 12, 3, 8, 0, tzinfo=TZ)
    db = connect(f"sqlite:///{tmp_path / 'complaints.db'}", create=True)
    initialise(db, "complaints", seed=1, departments=20, now=now)
    Simulator.open(db).backfill(60, now)
    events = map_database(db.conn, PROFILE)
    db.close()
    assert [e.body for e in events if e.is_error] == []
    conn = sqlite3.connect(tmp_path / "complaints.db")
    problems = validate_profile(PATH, conn)
    assert problems == []
    complaints, requests = (conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                            for t in ("ts_complaint", "gk_apply"))
    conn.close()
    assert sum(e.type == "complaint.filed" for e in events) == complaints > 0
    assert sum(e.type == "disclosure.received" for e in events) == requests > 0
    # every complaint's states in order: filed ≤ accepted ≤ answered ≤ closed
    order = ("complaint.filed", "complaint.accepted", "complaint.answered", "complaint.closed")
    times: dict[str, dict[str, str]] = {}
    for e in events:
        if e.type in order:
            times.setdefault(e.body["complaint_id"], {})[e.type] = e.body["at"]
    for cid, seen in times.items():
        stamps = [seen[t] for t in order if t in seen]
        assert stamps == sorted(stamps), cid
        if "complaint.answered" in seen:
            assert "complaint.accepted" in seen, cid  # only an accepted complaint is answered


def test_a_complaint_without_its_department_is_warned_about() -> None:
    data = yaml.safe_load(PATH.read_text(encoding="utf-8"))
    for rule in data["events"]:
        if rule["type"] == "complaint.filed":
            del rule["fields"]["target_dept"]
    problems = check_profile(profile_from_data(data, "no-dept.yaml"))
    assert [(p.level, p.where) for p in problems] == [("warning", "events[0].fields")]
    assert "target_dept" in problems[0].message and "department" in problems[0].message
