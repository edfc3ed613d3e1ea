"""The wall's page and API (no browser): cameras from the agents' heartbeats, signalling errors,
with a scripted relay in place of the real one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.auth import connect, create_user, ensure_schema, list_audit
from hub.video.errors import AgentTimeout, SnapshotMismatch, SnapshotMissing, UnknownCamera, VideoError
from hub.web.app import create_app
from hub.web.blueprints.video import EXTENSION
from hub.web.events import EventBus
from hub.web.metrics import Registry
from hub.web.queries.video import camera_state
from shared.canonical import canonical
from shared.record import record_hash
from tests.web.conftest import FAST, PASSWORD, FakeClock, login, page_csrf, seed

SDP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n"
CAMERAS = [
    {"camera_id": "cam1", "hall_id": "hall-a", "windows": ["W01", "W02"], "feed": "ok", "reason": "receiving frames"},
    {"camera_id": "cam2", "hall_id": "hall-a", "windows": [], "feed": "stale", "reason": "frozen"},
]


class ScriptedRelay:
    """Answers watch() as told; remembers the calls."""

    def __init__(self) -> None:
        self.error: VideoError | None = None
        self.calls: list[tuple[str, str, str]] = []
        self.left: list[str] = []

    def watch(self, agent_id: str, camera_id: str, offer_sdp: str, *, user: str = "",
              known_online: bool = False) -> tuple[str, str]:
        assert known_online  # the web layer has just read the agent's state: online
        self.calls.append((agent_id, camera_id, user))
        if self.error is not None:
            raise self.error
        return "viewer-0001", "v=0\r\nanswer\r\n"

    def leave(self, viewer_id: str) -> bool:
        self.left.append(viewer_id)
        return True

    def stats(self) -> dict[str, Any]:
        return {"running": True, "viewers": 2, "streams": [
            {"agent_id": "agent-ok", "camera_id": "cam1", "state": "live", "viewers": 2}]}


@pytest.fixture
def app_and_db(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    db = tmp_path / "hub.sqlite"
    conn = connect(db)
    ensure_schema(conn)
    seed(conn)
    health = {"agent": "agent-ok", "cameras": CAMERAS}
    conn.execute("UPDATE agent_link SET health_json = ? WHERE agent_id = 'agent-ok'", (json.dumps(health),))
    conn.execute("UPDATE agent_link SET health_json = ? WHERE agent_id = 'agent-down'",
                 (json.dumps({"cameras": [{"camera_id": "camB", "hall_id": "hall-b", "feed": "ok"}]}),))
    conn.commit()
    for role in ("monitor", "telecom"):
        create_user(conn, f"{role}-user", PASSWORD, role, params=FAST)
    conn.close()
    bus = EventBus()
    app = create_app({"database": str(db), "secret_key": "test-secret-key-0123456789"}, bus=bus,
                     metrics=Registry(), clock=FakeClock(), scrypt=FAST, testing=True)
    yield app, db
    bus.close()


def signed_in(app: Any, role: str = "monitor") -> FlaskClient:
    client = app.test_client()
    assert login(client, f"{role}-user").status_code == 302
    return client


def watch(client: FlaskClient, **body: Any) -> Any:
    payload = {"agent_id": "agent-ok", "camera_id": "cam1", "type": "offer", "sdp": SDP, **body}
    return client.post("/api/v1/video/watch", json=payload, headers={"X-CSRF-Token": page_csrf(client)})


def test_cameras_come_from_the_heartbeats_with_their_badges(app_and_db: tuple[Any, Path]) -> None:
    app, _db = app_and_db
    client = signed_in(app)
    wall = client.get("/api/v1/video/cameras").get_json()
    assert wall["available"] is False
    halls = {h["site_id"]: h for h in wall["halls"]}
    assert set(halls) == {"hall-a", "hall-b"} and halls["hall-a"]["name"] == "市民中心大厅"
    cams = {c["camera_id"]: c for h in wall["halls"] for c in h["cameras"]}
    assert cams["cam1"]["state"] == "ok" and cams["cam1"]["windows"] == ["W01", "W02"]
    assert cams["cam2"]["state"] == "stale"
    assert cams["camB"]["state"] == "offline"  # agent-down is offline: its cameras cannot be seen
    app.extensions[EXTENSION] = ScriptedRelay()
    cams = {c["camera_id"]: c for h in client.get("/api/v1/video/cameras").get_json()["halls"] for c in h["cameras"]}
    assert cams["cam1"]["viewers"] == 2 and cams["cam1"]["streaming"] and not cams["cam2"]["streaming"]
    page = client.get("/video").get_data(as_text=True)
    assert 'id="video-wall"' in page and "cam1" in page and "<script>" not in page


def test_camera_state() -> None:
    assert camera_state(False, 5, "ok", 90) == "offline"
    assert camera_state(True, None, "ok", 90) == "silent"
    assert camera_state(True, 91, "ok", 90) == "silent"
    assert [camera_state(True, 5, f, 90) for f in ("ok", "stale", "dead", "weird")] == ["ok", "stale", "dead", "dead"]


def test_watch_passes_the_offer_to_the_relay(app_and_db: tuple[Any, Path]) -> None:
    app, _db = app_and_db
    relay = app.extensions[EXTENSION] = ScriptedRelay()
    client = signed_in(app)
    response = watch(client)
    assert response.status_code == 200
    assert response.get_json() == {"viewer_id": "viewer-0001", "type": "answer", "sdp": "v=0\r\nanswer\r\n"}
    assert relay.calls == [("agent-ok", "cam1", "monitor-user")]
    conn = connect(_db)
    try:
        (entry,), _total = list_audit(conn, action="video.watch")
    finally:
        conn.close()
    assert (entry.username, entry.target, entry.detail["viewer"]) == ("monitor-user", "agent-ok/cam1", "viewer-0001")
    left = client.post("/api/v1/video/leave", json={"viewer_id": "viewer-0001"},
                       headers={"X-CSRF-Token": page_csrf(client)})
    assert left.get_json() == {"left": True} and relay.left == ["viewer-0001"]


@pytest.mark.parametrize(("body", "status", "error"), [
    ({"sdp": "hello"}, 400, "bad_request"),
    ({"type": "answer"}, 400, "bad_request"),
    ({"camera_id": "../etc"}, 400, "bad_request"),
    ({"agent_id": "ghost"}, 404, "unknown_agent"),
    ({"agent_id": "agent-old"}, 404, "unknown_agent"),  # revoked
    ({"agent_id": "agent-down"}, 503, "agent_offline"),
])
def test_watch_refuses_what_cannot_work(app_and_db: tuple[Any, Path], body: dict[str, str], status: int,
                                        error: str) -> None:
    app, _db = app_and_db
    relay = app.extensions[EXTENSION] = ScriptedRelay()
    response = watch(signed_in(app), **body)
    assert (response.status_code, response.get_json()["error"]) == (status, error)
    assert relay.calls == []


@pytest.mark.parametrize(("raised", "status", "error"), [
    (AgentTimeout("agent agent-ok did not answer within 10 s"), 503, "agent_timeout"),
    (UnknownCamera("agent agent-ok: unknown_camera: no camera 'cam1'"), 404, "unknown_camera"),
])
def test_relay_errors_reach_the_browser(app_and_db: tuple[Any, Path], raised: VideoError, status: int,
                                        error: str) -> None:
    app, _db = app_and_db
    relay = app.extensions[EXTENSION] = ScriptedRelay()
    relay.error = raised
    response = watch(signed_in(app))
    assert response.status_code == status
    assert response.get_json() == {"error": error, "detail": raised.detail}


def test_without_a_relay_watch_is_unavailable_and_others_are_refused(app_and_db: tuple[Any, Path]) -> None:
    app, _db = app_and_db
    response = watch(signed_in(app))
    assert (response.status_code, response.get_json()["error"]) == (503, "video_unavailable")
    telecom = signed_in(app, "telecom")
    assert watch(telecom).status_code == 403
    assert telecom.get("/api/v1/video/cameras").status_code == 403
    anonymous = app.test_client()
    assert anonymous.post("/api/v1/video/watch", json={}).status_code == 401


class SnapshotRelay(ScriptedRelay):
    """A relay whose snapshot fetcher returns what it is told (bytes, or an error)."""

    def __init__(self, answer: bytes | VideoError) -> None:
        super().__init__()
        self.answer = answer
        self.asked: list[tuple[str, str]] = []
        self.snapshots = self

    def fetch(self, agent_id: str, ref: str, timeout: float = 10.0) -> bytes:
        self.asked.append((agent_id, ref))
        if isinstance(self.answer, VideoError):
            raise self.answer
        return self.answer


JPEG = b"\xff\xd8 a snapshot \xff\xd9"
REF = hashlib.sha256(JPEG).hexdigest()


def _presence_record(db: Path, agent_id: str = "agent-ok", *, altered: bool = False) -> int:
    raw = canonical({"seq": 5, "type": "presence.absent", "ts": "2026-03-02T09:00:00+08:00",
                     "body": {"window_id": "W01", "camera_id": "cam1", "snapshot_ref": REF}})
    conn = connect(db)
    try:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(records)")]
        if "raw" not in columns:
            conn.execute("ALTER TABLE records ADD COLUMN raw BLOB")
        cur = conn.execute("INSERT INTO records(agent_id, stream_id, seq, hash, type, ts, received_at, raw) "
                           "VALUES (?, 's1', 5, ?, 'presence.absent', '2026-03-02T09:00:00+08:00', "
                           "'2026-03-02T09:00:01+08:00', ?)",
                           (agent_id, record_hash(raw), raw.replace(b"W01", b"W02") if altered else raw))
        conn.commit()
        return int(cur.lastrowid or 0)
    finally:
        conn.close()


def test_the_snapshot_behind_a_presence_record_is_served_and_audited(app_and_db: tuple[Any, Path]) -> None:
    app, db = app_and_db
    relay = app.extensions[EXTENSION] = SnapshotRelay(JPEG)
    record_id = _presence_record(db)
    client = signed_in(app)
    response = client.get(f"/video/snapshot/{record_id}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg" and response.data == JPEG
    assert response.headers["X-Snapshot-SHA256"] == REF
    assert relay.asked == [("agent-ok", REF)]
    conn = connect(db)
    try:
        (entry,), _total = list_audit(conn, action="video.snapshot")
    finally:
        conn.close()
    assert entry.username == "monitor-user" and entry.target == f"record/{record_id}"
    assert entry.detail["outcome"] == "shown" and entry.detail["ref"] == REF


@pytest.mark.parametrize(("answer", "status", "words"), [
    (SnapshotMismatch("the snapshot agent agent-ok sent does not match the signed record"), 502, "哈希不一致"),
    (SnapshotMissing("agent agent-ok: no snapshot"), 404, "已没有这张抓拍"),
    (AgentTimeout("agent agent-ok did not send snapshot"), 503, "未在 10 秒内发来抓拍"),
])
def test_a_snapshot_that_cannot_be_shown_says_why(app_and_db: tuple[Any, Path], answer: VideoError, status: int,
                                                  words: str) -> None:
    app, db = app_and_db
    app.extensions[EXTENSION] = SnapshotRelay(answer)
    record_id = _presence_record(db)
    response = signed_in(app).get(f"/video/snapshot/{record_id}")
    assert response.status_code == status and words in response.get_data(as_text=True)


def test_no_snapshot_from_an_offline_agent_or_an_altered_record(app_and_db: tuple[Any, Path]) -> None:
    app, db = app_and_db
    relay = app.extensions[EXTENSION] = SnapshotRelay(JPEG)
    client = signed_in(app)
    offline = client.get(f"/video/snapshot/{_presence_record(db, 'agent-down')}")
    assert offline.status_code == 503 and "采集点离线" in offline.get_data(as_text=True)
    altered = client.get(f"/video/snapshot/{_presence_record(db, altered=True)}")
    assert altered.status_code == 409 and "账本哈希不一致" in altered.get_data(as_text=True)
    assert client.get("/video/snapshot/999999").status_code == 404
    assert relay.asked == []  # the agent is not even asked
