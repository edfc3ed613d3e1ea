"""The provider plugged into the real web app: the API answers from the supervision, in scope."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.auth import ScryptParams, connect, create_token, create_user, ensure_schema
from hub.web.app import create_app, shutdown
from hub.web.metrics import Registry
from tests.supervision.conftest import Month

FAST = ScryptParams(n=2**8, r=8, p=1)


@pytest.fixture
def api(month: Month) -> Any:
    conn = connect(month.db)
    ensure_schema(conn)
    tokens = {}
    for user, role, dept in (("mon", "monitor", None), ("d02", "department", "D02"), ("lead", "leader", None)):
        create_user(conn, user, "a long enough password", role, dept_code=dept, params=FAST)
        tokens[user] = create_token(conn, user, "test")[0]
    conn.close()
    app = create_app({"database": month.db, "secret_key": "s" * 32}, supervision=month.provider, testing=True,
                     metrics=Registry(), clock=month.clock, scrypt=FAST)

    def call(user: str, method: str, path: str, **kw: Any) -> Any:
        client: FlaskClient = app.test_client()
        return client.open(path, method=method, headers={"Authorization": f"Bearer {tokens[user]}"}, **kw)

    call.app = app  # type: ignore[attr-defined]
    yield call
    shutdown(app)


def test_api_answers_from_the_supervision_in_the_callers_scope(api: Any) -> None:
    cases = api("mon", "GET", "/api/v1/cases?per_page=2")
    assert cases.status_code == 200 and cases.json["total"] == 5 and len(cases.json["items"]) == 2
    own = api("d02", "GET", "/api/v1/cases")
    assert [c["case_id"] for c in own.json["items"]] == ["E"]
    assert api("d02", "GET", "/api/v1/cases/D").status_code == 404
    case = api("mon", "GET", "/api/v1/cases/D")
    assert case.status_code == 200 and case.json["clock"]["overdue_days"] == 1
    alerts = api("mon", "GET", "/api/v1/alerts?level=yellow").json["items"]
    assert [a["rule"] for a in alerts] == ["R2"]
    assert api("d02", "GET", "/api/v1/alerts").json["total"] == 0
    card_id = alerts[0]["card_id"]
    refused = api("mon", "POST", f"/api/v1/alerts/{card_id}/actions", json={"action": "supervise", "note": "限期三日"})
    assert refused.status_code == 400 and "rectified" in refused.json["detail"]  # D is done: put right
    done = api("mon", "POST", f"/api/v1/alerts/{card_id}/actions", json={"action": "close", "note": "已核实"})
    assert done.status_code == 200, done.json
    assert done.json["state"] == "closed"
    assert api("lead", "POST", f"/api/v1/alerts/{card_id}/actions", json={"action": "close"}).status_code == 403
    ranking = api("mon", "GET", "/api/v1/rankings?period=2026-11&kind=department").json["items"]
    assert [(r["code"], r["grade"]) for r in ranking] == [("D02", "优秀"), ("D01", "合格")]
    report = api("mon", "GET", "/api/v1/reports/2026-11")
    assert report.status_code == 200 and report.json["totals"]["accepted"] == 5
    pdf = api("mon", "GET", "/api/v1/reports/2026-11/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    overview = api("mon", "GET", "/api/v1/overview").json
    assert overview["supervision"]["accepted_month"] == 5


def test_a_retracted_card_shows_why_on_the_api_and_the_card_page(api: Any, month: Month) -> None:
    """Case F's completion reaches the hub after its R2 was raised: the card is withdrawn by the
    system, the API and the card page say so, and the department's ranking no longer counts it."""
    month.feed.accept("F", "2026-11-02T11:30", dept="D02", dept_name="税务局", window="W02", staff="S02",
                      item="I02", item_name="税务登记")
    month.feed.flush()
    month.clock.set("2026-11-12T09:00:05")
    month.service.step()
    (card,) = [a for a in api("mon", "GET", "/api/v1/alerts?level=yellow").json["items"] if a["case_id"] == "F"]
    assert card["rule"] == "R2" and card["state"] == "raised"
    month.feed.complete("F", "2026-11-09T15:00")  # on its due date, reported three days late
    month.feed.flush()
    month.clock.set("2026-11-12T09:00:10")
    month.service.step()
    after = api("mon", "GET", f"/api/v1/alerts/{card['card_id']}").json
    assert after["state"] == "withdrawn"
    assert after["history"][-1]["action"] == "retract" and after["history"][-1]["actor"] == "system"
    assert "未超期" in after["history"][-1]["note"]
    from tests.web.conftest import login

    browser = api.app.test_client()
    assert login(browser, "mon", "a long enough password").status_code == 302
    page = browser.get(f"/cards/{card['card_id']}")
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    assert "系统撤销" in html and "未超期" in html
    ranking = api("mon", "GET", "/api/v1/rankings?period=2026-11&kind=department").json["items"]
    assert ("D02", "优秀") in [(r["code"], r["grade"]) for r in ranking]


def test_ranking_counts_are_the_ones_the_deductions_were_computed_from(api: Any) -> None:
    """Per department: cases, standing cards per rule, complaints and ratings that recompute every block,
    the card counts equal to the standing cards of the cards list, each group of cards linked to it."""
    from tests.engine.test_scoring import recompute

    items = api("lead", "GET", "/api/v1/rankings?period=2026-11&kind=department").json["items"]
    assert [r["code"] for r in items] == ["D02", "D01"]
    for row in items:
        counts = row["counts"]
        assert row["blocks"] == pytest.approx(recompute(counts, row["blocks"].keys()), abs=0.01)
        grouped = [d for d in row["deductions"] if d["kind"] == "cards"]
        for level in ("yellow", "red"):
            assert counts[level] == sum(d["count"] for d in grouped if d["level"] == level)
            cards = api("mon", "GET", f"/api/v1/alerts?dept={row['code']}&level={level}&per_page=200").json["items"]
            assert counts[level] == sum(1 for c in cards if c["state"] not in ("appealed", "withdrawn"))
        for d in grouped:
            assert counts["cards"][d["rule"]][d["level"]] == d["count"]
            assert d["cards_url"] == f"/cards?dept={row['code']}&rule={d['rule']}&month=2026-11&standing=1"
        assert all(d["cards_url"] is None for d in row["deductions"] if d["kind"] != "cards")
    d01 = items[1]
    assert (d01["counts"]["cases_completed"], d01["counts"]["yellow"], d01["blocks"]["timeliness"]) == (4, 1, 12.5)
