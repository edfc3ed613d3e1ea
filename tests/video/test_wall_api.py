"""The wall's page and API (no browser): cameras from the agents' heartbeats, signalling errors,
with a scripted relay in place of the real one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.auth import connect, create_user, ensure_schema
from hub.video.errors import AgentTimeout, UnknownCamera, VideoError
from hub.web.app import create_app
from hub.web.blueprints.video import EXTENSION
from hub.web.events import EventBus
from hub.web.metrics import Registry
from hub.web.queries.video import camera_state
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
