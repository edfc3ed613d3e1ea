"""The simulated complaints system (``xiaoneng-sim --schema complaints``): its rates, and the hub's
clocks (DOMAIN.md §6) judging what it wrote — every injected late acceptance, late answer and late
disclosure answer is an R2 card, and nothing else is a card."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from agent.capture.backfill import in_time_order
from agent.mapping import load_profile
from simulator.catalogue import build_catalogue
from simulator.cli import main as cli
from simulator.complaints import DISCLOSURE_DEPTS, ComplaintRates, expected_month, matter_mix
from simulator.db import connect
from simulator.engine import Simulator, Stats, initialise
from tests.engine.helpers import Driver
from tests.mapping.rows import map_database
from tests.simulator.servers import DIALECTS, fresh_database

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=TZ)
PROFILE = load_profile(Path(__file__).resolve().parents[2] / "firmware_configs" / "profiles"
                       / "complaints.yaml")


def _build(path: Path, days: int, rates: str = "") -> Stats:
    db = connect(f"sqlite:///{path}", create=True)
    try:
        initialise(db, "complaints", seed=3, departments=20, now=NOW - timedelta(days=days))
        sim = Simulator.open(db, complaint_rates=ComplaintRates.parse(rates))
        return sim.backfill(days, NOW)
    finally:
        db.close()


def test_a_year_has_a_few_complaints_per_department_per_month(tmp_path: Path) -> None:
    stats = _build(tmp_path / "c.db", 365)
    conn = sqlite3.connect(tmp_path / "c.db")
    per_dept = Counter(dict(conn.execute(
        "SELECT target_dept_code, COUNT(*) FROM ts_complaint GROUP BY 1").fetchall()))
    requests = Counter(dict(conn.execute(
        "SELECT dept_code, COUNT(*) FROM gk_apply GROUP BY 1").fetchall()))
    accepted = conn.execute("SELECT COUNT(*) FROM ts_complaint WHERE accept_time IS NOT NULL"
                            ).fetchone()[0]
    found = Counter(r[0] for r in conn.execute(
        "SELECT verify_result FROM ts_complaint WHERE finish_time IS NOT NULL"))
    extended = conn.execute("SELECT COUNT(*) FROM gk_apply WHERE extend_time IS NOT NULL"
                            ).fetchone()[0]
    supplemented = conn.execute("SELECT COUNT(*) FROM gk_apply WHERE supplement_notice_time "
                                "IS NOT NULL").fetchone()[0]
    consulted = conn.execute("SELECT COUNT(*) FROM gk_apply WHERE consult_start_time IS NOT NULL"
                             ).fetchone()[0]
    conn.close()
    months = 12
    complaints = sum(per_dept.values())
    assert 0.85 * 3 * 20 * months < complaints < 1.15 * 3 * 20 * months  # ≈ 3 / dept / month
    assert len(per_dept) == 20 and max(per_dept.values()) / months < 12  # a few, never dozens
    assert set(requests) == set(DISCLOSURE_DEPTS)
    assert 0.8 * 2 * 6 * months < sum(requests.values()) < 1.2 * 2 * 6 * months  # 2 / dept / month
    assert 10 < min(requests.values()) and max(requests.values()) < 40
    assert 0.84 < accepted / complaints < 0.95  # 10 % 不予受理
    assert 0.14 < (found["1"] + found["2"]) / (found["1"] + found["2"] + found["3"]) < 0.27
    total = sum(requests.values())
    for share, rate in ((extended, 0.1), (supplemented, 0.15), (consulted, 0.1)):
        assert 0.4 * rate < share / total < 1.8 * rate
    assert 0 < stats.violations["late_answer"] < 0.2 * accepted
    assert stats.violations["substantiated"] == found["1"] + found["2"]
    # the problem departments (×6) get more complaints per window than the model ones (×0.1)
    cat = build_catalogue(3, 20)
    windows = {d.code: len(d.windows) for d in cat.departments}
    assert (per_dept["YJGL"] + per_dept["LY"]) / (windows["YJGL"] + windows["LY"]) > \
        (per_dept["SHUIWU"] + per_dept["STHJ"]) / (windows["SHUIWU"] + windows["STHJ"])


def test_expected_month_matches_the_mix() -> None:
    cat = build_catalogue(1, 20)
    month = expected_month(cat)
    assert round(sum(m["complaints"] for m in month.values())) == 60
    assert round(sum(m["disclosures"] for m in month.values())) == 2 * len(DISCLOSURE_DEPTS)
    assert matter_mix(cat, ComplaintRates()).per_month == pytest.approx(72)
    with pytest.raises(ValueError, match="unknown complaint rate"):
        ComplaintRates.parse("late=0.1")
    with pytest.raises(ValueError, match="out of range"):
        ComplaintRates.parse("late_answer=2")


def test_the_hub_clocks_find_exactly_the_injected_lateness(tmp_path: Path) -> None:
    stats = _build(tmp_path / "c.db", 150, "late_answer=0.2,late_accept=0.1,late_disclosure=0.2")
    db = connect(f"sqlite:///{tmp_path / 'c.db'}")
    events = in_time_order(map_database(db.conn, PROFILE))
    db.close()
    assert not [e for e in events if e.is_error]
    drv = Driver()
    cards = []
    for e in sorted(events, key=lambda e: e.body["at"]):
        cards += drv.sup.tick(datetime.fromisoformat(e.body["at"]))
        cards += drv.send(e.type, **e.body)
    cards += drv.sup.tick(NOW)
    standing = [c for c in cards if c.rule != "R1"]
    assert {c.rule for c in standing} <= {"R2"}  # no R3 (late by 1–2 days), R8 or R9
    accepted = {e.body["complaint_id"] for e in events if e.type == "complaint.accepted"}
    answered = {e.body["complaint_id"] for e in events if e.type == "complaint.answered"}
    replied = {e.body["request_id"] for e in events if e.type == "disclosure.answered"}
    by_stage: Counter[str] = Counter()
    for c in standing:
        kind, ident = c.decision.subject.split(":", 1)
        stage = c.decision.details.get("stage")
        if kind == "complaint" and stage == "accept" and ident in accepted:
            by_stage["late_accept"] += 1
        elif kind == "complaint" and stage == "answer" and ident in answered:
            by_stage["late_answer"] += 1
        elif kind == "disclosure" and ident in replied:
            by_stage["late_disclosure"] += 1
    for name in ("late_accept", "late_answer", "late_disclosure"):
        assert stats.violations[name] > 0, name
        assert by_stage[name] == stats.violations[name], name


@pytest.mark.parametrize("dialect", DIALECTS)
def test_cli_builds_and_runs_a_complaints_system(tmp_path: Path, dialect: str) -> None:
    runner = CliRunner()

    def ok(args: list[str]) -> str:
        result = runner.invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    with fresh_database(dialect, tmp_path) as url:
        ok(["init", "--db", url, "--schema", "complaints", "--complaint-rates",
            "complaints_per_dept_month=12,late_answer=0.5"])
        assert "cases planned" in ok(["backfill", "--db", url, "--days", "40",
                                      "--now", "2026-12-03T08:00"])
        out = ok(["status", "--db", url])
        complaints = int(re.search(r"ts_complaint\s+(\d+)", out).group(1))  # type: ignore[union-attr]
        requests = int(re.search(r"gk_apply\s+(\d+)", out).group(1))  # type: ignore[union-attr]
        assert complaints > 100 and requests > 5  # 12 a month per department: the stored rate
        db = connect(url)
        try:
            events = map_database(db.conn, PROFILE)
        finally:
            db.close()
        assert [e.body for e in events if e.is_error] == []
        assert sum(e.type == "complaint.filed" for e in events) == complaints
    wrong = runner.invoke(cli, ["init", "--db", f"sqlite:///{tmp_path / 'x.db'}",
                                "--complaint-rates", "late_answer=0.1"])
    assert wrong.exit_code != 0 and "--schema complaints" in wrong.output


def test_help_lists_the_complaint_rates() -> None:
    text = CliRunner().invoke(cli, ["--help"]).output
    for name, value, _doc in ComplaintRates.describe():
        assert f"{name}={value:g}" in text
    assert "--schema complaints" in text
