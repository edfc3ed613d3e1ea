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
    done = api("mon", "POST", f"/api/v1/alerts/{card_id}/actions", json={"action": "supervise", "note": "限期三日"})
    assert done.status_code == 200, done.json
    assert done.json["state"] == "notified"
    assert api("lead", "POST", f"/api/v1/alerts/{card_id}/actions", json={"action": "close"}).status_code == 403
    ranking = api("mon", "GET", "/api/v1/rankings?period=2026-11&kind=department").json["items"]
    assert [(r["code"], r["grade"]) for r in ranking] == [("D02", "优秀"), ("D01", "合格")]
    report = api("mon", "GET", "/api/v1/reports/2026-11")
    assert report.status_code == 200 and report.json["totals"]["accepted"] == 5
    pdf = api("mon", "GET", "/api/v1/reports/2026-11/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    overview = api("mon", "GET", "/api/v1/overview").json
    assert overview["supervision"]["accepted_month"] == 5
