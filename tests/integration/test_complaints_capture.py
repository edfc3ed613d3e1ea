"""A complaints system captured end to end: a real agent process reads a 12345 complaints database
(SQLite, the simulator's ``complaints`` schema) through firmware_configs/profiles/complaints.yaml,
sends the records over a real Mosquitto to a real hub, and the hub's supervision keeps the
complaint's and the disclosure request's clocks and raises their cards (DOMAIN.md §6) in its
tables; a later state change in the database (the complaint accepted) arrives through the
capture triggers and moves the clock."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.timefmt import SHANGHAI
from simulator.cluster import LocalCluster
from simulator.db import connect
from simulator.engine import initialise
from tests.support.wait import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow]

AGENT = "ts12345-01"
PROFILE = Path(__file__).resolve().parents[2] / "firmware_configs" / "profiles" / "complaints.yaml"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def city(tmp_path: Path) -> Iterator[tuple[LocalCluster, Path, datetime]]:
    db_file = tmp_path / "12345.sqlite"
    db = connect(f"sqlite:///{db_file}", create=True)
    initialise(db, "complaints", seed=1, departments=["SCJG", "ZRZY"])
    db.close()
    cluster = LocalCluster(tmp_path / "city", [AGENT], site_id="city-12345",
                           agent_names={AGENT: "12345热线 投诉系统 采集端"})
    cluster.setup()
    config = cluster.agent_dir(AGENT) / "agent.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["capture"] = [{"name": "complaints", "profile": str(PROFILE), "database": f"sqlite:///{db_file}"}]
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    subprocess.run([sys.executable, "-m", "agent.cli", "capture", "install", "--config", str(config)],
                   check=True, capture_output=True, timeout=60)
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    filed, received = now - timedelta(days=30), now - timedelta(days=60)
    conn = sqlite3.connect(db_file)
    with conn:
        # a complaint nobody has accepted for 30 days: past its 5 working days
        conn.execute(
            "INSERT INTO ts_complaint (ticket_no, channel, complainant, target_dept_code, target_dept_name, "
            "target_staff_no, target_staff_name, content, status, register_time, created_at, updated_at) "
            "VALUES ('TS-E2E-1', '12345热线电话', '王芳', 'SCJG', '市市场监督管理局', 'S010003', '李静', "
            "'窗口要求提交清单之外的材料', '10', ?, ?, ?)", (_stamp(filed),) * 3)
        # a disclosure request received 60 days ago, never answered: past its 20 working days
        conn.execute(
            "INSERT INTO gk_apply (apply_no, dept_code, dept_name, applicant_name, apply_way, content, "
            "receive_time, created_at, updated_at) VALUES ('GK-E2E-1', 'ZRZY', '市自然资源和规划局', '张伟', "
            "'网上申请', '申请公开某地块出让合同', ?, ?, ?)", (_stamp(received),) * 3)
    conn.close()
    try:
        cluster.start_broker()
        cluster.start_hub()
        cluster.start_agent(AGENT)
        yield cluster, db_file, now
    finally:
        cluster.stop_all()


def _rows(cluster: LocalCluster, sql: str) -> list[tuple[Any, ...]]:
    conn = cluster.hub_db()
    try:
        return list(conn.execute(sql).fetchall())
    except sqlite3.OperationalError:  # the supervision has not created its tables yet
        return []
    finally:
        conn.close()


def test_complaint_and_request_clocks_and_cards_from_a_captured_database(
        city: tuple[LocalCluster, Path, datetime]) -> None:
    cluster, db_file, now = city
    log = cluster.root / "logs"
    records = wait_until(lambda: _rows(cluster, "SELECT type FROM records WHERE type IN "
                                                "('complaint.filed', 'disclosure.received')"), 90,
                         message=f"the captured records at the hub (logs: {log})")
    assert sorted(r[0] for r in records) == ["complaint.filed", "disclosure.received"]
    complaint = wait_until(lambda: _rows(cluster, "SELECT target_dept, target_staff, filed_day, accepted_day, "
                                                  "accept_due, active FROM complaints WHERE complaint_id = "
                                                  "'TS-E2E-1'"), 90, message="the complaint's clock")
    dept, staff, filed_day, accepted_day, accept_due, active = complaint[0]
    assert (dept, staff, accepted_day, active) == ("SCJG", "S010003", None, 1)
    assert filed_day == (now - timedelta(days=30)).date().isoformat()
    assert accept_due is not None and filed_day < accept_due < now.date().isoformat()
    request = wait_until(lambda: _rows(cluster, "SELECT dept_code, received_day, due_date, answered_day, active "
                                                "FROM disclosures WHERE request_id = 'GK-E2E-1'"), 90,
                         message="the request's clock")
    r_dept, received_day, due_date, answered_day, r_active = request[0]
    assert (r_dept, answered_day, r_active) == ("ZRZY", None, 1)
    assert received_day < due_date < now.date().isoformat()
    def both_cards() -> list[tuple[Any, ...]] | None:
        rows = _rows(cluster, "SELECT subject, rule, level, dept_code, staff_id, json FROM cards WHERE rule = 'R2' "
                              "AND subject IN ('complaint:TS-E2E-1', 'disclosure:GK-E2E-1')")
        return rows if len(rows) == 2 else None

    cards = wait_until(both_cards, 120, message=f"the R2 cards of the complaint and the request (logs: {log})")
    assert cards is not None
    by_subject = {c[0]: c for c in cards}
    c_card = by_subject["complaint:TS-E2E-1"]
    assert (c_card[2], c_card[3], c_card[4]) == ("yellow", "SCJG", "S010003")
    assert accept_due in c_card[5] and '"stage": "accept"' in c_card[5]
    d_card = by_subject["disclosure:GK-E2E-1"]
    assert (d_card[2], d_card[3]) == ("yellow", "ZRZY") and due_date in d_card[5]

    # the department accepts the complaint in its system: the trigger sees the update
    accepted = now.replace(hour=9, minute=30, second=0)
    conn = sqlite3.connect(db_file)
    with conn:
        conn.execute("UPDATE ts_complaint SET accept_time = ?, status = '20', updated_at = ? "
                     "WHERE ticket_no = 'TS-E2E-1'", (_stamp(accepted), _stamp(now)))
    conn.close()
    moved = wait_until(lambda: _rows(cluster, "SELECT accepted_day, answer_due FROM complaints WHERE complaint_id = "
                                              "'TS-E2E-1' AND accepted_day IS NOT NULL"), 90,
                       message="the acceptance to reach the complaint's clock")
    assert moved[0][0] == accepted.date().isoformat() and moved[0][1] > accepted.date().isoformat()
    assert _rows(cluster, "SELECT COUNT(*) FROM records WHERE type = 'agent.mapping_error'") == [(0,)]
    assert _rows(cluster, "SELECT COUNT(*) FROM quarantine") == [(0,)]
