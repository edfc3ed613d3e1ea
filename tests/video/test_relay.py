"""The relay end to end in one process, aiortc on both sides over loopback UDP: an agent's
VideoPublisher, the hub's VideoRelay, signalling through an in-memory wire instead of the broker,
and aiortc viewers that read the send time burnt into each frame.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.camera.publisher import VideoPublisher
from hub.auth import connect, ensure_schema, list_audit
from hub.video.config import RelayConfig
from hub.video.errors import AgentOffline, AgentTimeout, UnknownCamera
from hub.video.relay import VideoRelay
from hub.video.service import audit_watched
from tests.support.wait import wait_until
from tests.video.support import Wire, percentile, stamped_feed, watch

AGENT = "agent-1"


@pytest.fixture
def wire(loopback_ice: None) -> Iterator[Wire]:
    wire = Wire()
    relay = VideoRelay(wire.hub_publish, RelayConfig(grace_s=1.0, answer_timeout_s=5.0, keepalive_s=0.5))
    publisher = VideoPublisher({"cam1": stamped_feed("cam1"), "cam2": stamped_feed("cam2")},
                               wire.agent_send(AGENT), lease_s=3.0)
    wire.relay, wire.agents[AGENT] = relay, publisher
    relay.start()
    publisher.start()
    yield wire
    assert relay.stop()
    assert publisher.stop()


def streams(relay: VideoRelay) -> list[dict[str, object]]:
    return list(relay.stats()["streams"])


def test_three_viewers_share_one_upstream_and_frames_arrive_with_low_latency(wire: Wire) -> None:
    relay, publisher = wire.relay, wire.agents[AGENT]
    assert relay is not None

    async def three() -> list[object]:
        return list(await asyncio.gather(*(watch(relay, AGENT, "cam1", 30) for _ in range(3))))

    results = asyncio.run(three())
    assert publisher.started_sessions == 1  # encoded once, whatever the number of viewers
    assert wire.count("down", "offer") == 1
    for result in results:
        latencies = result.latencies  # type: ignore[attr-defined]
        assert len(latencies) == 30
        p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
        print(f"viewer latency over {len(latencies)} frames: p50 {p50} ms, p95 {p95} ms")
        assert 0 <= min(latencies) and p95 < 2000
    counters = relay.stats()["counters"]
    assert counters["viewers_joined"] == 3 and counters["viewers_left"] == 3
    # the last viewer left: after the grace period the upstream is stopped, at both ends
    wait_until(lambda: not streams(relay), 10, message="the upstream was not stopped after the grace period")
    wait_until(lambda: not publisher.streaming(), 5, message="the agent still streams")
    assert wire.count("down", "stop") == 1


def test_viewers_joining_later_and_other_cameras(wire: Wire) -> None:
    relay, publisher = wire.relay, wire.agents[AGENT]
    assert relay is not None

    async def staggered() -> None:
        first = asyncio.ensure_future(watch(relay, AGENT, "cam1", 40))
        await asyncio.sleep(0.5)  # a second viewer joins a running upstream: starts at a keyframe
        second, other = await asyncio.gather(watch(relay, AGENT, "cam1", 10), watch(relay, AGENT, "cam2", 10))
        assert len(second.latencies) == 10 and len(other.latencies) == 10
        assert len((await first).latencies) == 40

    asyncio.run(staggered())
    assert publisher.started_sessions == 2  # cam1 once, cam2 once


def test_unknown_camera_is_refused_by_the_agent(wire: Wire) -> None:
    relay = wire.relay
    assert relay is not None
    with pytest.raises(UnknownCamera, match="no camera 'nope'"):
        asyncio.run(watch(relay, AGENT, "nope", 1))
    assert not streams(relay)


def test_silent_agent_times_out_with_a_clear_error(wire: Wire) -> None:
    relay = wire.relay
    assert relay is not None
    wire.cut.add(AGENT)
    relay.config = RelayConfig(answer_timeout_s=1.0)
    with pytest.raises(AgentTimeout, match="did not answer within 1 s"):
        asyncio.run(watch(relay, AGENT, "cam1", 1))
    assert not streams(relay)


def test_agent_ends_a_session_the_hub_stopped_renewing(wire: Wire) -> None:
    """The hub vanishes (no stop, no keepalive): the agent stops encoding after its lease."""
    relay, publisher = wire.relay, wire.agents[AGENT]
    assert relay is not None

    async def watch_then_vanish() -> None:
        task = asyncio.ensure_future(watch(relay, AGENT, "cam1", 5))
        await task

    relay.config = RelayConfig(grace_s=60.0, keepalive_s=0.5)  # the relay would keep it a minute
    asyncio.run(watch_then_vanish())
    assert publisher.streaming()
    wire.cut.add(AGENT)  # the hub's messages no longer reach the agent
    wait_until(lambda: not publisher.streaming(), 8, message="the agent kept streaming without keepalives")


def test_upstream_comes_back_for_the_viewers_that_stayed(wire: Wire) -> None:
    """The agent drops the session (restart, crash of its encoder): the relay asks again and the
    viewer, still connected to the hub, gets frames again without doing anything."""
    relay, publisher = wire.relay, wire.agents[AGENT]
    assert relay is not None

    async def scenario() -> None:
        viewer = asyncio.ensure_future(watch(relay, AGENT, "cam1", 60, timeout=40))
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: wait_until(lambda: publisher.streaming(), 10, message="no upstream"))
        await asyncio.sleep(1.0)
        publisher.rtc.call(lambda: asyncio.ensure_future(
            publisher._close(next(iter(publisher._sessions.values())), "test: encoder crashed", tell=True)))
        result = await viewer
        assert len(result.latencies) == 60

    asyncio.run(scenario())
    assert publisher.started_sessions == 2
    assert relay.stats()["counters"]["upstream_failures"] == 1


def test_the_relay_learns_at_once_that_an_agent_marked_offline_by_a_busy_hub_is_back(wire: Wire) -> None:
    """A busy hub marks a live agent offline (its heartbeats waited in the queue); the agent never
    disconnected, so no new status comes — the next stored heartbeat (``link.health``) is the news.
    The relay refuses while the agent is offline and serves again as soon as it is heard from."""
    relay = wire.relay
    assert relay is not None
    relay.on_event("link.status", {"agent_id": AGENT, "online": False, "at": "2026-12-03T10:00:00+08:00"})
    wait_until(lambda: relay.online(AGENT) is False, 5, message="the offline mark was not taken")
    with pytest.raises(AgentOffline, match="offline"):
        asyncio.run(watch(relay, AGENT, "cam1", 1))
    relay.on_event("link.health", {"agent_id": AGENT, "at": "2026-12-03T10:00:40+08:00", "rtt_ms": 3})
    wait_until(lambda: relay.online(AGENT) is True, 5, message="the heartbeat did not bring the agent back")
    assert len(asyncio.run(watch(relay, AGENT, "cam1", 5)).latencies) == 5


def test_the_hubs_store_outranks_an_offline_event_the_relay_kept(wire: Wire) -> None:
    """The web layer reads the agent's state from the store before asking the relay
    (``known_online``): a stale offline belief in the relay does not refuse the viewer."""
    relay = wire.relay
    assert relay is not None
    relay.on_event("link.status", {"agent_id": AGENT, "online": False, "at": "2026-12-03T10:00:00+08:00"})
    wait_until(lambda: relay.online(AGENT) is False, 5, message="the offline mark was not taken")

    async def known_online() -> int:
        pc_result = await watch(relay, AGENT, "cam2", 3, known_online=True)
        return len(pc_result.latencies)

    assert asyncio.run(known_online()) == 3
    assert relay.online(AGENT) is True


def test_every_viewer_that_ends_is_reported_for_the_audit_log(wire: Wire, tmp_path: Path) -> None:
    """Who watched which camera, from when, how long: the relay reports each ended viewer (left,
    failed, or closed by a stop); the hub writes it to the audit log as ``video.watched``."""
    relay = wire.relay
    assert relay is not None
    database = tmp_path / "hub.sqlite"
    conn = connect(database)
    ensure_schema(conn)
    conn.close()
    ended: list[dict[str, Any]] = []

    def on_end(item: dict[str, Any]) -> None:
        audit_watched(database, item)
        ended.append(item)  # after the write: the test reads the log once it sees the item

    relay.on_viewer_end = on_end
    before = time.time()
    result = asyncio.run(watch(relay, AGENT, "cam1", 15))
    wait_until(lambda: len(ended) == 1, 5, message="the ended viewer was not reported")
    item = ended[0]
    assert item["viewer"] == result.viewer_id and item["agent_id"] == AGENT and item["camera_id"] == "cam1"
    assert item["connected"] and item["reason"] == "left" and 0 < item["seconds"] < 30
    assert before - 1 <= item["started_at"] <= time.time()
    conn = connect(database)
    try:
        (entry,), total = list_audit(conn, action="video.watched")
    finally:
        conn.close()
    assert total == 1 and entry.username == "anonymous" and entry.target == f"{AGENT}/cam1"
    assert entry.detail["viewer"] == result.viewer_id and entry.detail["seconds"] == item["seconds"]
    assert entry.detail["connected"] is True and entry.detail["reason"] == "left"
