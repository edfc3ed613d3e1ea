"""The case page's evidence download: the package of the case, checked offline; in scope only."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import zipfile
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.auth import ScryptParams, connect, create_user, ensure_schema
from hub.web.app import create_app, shutdown
from hub.web.metrics import Registry
from provisioning.hubkey import KEY_FILE, load_or_create_key
from shared.checkpoint import sign_checkpoint
from shared.evidence import verify_package
from tests.supervision.conftest import Month
from tests.supervision.helpers import AGENT_KEY

FAST = ScryptParams(n=2**8, r=8, p=1)
PASSWORD = "a long enough password"


@pytest.fixture
def web(month: Month) -> Any:
    hub_key = load_or_create_key(month.db.parent / KEY_FILE)
    size, root = month.store.frontier.size, month.store.frontier.root()
    cp = sign_checkpoint(hub_key, "test-hub", size, root, "2026-11-12T09:00:00+08:00")
    with month.store.transaction() as st:
        st.add_checkpoint(size, root, json.dumps(cp.to_json()), cp.timestamp)
    conn = connect(month.db)
    ensure_schema(conn)
    conn.execute("CREATE TABLE IF NOT EXISTS agents (agent_id TEXT PRIMARY KEY, public_key BLOB NOT NULL)")
    for (agent,) in conn.execute("SELECT DISTINCT agent_id FROM records").fetchall():
        conn.execute("INSERT INTO agents VALUES (?, ?)", (agent, AGENT_KEY.public_key().public_bytes_raw()))
    conn.commit()
    for user, role, dept in (("mon", "monitor", None), ("d02", "department", "D02")):
        create_user(conn, user, PASSWORD, role, dept_code=dept, params=FAST)
    conn.close()
    app = create_app({"database": month.db, "secret_key": "s" * 32}, supervision=month.provider, testing=True,
                     metrics=Registry(), clock=month.clock, scrypt=FAST)

    def login(user: str) -> Any:
        client: FlaskClient = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, "no CSRF token on the login page"
        form = {"username": user, "password": PASSWORD, "csrf_token": match.group(1)}
        assert client.post("/login", data=form).status_code == 302
        return client.get

    yield login, hub_key
    shutdown(app)


def test_case_page_links_a_package_that_verifies_offline(web: Any, month: Month) -> None:
    login, hub_key = web
    get = login("mon")
    page = get("/cases/D")
    assert page.status_code == 200
    assert 'href="/cases/D/evidence.zip"' in page.text and "下载证据包" in page.text
    got = get("/cases/D/evidence.zip")
    assert got.status_code == 200 and got.mimetype == "application/zip"
    assert 'filename="evidence-D.zip"' in got.headers["Content-Disposition"]
    report = verify_package(got.data, hub_key.public_key().public_bytes_raw())
    assert report.ok and report.case_id == "D" and report.case_records >= 2, report.problems
    with zipfile.ZipFile(io.BytesIO(got.data)) as zf:
        assert "案件 D" in zf.read("summary.txt").decode()
    conn = sqlite3.connect(month.db)
    assert conn.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'case.evidence' AND target = 'D'"
                        ).fetchone()[0] == 1
    conn.close()


def test_evidence_download_keeps_the_department_scope(web: Any) -> None:
    login, _ = web
    get = login("d02")
    assert get("/cases/D/evidence.zip").status_code == 404  # another department's case
    assert get("/cases/E/evidence.zip").status_code == 200
