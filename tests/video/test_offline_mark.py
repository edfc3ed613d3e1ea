"""A false offline mark, end to end in one process: real Mosquitto, the hub's ingest service and the
video relay listening to it. The agent stays connected but its heartbeats pause longer than
``offline_after_s`` (what a busy hub sees when they wait in its queue); the hub marks it offline and
the relay refuses its cameras. The agent never disconnected, so no status message follows — the
next heartbeat alone must bring the agent back in the relay. Also: a heartbeat of many cameras is
stored whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.auth import connect
from hub.control import MAX_HEALTH_BYTES
from hub.service import BrokerLogin, IngestConfig, IngestService
from hub.store import Store
from hub.video.relay import VideoRelay
from shared import topics
from tests.support.broker import RunningBroker, start_test_broker
from tests.support.wait import wait_until

pytestmark = [pytest.mark.broker]


@pytest.fixture
def wired(tmp_path: Path, loopback_ice: None) -> Iterator[tuple[RunningBroker, IngestService, VideoRelay]]:
    broker = start_test_broker(tmp_path, ["a1"])
    store = Store(broker.data_dir / "hub.sqlite")
    # the production ratio: a heartbeat event at most every interval, well within offline_after_s
    service = IngestService(
        store, broker.registry.public_key, Ed25519PrivateKey.generate(),
        BrokerLogin(broker.host, broker.port, broker.hub.username, broker.hub.password),
        IngestConfig(offline_after_s=2.0, health_event_interval_s=0.5),
    )
    service.start()
    relay = VideoRelay(service.publish_raw)
    relay.start()
    service.rtc_handlers.append(relay.on_rtc)
    service.listeners.append(relay.on_event)
    try:
        yield broker, service, relay
    finally:
        assert relay.stop()
        service.stop()
        store.close()
        broker.close()


def test_the_relay_learns_from_the_next_heartbeat_that_a_falsely_offline_agent_is_back(
        wired: tuple[RunningBroker, IngestService, VideoRelay]) -> None:
    broker, service, relay = wired
    agent = broker.probe("a1")
    events: list[tuple[str, bool | None]] = []
    service.listeners.append(lambda kind, data: events.append((kind, data.get("online"))))
    agent.publish(topics.health("a1"), json.dumps({"ping": 1}).encode())
    wait_until(lambda: relay.online("a1") is True, 10, message="the first heartbeat did not reach the relay")
    # silence longer than offline_after_s, the connection kept: the hub marks the agent offline
    wait_until(lambda: relay.online("a1") is False, 15, message="the hub did not mark the silent agent offline")
    # the next heartbeat: no status message (the agent never disconnected), yet the relay knows
    agent.publish(topics.health("a1"), json.dumps({"ping": 2}).encode())
    wait_until(lambda: relay.online("a1") is True, 5, message="the relay still believes the agent offline")
    after_mark = events[events.index(("link.status", False)) + 1:]
    assert ("link.status", True) not in after_mark and any(kind == "link.health" for kind, _ in after_mark)


def test_a_heartbeat_of_many_cameras_is_stored_whole_and_the_wall_lists_them(
        wired: tuple[RunningBroker, IngestService, VideoRelay]) -> None:
    """96 cameras with long ids and reasons (~27 KB, over the old 16 KiB limit that refused the
    whole heartbeat): stored whole, every camera on the wall's query."""
    broker, service, _relay = wired
    cameras = [{"camera_id": f"shi-zhengwu-fuwu-zhongxin-2f-cam{i:03d}", "hall_id": "shi-zhengwu-fuwu-zhongxin-2f",
                "windows": [f"W{3 * i + j:03d}" for j in range(3)], "feed": "dead",
                "reason": "cannot open rtsp://10.20.30.40:554/Streaming/Channels/101: Connection timed out",
                "attempts": 1234, "connections": 56} for i in range(96)]
    payload = json.dumps({"ping": 1, "agent": "a1", "cameras": cameras}).encode()
    assert 16 * 1024 < len(payload) < MAX_HEALTH_BYTES
    broker.probe("a1").publish(topics.health("a1"), payload)

    def stored() -> list[dict[str, object]]:
        conn = connect(broker.data_dir / "hub.sqlite")
        try:
            row = conn.execute("SELECT health_json FROM agent_link WHERE agent_id = 'a1'").fetchone()
        finally:
            conn.close()
        return json.loads(row[0])["cameras"] if row and row[0] else []

    assert wait_until(lambda: len(stored()) == 96, 10, message="the heartbeat was not stored whole")
    assert not any(k.startswith("rejected_health") for k, v in service.counters.items() if v)
