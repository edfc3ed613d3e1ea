"""The web's SupervisionQueries as the provider answers them: scope, filters, clock, scores."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from hub.engine.cards import InvalidTransition
from hub.supervision.queries import SupervisionProvider
from hub.web.pagination import PageRequest
from tests.supervision.conftest import Month
from tests.support.wait import wait_until

P = PageRequest(1, 50)


@pytest.fixture
def conn(month: Month) -> Iterator[sqlite3.Connection]:
    c = sqlite3.connect(month.db)
    c.row_factory = sqlite3.Row  # what the web's connections use
    yield c
    c.close()


def ids(page: object) -> list[str]:
    return [i["case_id"] for i in page.items]  # type: ignore[attr-defined]


def test_overview_comes_from_the_aggregates(month: Month, conn: sqlite3.Connection) -> None:
    month.clock.set("2026-11-10T18:00")
    figures = month.provider.overview(conn, None)
    assert figures["completed_today"] == 1 and figures["accepted_month"] == 5 and figures["completed_month"] == 5
    assert figures["on_time_rate"] == 0.0  # D, the one completed on 11-10, was overdue
    assert figures["on_time_rate_month"] == 0.8
    assert figures["open"] == 0 and figures["overdue"] == 0
    assert month.provider.overview(conn, "D02")["accepted_month"] == 1


def test_cases_filters_scope_and_pagination(month: Month, conn: sqlite3.Connection) -> None:
    p = month.provider
    everything = p.cases(conn, {}, None, P)
    assert ids(everything) == ["E", "D", "C", "B", "A"] and everything.total == 5
    assert ids(p.cases(conn, {}, "D02", P)) == ["E"]
    assert ids(p.cases(conn, {"dept": "D01"}, "D02", P)) == []  # a department never sees another's
    assert ids(p.cases(conn, {"item": "I02"}, None, P)) == ["E"]
    assert ids(p.cases(conn, {"window": "W01", "status": "completed"}, None, P)) == ["D", "C", "B", "A"]
    assert ids(p.cases(conn, {"q": "税务登记"}, None, P)) == ["E"]  # trigram full text
    assert ids(p.cases(conn, {"q": "C"}, None, P)) == ["C"]  # short: case number prefix
    assert ids(p.cases(conn, {"from": "2026-11-03"}, None, P)) == []
    for odd in ('\x00{ +\\}b ', '"税务"登记', "NEAR(a b)", "%_\\"):  # full-text syntax is never interpreted
        assert p.cases(conn, {"q": odd}, None, P).total == 0
    second = p.cases(conn, {}, None, PageRequest(2, 2))
    assert ids(second) == ["C", "B"] and second.total == 5 and second.pages == 3


def test_one_case_has_its_clock_timeline_and_cards(month: Month, conn: sqlite3.Connection) -> None:
    case = month.provider.case(conn, "D", None)
    assert case is not None
    assert (case["status"], case["outcome"], case["due_date"], case["dept_name"]) == (
        "completed", "overdue", "2026-11-09", "市场监管局")
    clock = case["clock"]
    assert clock["counted_days"] == 6 and clock["limit"] == 5 and clock["unit"] == "G"  # 11-03 … 11-10
    assert clock["overdue_days"] == 1 and clock["pauses"] == []
    assert [e["type"] for e in case["timeline"]] == ["case.accepted", "case.completed"]
    assert all(e["verified"] and len(e["hash"]) == 64 for e in case["timeline"])
    assert [c["rule"] for c in case["cards"]] == ["R1", "R2"]
    assert month.provider.case(conn, "D", "D02") is None
    conn.execute("UPDATE records SET raw = replace(raw, '10:30', '11:30') WHERE id = 4")
    tampered = month.provider.case(conn, "D", None)
    assert tampered is not None and tampered["timeline"][0]["verification"] == "failed" and not tampered["verified"]


def test_alerts_card_and_actions_in_scope(month: Month, conn: sqlite3.Connection) -> None:
    p = month.provider
    page = p.alerts(conn, {"level": "yellow"}, None, P)
    # D's R2 was put right by D's completion two hours after the card: rectified by the fact
    assert [(c["rule"], c["case_id"], c["state"]) for c in page.items] == [("R2", "D", "rectified")]
    card_id = page.items[0]["card_id"]
    assert p.alerts(conn, {}, "D02", P).total == 0
    assert p.card(conn, card_id, "D02") is None
    with pytest.raises(InvalidTransition):
        p.act(card_id, "supervise", "monitor1", "限期整改", month.clock())  # nothing left to 督办
    with pytest.raises(LookupError):
        p.act("card-0000", "close", "monitor1", "", month.clock())
    detail = p.card(conn, card_id, "D01")
    assert detail is not None and [h["action"] for h in detail["history"]] == ["rectify"]
    assert detail["history"][0]["actor"] == "system"
    assert detail["evidence_records"][0]["type"] == "case.accepted"
    assert detail["allowed"] == ["close"]
    after = p.act(card_id, "close", "monitor1", "已核实办结", month.clock())
    assert after["state"] == "closed" and after["actions"][-1]["actor"] == "monitor1"


def test_hand_computed_scores_through_the_provider(month: Month, conn: sqlite3.Connection) -> None:
    """D01: 4 cases completed (A, B early; C on its due date; D overdue), D's R2 yellow card, ratings 1 and 5.

    timeliness 30 × 3/4 + 10 × 2/4 = 27.5, minus 100 × 3 / 20 (n = 4, at least 20) = 15 → 12.5;
    conformity 15, fees 10, complaints 15 (none), satisfaction 20 × 1/2 (one of two ratings is 1–3)
    = 10 → 62.5 合格. D02: one early case, nothing else → 100 优秀. Window W01 (timeliness,
    conformity, satisfaction): (12.5 + 15 + 10) / 75 = 50.0.
    """
    rows = month.provider.rankings(conn, "2026-11", "department", None)
    assert [(r["rank"], r["code"], r["name"], r["score"], r["grade"]) for r in rows] == [
        (1, "D02", "税务局", 100.0, "优秀"), (2, "D01", "市场监管局", 62.5, "合格")]
    d01 = rows[1]
    assert d01["blocks"] == {"timeliness": 12.5, "conformity": 15.0, "fees": 10.0, "complaints": 15.0,
                             "satisfaction": 10.0}
    assert d01["counts"] == {
        "cases_completed": 4, "on_time": 3, "early": 2, "divisor": 20, "cards": {"R2": {"yellow": 1}},
        "yellow": 1, "red": 0, "complaints": {"filed": 0, "judged": 0, "answered_on_time": 0, "substantiated": 0},
        "ratings": {"1": 1, "5": 1},
    }  # fmt: skip
    lost = [(d["block"], d["kind"], d["rule"], d["count"], d["points"], d["basis"]) for d in d01["deductions"]]
    assert lost == [("timeliness", "on_time", None, 1, 7.5, "30 × 1 ÷ 4"),
                    ("timeliness", "early", None, 2, 5.0, "10 × 2 ÷ 4"),
                    ("timeliness", "cards", "R2", 1, 15.0, "100 × 1 × 3 ÷ 20"),
                    ("satisfaction", "ratings", None, 1, 10.0, "20 × 1 ÷ 2")]  # fmt: skip
    assert sum(d["points"] for d in d01["deductions"]) == 100 - 62.5
    windows = month.provider.rankings(conn, "2026-Q4", "window", None)
    assert [(r["code"], r["score"], r["dept_name"]) for r in windows] == [("W02", 100.0, "税务局"),
                                                                          ("W01", 50.0, "市场监管局")]
    assert [r["code"] for r in month.provider.rankings(conn, "2026-11", "department", "D01")] == ["D01"]
    assert month.provider.rankings(conn, "2026-10", "department", None) == []


def test_report_data_in_scope(month: Month, conn: sqlite3.Connection) -> None:
    report = month.provider.report(conn, "2026-11", None)
    assert report is not None
    assert report["totals"]["accepted"] == 5 and report["totals"]["completed"] == 5
    assert report["totals"]["overdue"] == 1 and report["rates"]["on_time_rate"] == 0.8
    assert report["ratings"]["bad"] == 1 and report["ratings"]["distribution"][0]["count"] == 1
    assert [d["name"] for d in report["departments"]] == ["税务局", "市场监管局"]
    own = month.provider.report(conn, "2026-11", "D02")
    assert own is not None and own["totals"]["accepted"] == 1 and [d["code"] for d in own["departments"]] == ["D02"]
    assert [w["code"] for w in own["windows"]] == ["W02"]
    assert month.provider.report(conn, "2026-08", None) is None


def test_rankings_answer_stale_then_refresh_in_the_background(month: Month, conn: sqlite3.Connection) -> None:
    provider = SupervisionProvider(month.service, clock=month.clock, cache_s=0)
    first = provider.rankings(conn, "2026-11", "department", None)
    assert [r["code"] for r in first] == ["D02", "D01"]
    month.feed.accept("F", "2026-11-12T09:00", dept="D03", dept_name="公安局")
    month.feed.complete("F", "2026-11-12T09:30")
    month.feed.flush()
    month.service.step()
    assert [r["code"] for r in provider.rankings(conn, "2026-11", "department", None)] == ["D02", "D01"]  # stale
    fresh = wait_until(lambda: [r["code"] for r in provider.rankings(conn, "2026-11", "department", None)
                                if r["code"] == "D03"], 10)
    assert fresh == ["D03"]
    wait_until(lambda: not provider._busy, 10)


def test_case_search_tries_the_case_number_first(month: Month, conn: sqlite3.Connection) -> None:
    p = month.provider
    exact = p.cases(conn, {"q": "C"}, None, P)
    assert ids(exact) == ["C"] and exact.total == 1 and not exact.total_is_estimate
    conn.execute("UPDATE cases SET case_id = 'CX-1' WHERE case_id = 'A'")  # a number that extends "C"
    conn.execute("UPDATE cases SET case_id = 'CX-2' WHERE case_id = 'B'")
    conn.commit()
    prefix = p.cases(conn, {"q": "C"}, None, P)
    assert ids(prefix) == ["C", "CX-1", "CX-2"] and prefix.total == 3  # case-number order: exact first
    assert ids(p.cases(conn, {"q": "CX-"}, None, P)) == ["CX-1", "CX-2"]
    assert ids(p.cases(conn, {"q": "CX-"}, "D02", P)) == []  # the scope still applies
    assert ids(p.cases(conn, {"q": "C", "status": "completed"}, None, PageRequest(2, 2))) == ["CX-2"]


def test_case_search_falls_back_to_the_full_text_index(month: Month, conn: sqlite3.Connection) -> None:
    p = month.provider
    found = p.cases(conn, {"q": "税务登记"}, None, P)  # no case number starts so: the trigram index
    assert ids(found) == ["E"] and found.total == 1 and not found.total_is_estimate
    assert ids(p.cases(conn, {"q": "税务登记"}, "D01", P)) == []  # filters are checked on each match
    everyone = conn.execute("SELECT case_id FROM cases ORDER BY rowid DESC").fetchall()
    text = conn.execute("SELECT text FROM cases_fts WHERE rowid = (SELECT rowid FROM cases WHERE case_id = 'A')"
                        ).fetchone()[0]  # fmt: skip
    common = next(text[i:i + 3] for i in range(len(text) - 2)
                  if p.cases(conn, {"q": text[i:i + 3]}, None, P).total == len(everyone))  # fmt: skip
    all_of_them = p.cases(conn, {"q": common}, None, P)
    assert ids(all_of_them) == [r[0] for r in everyone]  # newest stored first (the index's rowid)
    assert ids(p.cases(conn, {"q": common}, None, PageRequest(2, 2))) == [r[0] for r in everyone][2:4]


def test_a_search_total_is_capped_and_flagged(month: Month, conn: sqlite3.Connection,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from hub.supervision import caseviews

    monkeypatch.setattr(caseviews, "SEARCH_COUNT_CAP", 2)
    text = conn.execute("SELECT text FROM cases_fts LIMIT 1").fetchone()[0]
    common = next(text[i:i + 3] for i in range(len(text) - 2)
                  if conn.execute("SELECT count(*) FROM cases_fts WHERE text LIKE ?",
                                  (f"%{text[i:i + 3]}%",)).fetchone()[0] == 5)  # fmt: skip
    capped = month.provider.cases(conn, {"q": common}, None, P)  # matches all 5 cases
    assert capped.total == 2 and capped.total_is_estimate and len(capped.items) == 5
    assert capped.envelope()["total_is_estimate"] is True
