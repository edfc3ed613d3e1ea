"""Records stored by the real store → SupervisorService → cases, cards, timeline, aggregates."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.store import Store
from hub.supervision.service import SupervisorService
from shared.topics import ALERTS
from tests.supervision.helpers import Clock, Feed, service


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Path, Store, Feed, Clock]]:
    db = tmp_path / "hub.sqlite"
    store = Store(db)
    yield db, store, Feed(store), Clock("2026-09-24T10:01")
    store.close()


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def run(svc: SupervisorService, clock: Clock, when: str) -> None:
    clock.set(when)
    svc.step()


def test_overdue_case_gets_a_yellow_card_with_a_deadline_then_a_red_one(env: tuple[Path, Store, Feed, Clock]) -> None:
    db, _store, feed, clock = env
    published: list[tuple[str, dict[str, Any]]] = []
    mqtt: list[tuple[str, dict[str, Any], int]] = []
    feed.accept("C1", "2026-09-24T10:00")  # 5 G: due 2026-10-09 (DOMAIN.md §3 worked example)
    feed.flush()
    svc = service(db, clock, mqtt=lambda t, p, q: mqtt.append((t, json.loads(p), q)))
    svc.listeners.append(lambda kind, data: published.append((kind, dict(data))))
    svc.step()
    assert rows(db, "SELECT status, due_date, statutory_due, dept_name FROM cases") == [
        ("normal", "2026-10-09", "2026-10-29", "市场监管局")]
    assert rows(db, "SELECT case_id, record_id, type FROM case_events") == [("C1", 1, "case.accepted")]

    run(svc, clock, "2026-10-09T00:00:02")  # one day left: R1 reminder
    assert rows(db, "SELECT rule, level FROM cards") == [("R1", "reminder")]
    assert rows(db, "SELECT status FROM cases") == [("reminder",)]

    run(svc, clock, "2026-10-10T00:00:02")  # Saturday 10-10 is a working day (调休): R2, 督办 3 G
    yellow = rows(db, "SELECT card_id, state, deadline, evidence, raised_at FROM cards WHERE rule = 'R2'")
    assert len(yellow) == 1
    card_id, state, deadline, evidence, raised = yellow[0]
    assert (state, deadline) == ("raised", "2026-10-14")  # 10-12, 10-13, 10-14
    assert json.loads(evidence) == [rows(db, "SELECT lower(hex(hash)) FROM records WHERE id = 1")[0][0]]
    assert raised.startswith("2026-10-10T00:00")
    assert rows(db, "SELECT status FROM cases") == [("yellow",)]

    run(svc, clock, "2026-10-14T23:59")
    assert rows(db, "SELECT COUNT(*) FROM cards WHERE level = 'red'") == [(0,)]
    run(svc, clock, "2026-10-15T00:00:03")  # 督办 deadline passed: R3 red escalates the yellow card
    red = rows(db, "SELECT rule, level, escalates FROM cards WHERE level = 'red'")
    assert red == [("R3", "red", card_id)]
    assert rows(db, "SELECT status FROM cases") == [("red",)]

    kinds = [k for k, _ in published]
    assert kinds.count("card.raised") == 3 and "case.updated" in kinds
    raised_events = [d for k, d in published if k == "card.raised"]
    assert {d["rule"] for d in raised_events} == {"R1", "R2", "R3"}
    assert all(d["dept_code"] == "D01" and d["case_id"] == "C1" and d["title"] for d in raised_events)
    assert [(t, m["event"], m["card"]["rule"], q) for t, m, q in mqtt] == [
        (ALERTS, "card.raised", "R1", 1), (ALERTS, "card.raised", "R2", 1), (ALERTS, "card.raised", "R3", 1)]
    daily = dict(((d, m), n) for d, m, n in rows(db, "SELECT day, metric, n FROM sup_daily WHERE n != 0"))
    assert daily == {("2026-09-24", "accepted"): 1, ("2026-09-24", "accepted_promised"): 1,
                     ("2026-10-09", "cards_reminder"): 1, ("2026-10-10", "cards_yellow"): 1,
                     ("2026-10-15", "cards_red"): 1}
    assert rows(db, "SELECT status, n FROM sup_status WHERE n != 0") == [("red", 1)]
    svc.stop()


def test_completion_settles_the_case_and_the_aggregates(env: tuple[Path, Store, Feed, Clock]) -> None:
    db, _store, feed, clock = env
    feed.accept("C1", "2026-09-24T10:00")
    feed.accept("C2", "2026-09-24T10:30", kind=1, limit=0, statutory=0)
    feed.flush()
    svc = service(db, clock)
    svc.step()
    assert dict(rows(db, "SELECT case_id, status FROM cases")) == {"C1": "normal", "C2": "normal"}
    feed.complete("C2", "2026-09-24T11:00")
    feed.event("supplement_requested", "C1", "2026-09-28T09:00")
    feed.flush()
    run(svc, clock, "2026-09-28T09:05")
    assert dict(rows(db, "SELECT case_id, status FROM cases")) == {"C1": "paused", "C2": "completed"}
    feed.event("supplement_received", "C1", "2026-09-29T09:00")
    feed.complete("C1", "2026-10-09T15:00")  # due moved to 10-12 by the 2-day pause: early
    feed.flush()
    run(svc, clock, "2026-10-09T15:01")
    got = rows(db, "SELECT case_id, status, outcome, due_date, completed_day, active FROM cases ORDER BY case_id")
    assert got == [("C1", "completed", "early", "2026-10-12", "2026-10-09", 0),
                   ("C2", "completed", "on_time", "2026-09-24", "2026-09-24", 0)]
    daily = dict(((d, m), n) for d, m, n in rows(db, "SELECT day, metric, n FROM sup_daily WHERE n != 0"))
    assert daily[("2026-09-24", "accepted")] == 2 and daily[("2026-09-24", "accepted_immediate")] == 1
    assert daily[("2026-10-09", "completed_early")] == 1 and daily[("2026-09-24", "completed_on_time")] == 1
    assert rows(db, "SELECT COUNT(*) FROM sup_status WHERE n != 0") == [(0,)]
    assert rows(db, "SELECT COUNT(*) FROM cards WHERE rule IN ('R2', 'R3')") == [(0,)]
    assert [r[0] for r in rows(db, "SELECT type FROM case_events WHERE case_id = 'C1' ORDER BY record_id")] == [
        "case.accepted", "case.supplement_requested", "case.supplement_received", "case.completed"]
    svc.stop()


def test_bad_bodies_are_data_errors_and_the_service_goes_on(env: tuple[Path, Store, Feed, Clock]) -> None:
    db, _store, feed, clock = env
    feed.accept("C1", "2026-09-24T10:00")
    feed.add("case.accepted", "2026-09-24T10:05", {"case_id": "C2", "dept_code": "D01"})  # fields missing
    feed.accept("C3", "2026-09-24T10:10")
    feed.add("case.completed", "2026-09-24T10:20", {"case_id": "C3", "at": "yesterday", "result_code": 6})
    feed.flush()
    conn = sqlite3.connect(db)  # a stored body that is no longer strict JSON (a duplicate key)
    raw = conn.execute("SELECT raw FROM records WHERE id = 1").fetchone()[0]
    conn.execute("UPDATE records SET raw = ? WHERE id = 1", (raw.replace(b'{"body":{', b'{"body":{"case_id":"X",', 1),))
    conn.commit()
    conn.close()
    svc = service(db, clock)
    svc.step()
    errors = rows(db, "SELECT record_id, type, error FROM sup_errors ORDER BY record_id")
    assert [(r, t) for r, t, _ in errors] == [(1, "case.accepted"), (2, "case.accepted"), (4, "case.completed")]
    assert "duplicate key" in errors[0][2] and "accepted_at" in errors[1][2] and "ISO-8601" in errors[2][2]
    assert rows(db, "SELECT case_id FROM cases") == [("C3",)]
    assert rows(db, "SELECT value FROM sup_state WHERE key = 'cursor'") == [("4",)]
    assert svc.counters["errors"] == 3
    svc.stop()


def test_late_records_of_a_backlog_do_not_raise_cards_the_data_contradicts(
    env: tuple[Path, Store, Feed, Clock],
) -> None:
    """An agent back after weeks delivers its backlog in pieces: ticks wait for the stream."""
    db, _store, feed, clock = env
    clock.set("2026-11-20T10:00")
    svc = service(db, clock)
    feed.accept("C1", "2026-10-12T10:00")  # due 2026-10-19, completed on time on 10-16
    feed.flush()
    svc.step()  # the stream is delivering old records: no tick at wall time
    clock.advance(seconds=5)
    svc.step()
    assert rows(db, "SELECT rule FROM cards") == []
    feed.complete("C1", "2026-10-16T10:00")
    feed.flush()
    clock.advance(seconds=5)
    svc.step()
    clock.advance(minutes=2)  # the stream went quiet: now ticks run at wall time
    svc.step()
    assert rows(db, "SELECT status, outcome FROM cases") == [("completed", "early")]
    assert rows(db, "SELECT rule FROM cards") == []  # without the hold: R1, R2, R3 at wall time
    svc.stop()


def test_a_record_that_arrives_after_the_fact_retracts_the_cards_it_contradicts(
    env: tuple[Path, Store, Feed, Clock],
) -> None:
    """The first import of a department's history: the case row (accepted + completed) before the
    special procedure that paused its clock. The overdue cards decided on the partial facts are
    withdrawn by the system, audited with the record's hash, published, and no longer counted."""
    db, _store, feed, clock = env
    clock.set("2026-11-20T10:00")
    mqtt: list[dict[str, Any]] = []
    published: list[tuple[str, dict[str, Any]]] = []
    svc = service(db, clock, mqtt=lambda t, p, q: mqtt.append(json.loads(p)))
    svc.listeners.append(lambda kind, data: published.append((kind, dict(data))))
    feed.accept("C1", "2026-09-01T10:36", limit=20, statutory=20)  # due 09-29 without the pause
    feed.complete("C1", "2026-10-10T16:46")
    feed.flush()
    svc.step()
    # judged on what was known: overdue, but done — closed as recorded, historical, no reminder
    assert rows(db, "SELECT rule, state, historical FROM cards ORDER BY rule") == [
        ("R2", "closed", 1), ("R3", "closed", 1)]
    assert rows(db, "SELECT outcome FROM cases") == [("overdue",)]
    pause = feed.event("suspended", "C1", "2026-09-01T12:52", kind=2, reason="专家评审")
    feed.event("resumed", "C1", "2026-09-08T10:46")
    feed.flush()
    clock.advance(seconds=5)
    svc.step()
    assert rows(db, "SELECT rule, state FROM cards ORDER BY rule") == [("R2", "withdrawn"), ("R3", "withdrawn")]
    assert rows(db, "SELECT status, outcome, due_date, red_card FROM cases") == [
        ("completed", "early", "2026-10-12", 0)]
    audit = rows(db, "SELECT action, from_state, to_state, actor, note FROM card_actions")
    assert len(audit) == 2 and all(a[:4] == ("retract", "closed", "withdrawn", "system") for a in audit)
    assert all("特别程序开始" in a[4] and "2026-09-01 12:52" in a[4] for a in audit)
    card = json.loads(rows(db, "SELECT json FROM cards WHERE rule = 'R2'")[0][0])
    assert card["history"][-1]["evidence"] == [pause.hash.hex()]
    cards_daily = rows(db, "SELECT SUM(n) FROM sup_daily WHERE metric LIKE 'cards_%'")
    assert cards_daily == [(None,)]  # history is never part of today's figures
    assert mqtt == [] and not [k for k, _ in published if k.startswith("card.")]  # nor live alerts
    with pytest.raises(Exception, match="retract is the hub's own action"):
        svc.act(rows(db, "SELECT card_id FROM cards WHERE rule = 'R2'")[0][0], "retract", "monitor1", "x", clock())
    svc.stop()


def test_a_card_action_is_persisted_audited_and_published(env: tuple[Path, Store, Feed, Clock]) -> None:
    db, _store, feed, clock = env
    mqtt: list[dict[str, Any]] = []
    feed.accept("C1", "2026-09-24T10:00")
    feed.flush()
    svc = service(db, clock, mqtt=lambda t, p, q: mqtt.append(json.loads(p)))
    svc.step()
    run(svc, clock, "2026-10-10T08:00")
    (card_id,) = rows(db, "SELECT card_id FROM cards WHERE rule = 'R2'")[0]
    svc.act(card_id, "supervise", "monitor1", "请三日内办结", clock())
    svc.act(card_id, "respond", "dept1", "已安排专人办理", clock())
    with pytest.raises(Exception, match="needs a reason"):
        svc.act(card_id, "appeal", "dept1", "  ", clock())
    svc.act(card_id, "rectify", "dept1", "", clock())
    svc.act(card_id, "close", "monitor1", "", clock())
    assert rows(db, "SELECT state FROM cards WHERE card_id = ?", card_id) == [("closed",)]
    audit = rows(db, "SELECT action, from_state, to_state, actor, note FROM card_actions ORDER BY id")
    assert audit == [("supervise", "raised", "notified", "monitor1", "请三日内办结"),
                     ("respond", "notified", "notified", "dept1", "已安排专人办理"),
                     ("rectify", "notified", "rectified", "dept1", ""),
                     ("close", "rectified", "closed", "monitor1", "")]
    assert [m["event"] for m in mqtt][-4:] == ["card.updated"] * 4
    run(svc, clock, "2026-10-20T08:00")  # a closed card does not escalate
    assert rows(db, "SELECT COUNT(*) FROM cards WHERE rule = 'R3' AND escalates IS NOT NULL") == [(0,)]
    with pytest.raises(LookupError):
        svc.act("card-nope", "close", "x", "", clock())
    svc.stop()


def test_metrics_of_the_service(env: tuple[Path, Store, Feed, Clock]) -> None:
    from hub.supervision.metrics import supervision_collector
    from hub.web.metrics import Registry

    db, _store, feed, clock = env
    feed.accept("C1", "2026-09-24T10:00")
    feed.flush()
    svc = service(db, clock)
    feed.accept("C2", "2026-09-24T10:02")
    feed.flush()
    registry = Registry()
    registry.add_collector(lambda: supervision_collector(svc))
    text = registry.render()
    assert "xiaoneng_supervision_backlog_records 2" in text
    svc.step()
    run(svc, clock, "2026-10-10T00:00:01")
    text = registry.render()
    assert "xiaoneng_supervision_backlog_records 0" in text and "xiaoneng_supervision_records_total 2" in text
    assert 'xiaoneng_supervision_cards_raised_total{level="yellow"} 2' in text
    assert 'xiaoneng_supervision_open_cases{status="yellow"} 2' in text
    svc.stop()
