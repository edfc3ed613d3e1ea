"""The cameras wired into an agent: records into the outbox, the heartbeat, signalling over the
uplink — with the real pipeline (synthetic camera) and a stand-in uplink and outbox."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.camera.config import load_profile
from agent.camera.service import HEARTBEAT_REASON_CHARS, CameraService
from agent.camera.watchdog import FeedState, FeedStatus
from hub.control import MAX_CONTROL_BYTES, parse_health
from shared import topics
from shared.errors import OutboxFullError
from shared.rtcsignal import Closed, Keepalive, parse_up

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "firmware_configs" / "cameras" / "demo-hall-cam1.yaml"


class FakeUplink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, int]] = []
        self.handlers: list[tuple[str, Callable[[str, bytes], None]]] = []
        self.providers: list[Callable[[], dict[str, Any]]] = []
        self.lock = threading.Lock()

    def publish_side(self, topic: str, payload: bytes, qos: int = 0) -> None:
        with self.lock:
            self.sent.append((topic, payload, qos))

    def on_topic(self, prefix: str, handler: Callable[[str, bytes], None]) -> None:
        self.handlers.append((prefix, handler))

    def add_health_provider(self, provider: Callable[[], dict[str, Any]]) -> None:
        self.providers.append(provider)

    def deliver(self, topic: str, payload: bytes) -> None:
        for prefix, handler in self.handlers:
            if topic.startswith(prefix):
                handler(topic, payload)


class FakeOutbox:
    def __init__(self, full: bool = False) -> None:
        self.records: list[tuple[str, str, dict[str, Any]]] = []
        self.full = full
        self.lock = threading.Lock()

    def append(self, type_: str, ts: str, body: dict[str, Any]) -> int:
        if self.full:
            raise OutboxFullError("outbox full (test)")
        with self.lock:
            self.records.append((type_, ts, body))
            return len(self.records)

    def types(self) -> list[str]:
        with self.lock:
            return [t for t, _ts, _b in self.records]


def wait_for(condition: Callable[[], Any], timeout: float) -> Any:
    from tests.support.wait import wait_until

    return wait_until(condition, timeout, message="condition not met")


def dead_profile(tmp_path: Path) -> Path:
    raw = yaml.safe_load(DEMO.read_text())
    raw.update(camera_id="cam-dead", source={"kind": "file", "path": str(tmp_path / "missing.mp4")})
    path = tmp_path / "dead.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_cameras_feed_records_heartbeat_and_signalling(tmp_path: Path) -> None:
    uplink, outbox = FakeUplink(), FakeOutbox()
    profiles = [load_profile(DEMO), load_profile(dead_profile(tmp_path))]
    service = CameraService("agent-1", profiles, tmp_path / "snapshots", outbox, uplink, lease_s=5)
    service.start()
    try:
        assert [p for p, _h in uplink.handlers] == [topics.rtc("agent-1", "down/")]
        # presence decisions of the synthetic hall become records
        wait_for(lambda: "presence.present" in outbox.types(), 20)
        # the heartbeat lists both cameras with their feed state
        health = wait_for(lambda: (h := uplink.providers[0]()) and h["cameras"][0]["feed"] == "ok" and h, 10)
        cams = {c["camera_id"]: c for c in health["cameras"]}
        assert cams["demo-hall-cam1"]["hall_id"] == "demo-hall"
        assert cams["demo-hall-cam1"]["windows"] == ["W01", "W02", "W03"]
        assert "streaming" not in cams["demo-hall-cam1"]  # only when true (compact heartbeat)
        wait_for(lambda: uplink.providers[0]()["cameras"][1]["feed"] == "dead", 10)
        # each feed state change is recorded once (not every failed reconnection of the dead one)
        feeds = wait_for(lambda: [b for t, _ts, b in outbox.records if t == "agent.health"], 10)
        assert {(b["camera_id"], b["feed"]) for b in feeds} >= {("demo-hall-cam1", "ok"), ("cam-dead", "dead")}
        assert len(feeds) == len({(b["camera_id"], b["feed"]) for b in feeds})
        assert all(b["kind"] == "camera_feed" for b in feeds)
        # a keepalive for a session the agent does not know is answered "closed" on the up topic
        uplink.deliver(topics.rtc("agent-1", "down/keepalive"), bytes(Keepalive(("session-unknown",))))
        sent = wait_for(lambda: list(uplink.sent), 5)
        topic, payload, qos = sent[0]
        assert topic == topics.rtc("agent-1", "up/closed") and qos == 1
        assert parse_up("closed", payload) == Closed("session-unknown", "unknown session (the agent restarted?)")
    finally:
        assert service.stop()


def test_a_full_outbox_is_counted_not_fatal(tmp_path: Path) -> None:
    uplink, outbox = FakeUplink(), FakeOutbox(full=True)
    service = CameraService("agent-1", [load_profile(DEMO)], tmp_path / "snapshots", outbox, uplink)
    service.start()
    try:
        wait_for(lambda: service.refused >= 1, 10)
        assert uplink.providers[0]()["camera_records_refused"] >= 1
    finally:
        assert service.stop()


@pytest.mark.parametrize(("extra", "error"), [
    ({"cameras": ["nope.yaml"]}, "nope.yaml: cannot read"),
    ({"cameras": ["a.yaml", "b.yaml"]}, "both define camera 'demo-hall-cam1'"),
    ({"video": {"ice_ports": [10, 20]}}, "video.ice_ports must be [low, high]"),
    ({"video": {"lease": 3}}, "unknown key video.'lease'"),  # shared/config.py's quoting
])
def test_agent_config_checks_cameras_and_video(tmp_path: Path, extra: dict[str, Any], error: str) -> None:
    from agent.config import load_agent_config
    from shared.errors import ConfigError

    (tmp_path / "a.yaml").write_text(DEMO.read_text())
    (tmp_path / "b.yaml").write_text(DEMO.read_text())
    (tmp_path / "agent.key").write_text("x")
    config = {"agent_id": "a1", "broker": {"host": "127.0.0.1", "port": 1883, "username": "a1", "password": "p"},
              "key_file": "agent.key", "data_dir": "data", **extra}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as info:
        load_agent_config(tmp_path / "agent.yaml")
    assert error in str(info.value)


def test_agent_config_with_cameras_loads(tmp_path: Path) -> None:
    from agent.config import load_agent_config

    (tmp_path / "agent.key").write_text("x")
    config = {"agent_id": "a1", "broker": {"host": "127.0.0.1", "port": 1883, "username": "a1", "password": "p"},
              "key_file": "agent.key", "data_dir": "data", "cameras": [str(DEMO)],
              "video": {"ice_addresses": ["10.0.0.2"], "ice_ports": [40000, 40099], "lease_s": 30}}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(config))
    cfg = load_agent_config(tmp_path / "agent.yaml")
    assert cfg.cameras == [str(DEMO)] and cfg.video.ice_ports == [40000, 40099] and cfg.video.lease_s == 30.0


class _Feed:
    def __init__(self, status: FeedStatus) -> None:
        self.status = status


def test_a_heartbeat_of_64_cameras_reaches_the_hub_whole(tmp_path: Path) -> None:
    """64 cameras, each dead with a long RTSP reason: the agent's compact camera fields and the
    hub's heartbeat limit keep the heartbeat whole (the old 16 KiB limit refused it entirely, and
    the agent was marked offline)."""
    raw = yaml.safe_load(DEMO.read_text())
    profiles = []
    for i in range(64):
        raw.update(camera_id=f"shi-zhengwu-fuwu-zhongxin-2f-cam{i + 1:02d}", hall_id="shi-zhengwu-fuwu-zhongxin-2f")
        path = tmp_path / f"cam{i}.yaml"
        path.write_text(yaml.safe_dump(raw))
        profiles.append(load_profile(path))
    service = CameraService("agent-1", profiles, tmp_path / "snapshots", FakeOutbox(), FakeUplink())
    service.publisher.rtc.loop.close()  # never started: its event loop is not needed
    reason = ("cannot open rtsp://10.20.30.40:554/Streaming/Channels/101: Connection timed out after 5 s; "
              "retrying with backoff")
    for pipeline in service.pipelines.values():
        pipeline._feed = _Feed(FeedStatus(FeedState.DEAD, reason, 0.0, attempts=1234, connections=56))  # type: ignore[assignment]
    heartbeat = {"agent": "agent-1", "stream": "agent-1-main", "ts": "2026-12-03T10:00:00+08:00",
                 "connected": True, "rtt_ms": 12, "reconnects": 3, "outbox_depth": 0, "acked_seq": 123456,
                 "last_error": "", "ping": 77, **service.health()}
    payload = json.dumps(heartbeat).encode()  # as agent/uplink.py sends it
    print(f"heartbeat of 64 cameras: {len(payload)} bytes")
    assert len(payload) > MAX_CONTROL_BYTES  # what the hub refused before
    parsed = parse_health(payload)
    assert len(parsed.body["cameras"]) == 64
    first = parsed.body["cameras"][0]
    assert first["camera_id"] == "shi-zhengwu-fuwu-zhongxin-2f-cam01" and first["windows"] == ["W01", "W02", "W03"]
    assert first["feed"] == "dead" and first["reason"] == reason[:HEARTBEAT_REASON_CHARS]
    assert first["attempts"] == 1234 and "streaming" not in first
