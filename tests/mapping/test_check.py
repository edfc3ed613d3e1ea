"""Profile validation: against the event schema, and against a live database on every backend."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.mapping import (
    check_database,
    check_profile,
    errors,
    load_profile,
    profile_from_data,
    validate_profile,
)
from simulator.db import connect
from simulator.engine import initialise
from tests.simulator.servers import DIALECTS, fresh_database

PROFILES = Path(__file__).resolve().parents[2] / "firmware_configs" / "profiles"
NOW = datetime(2026, 11, 18, 11, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

BASE: dict[str, Any] = {
    "profile": "t",
    "codes": {"unit": {"工作日": "G", "自然日": "Z"}, "kind": {"1": 1, "2": 2}},
    "sources": {"c": {"key": "id", "updated_at": "u"}},
    "events": [{
        "type": "case.accepted", "source": "c",
        "fields": {
            "case_id": "a", "item_code": "b", "item_name": "c", "dept_code": "d",
            "dept_name": "e", "accepted_at": "f", "case_kind": {"column": "g", "codes": "kind"},
            "promised_limit": {"fields": {"value": "h", "unit": {"column": "i", "codes": "unit"}}},
            "statutory_limit": {"fields": {"value": "j", "unit": {"const": "G"}}},
        },
    }],
}


def _problems(change: Any) -> list[str]:
    data = copy.deepcopy(BASE)
    change(data)
    return [str(p) for p in check_profile(profile_from_data(data))]


def test_a_complete_profile_has_no_problems() -> None:
    assert _problems(lambda d: None) == []


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["events"][0]["fields"].pop("item_name"),
     "error: events[0].fields: required field 'item_name' of case.accepted is not mapped"),
    (lambda d: d["codes"]["unit"].update({"月": "M"}),
     "error: events[0].fields.promised_limit.fields.unit: code table 'unit' value 'M' must be"),
    (lambda d: d["codes"]["kind"].update({"3": 3}),
     "error: events[0].fields.case_kind: code table 'kind' value 3 must be one of 1, 2"),
    (lambda d: d["events"][0]["fields"].update(statutory_limit="j"),
     "error: events[0].fields.statutory_limit: a limit needs exactly fields: value and unit"),
    (lambda d: d["events"][0]["fields"].update(window="w"),
     "warning: events[0].fields.window: 'window' is not a field of case.accepted"),
    (lambda d: d["events"][0].update(type="case.acepted"), "unknown event type 'case.acepted'"),
    (lambda d: d["events"][0].update(type="agent.mapping_error"), "produced by the agent itself"),
    (lambda d: d["events"][0]["fields"].update(accepted_at={"column": "f", "type": "yuan"}),
     "type yuan does not fit a ts field"),
    (lambda d: (d.update(capture={"mode": "watermark"}), d["sources"]["c"].pop("updated_at")),
     "error: sources.c: watermark capture needs updated_at"),
    (lambda d: d["sources"].update(unused={"key": "id"}),
     "warning: sources.unused: no event uses this source"),
])
def test_schema_problems_are_named(change: Any, expected: str) -> None:
    problems = _problems(change)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("kind", ["reference", "exchange", "flowable"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_live_database_check_names_every_missing_table_and_column(
        tmp_path: Path, dialect: str, kind: str) -> None:
    profile = load_profile(PROFILES / f"{kind}.yaml")
    with fresh_database(dialect, tmp_path) as url:
        db = connect(url, create=True)
        try:
            assert {str(p) for p in check_database(profile, db.conn)} != set()  # empty database
            missing = check_database(profile, db.conn)
            assert len([p for p in missing if "does not exist" in p.message]) == len(
                profile.sources)
            initialise(db, kind, departments=1, now=NOW)
            assert check_database(profile, db.conn) == []
            table, old, new = {
                "reference": ("appr_step", "opinion", "opinion_text"),
                "exchange": ("up_pro_result", "RESULTCODE", "RESULT_CODE"),
                "flowable": ("ACT_HI_TASKINST", "ASSIGNEE_", "ASSIGNEE_ID_"),
            }[kind]
            db.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}").close()
            if kind == "reference":
                db.execute("DROP TABLE appr_rating").close()
            db.commit()
            found = [str(p) for p in check_database(profile, db.conn)]
        finally:
            db.close()
    assert any(f"column {old.lower()} is missing" in p for p in found), found
    if kind == "reference":
        assert any("table appr_rating does not exist" in p and "rate_time" in p
                   for p in found), found
        assert len(found) == 2, found
    elif kind == "flowable":
        assert any("sources.taskinst.query: the query fails" in p for p in found), found
        assert len(found) == 2, found
    else:
        assert len(found) == 1, found


def test_validate_profile_with_and_without_a_database(tmp_path: Path) -> None:
    path = PROFILES / "reference.yaml"
    assert validate_profile(path) == []
    db = connect(f"sqlite:///{tmp_path / 'x.db'}", create=True)
    try:
        problems = validate_profile(path, db.conn)
    finally:
        db.close()
    assert errors(problems) and all("does not exist" in p.message for p in problems)
