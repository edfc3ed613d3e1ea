"""The three shipped profiles, fed by the simulator: the same simulated city gives the same
events whichever department database it was written into, and the events say what the
simulator did."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.mapping import Event, load_profile
from simulator.db import connect
from simulator.engine import Simulator, initialise
from simulator.planner import Violations
from tests.mapping.rows import map_database, source_rows

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 13, 17, 0, tzinfo=TZ)
PROFILES = Path(__file__).resolve().parents[2] / "firmware_configs" / "profiles"
KINDS = ("reference", "exchange", "flowable")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Event]]:
    """One simulated fortnight of 4 departments, written into each kind of database."""
    out = {}
    violations = Violations(overdue=0.1, refusal_no_reason=0.5, return_no_reason=0.5,
                            fee_over=0.1, repeated_supplement=0.5, late_report=0.1,
                            suspension_no_reason=0.5, bad_rating=0.3)
    for kind in KINDS:
        db = connect(f"sqlite:///{tmp_path_factory.mktemp(kind) / 'dept.db'}", create=True)
        initialise(db, kind, seed=11, departments=["ZRZY", "GA", "STHJ", "YJGL"], now=NOW)
        Simulator.open(db, violations=violations).backfill(14, NOW)
        out[kind] = map_database(db.conn, load_profile(PROFILES / f"{kind}.yaml"))
        if kind == "reference":
            out["_rows"] = source_rows(db.conn, load_profile(PROFILES / "reference.yaml"),
                                       "appr_case")  # type: ignore[assignment]
        db.close()
    return out


def _moment(e: Event) -> str:
    return str(e.body.get("at") or e.body.get("accepted_at") or e.body.get("started_at"))


def _by_case(events: list[Event], type_: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e.body["case_id"], _moment(e)): e.body for e in events if e.type == type_}


def test_no_mapping_errors(city: dict[str, list[Event]]) -> None:
    for kind in KINDS:
        assert [e.body for e in city[kind] if e.is_error] == [], kind


def test_same_city_same_events_in_every_schema(city: dict[str, list[Event]]) -> None:
    keys = {k: Counter((e.type, e.body["case_id"], _moment(e)) for e in city[k]) for k in KINDS}
    assert keys["reference"] == keys["exchange"] == keys["flowable"]
    # field by field, except what a schema cannot carry (its own row ids; Flowable's assignee
    # is a user id and its ratings have no comment)
    skip = {"source_id", "handler", "comment", "materials", "opinion", "step_code"}
    for type_ in ("case.accepted", "case.refused", "case.completed", "case.suspended",
                  "case.resumed", "case.rated", "case.step", "case.supplement_received",
                  "case.rating_rectified"):
        ref = _by_case(city["reference"], type_)
        for other in ("exchange", "flowable"):
            theirs = _by_case(city[other], type_)
            for key, body in ref.items():
                mine = {k: v for k, v in body.items() if k not in skip}
                them = {k: v for k, v in theirs[key].items() if k not in skip}
                assert mine == them, (type_, other, key)


def test_bad_ratings_put_right_reach_the_hub_naming_their_rating(city: dict[str, list[Event]]) -> None:
    for kind in KINDS:
        rated = {(e.body["case_id"], e.body["at"]): e.body["level"] for e in city[kind] if e.type == "case.rated"}
        rectified = [e.body for e in city[kind] if e.type == "case.rating_rectified"]
        assert rectified, kind
        for body in rectified:
            assert rated[(body["case_id"], body["rating_at"])] >= 4, (kind, body)  # a bad rating, before
            assert body["at"] > body["rating_at"] and body["measure"] and body["handler"], (kind, body)


def test_violations_are_visible_in_the_events(city: dict[str, list[Event]]) -> None:
    for kind in KINDS:
        events = city[kind]
        refused = [e for e in events if e.type == "case.refused"]
        assert any(e.body["reason"] == "" for e in refused)
        assert any(e.body["reason"] for e in refused)
        done = [e for e in events if e.type == "case.completed"]
        assert any(e.body["result_code"] in (1, 2, 3, 5, 7) and not e.body.get("reason")
                   for e in done)
        suspended = [e for e in events if e.type == "case.suspended"]
        assert any(e.body["kind"] == 2 and e.body["reason"] == "" for e in suspended)
        assert any(e.body["kind"] == 1 and e.body["extension_days"] == 10 for e in suspended)
        requests = Counter(e.body["case_id"] for e in events
                           if e.type == "case.supplement_requested")
        assert max(requests.values()) >= 2
        accepted = {e.body["case_id"]: e.body for e in events if e.type == "case.accepted"}
        assert any(e.body.get("fee_charged_fen", 0) > accepted[e.body["case_id"]][
            "fee_standard_fen"] for e in done)
        if kind != "flowable":  # the BPM engine stamps events as they happen: no late entries
            late = [e for e in events if e.type in ("case.accepted", "case.completed")
                    and _hours(e.ts, _moment(e)) > 24]
            assert late


def test_events_carry_the_database_values(city: dict[str, Any]) -> None:
    rows = {r["case_no"]: r for r in city["_rows"]}
    for e in city["reference"]:
        if e.type == "case.accepted":
            row = rows[e.body["case_id"]]
            assert e.body["item_code"] == row["item_code"]
            assert e.body["promised_limit"]["value"] == row["promise_limit"]
            assert e.body["accepted_at"] == row["accept_time"].replace(" ", "T") + "+08:00"
            assert e.body["window_name"] == row["window_name"] and "号窗口" in row["window_name"]
    for kind in KINDS:  # every schema names the window, and the same way
        names = {e.body["window_id"]: e.body.get("window_name") for e in city[kind] if e.type == "case.accepted"}
        assert names and all(names.values()), kind


def _hours(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds() / 3600
