"""The event bus and /api/v1/stream (Server-Sent Events)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from hub.web.events import RESYNC, BusClosed, EventBus
from tests.web.conftest import Hub

DEADLINE_S = 5.0


def frames(response) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """SSE frames (text between blank lines) of a streamed test-client response."""
    buffer = ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            yield frame


def parse(frame: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in frame.splitlines():
        if line.startswith(":"):
            fields.setdefault("comment", line[1:].strip())
        else:
            key, _, value = line.partition(": ")
            fields[key] = value
    return fields


def publish_when_subscribed(bus: EventBus, events: list[tuple[str, dict[str, object]]]) -> threading.Thread:
    """Publish from another thread (as ingest does) once a reader is subscribed."""

    def run() -> None:
        deadline = time.monotonic() + DEADLINE_S
        while bus.subscriber_count == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        for kind, data in events:
            bus.publish(kind, data)

    thread = threading.Thread(target=run, name="test-publisher")
    thread.start()
    return thread


def read_until(response, kind: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """Frames up to and including the first event of ``kind``; fails after the deadline."""
    seen = []
    deadline = time.monotonic() + DEADLINE_S
    for frame in frames(response):
        seen.append(parse(frame))
        if seen[-1].get("event") == kind:
            return seen
        assert time.monotonic() < deadline, f"no {kind} event within {DEADLINE_S}s: {seen}"
    raise AssertionError(f"stream ended before {kind}: {seen}")


def test_sse_delivers_a_published_event(hub: Hub) -> None:
    client = hub.login("monitor")
    response = client.get("/api/v1/stream", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    thread = publish_when_subscribed(hub.bus, [("card.raised", {"card_id": "K-9", "level": "red", "dept_code": "D01",
                                                                "title": "超期未办结"})])
    seen = read_until(response, "card.raised")
    response.close()
    thread.join(DEADLINE_S)
    assert seen[0].get("retry") == "3000"
    event = seen[-1]
    assert json.loads(event["data"]) == {"card_id": "K-9", "level": "red", "dept_code": "D01", "title": "超期未办结"}
    assert int(event["id"]) >= 1
    assert hub.bus.subscriber_count == 0, "closing the response unsubscribes"
    assert hub.registry.value("xiaoneng_sse_clients") == 0


def test_sse_heartbeats_while_idle(hub: Hub) -> None:
    response = hub.login("telecom").get("/api/v1/stream", buffered=False)
    comments = []
    for frame in frames(response):
        fields = parse(frame)
        if fields.get("comment") == "heartbeat":
            comments.append(frame)
        if len(comments) == 2:
            break
    response.close()
    assert len(comments) == 2


def test_sse_filters_events_by_role(hub: Hub) -> None:
    published = [
        ("card.raised", {"card_id": "K-1", "dept_code": "D02"}),
        ("card.raised", {"card_id": "K-2", "dept_code": "D01"}),
        ("link.status", {"agent_id": "agent-ok", "online": False}),
        ("stream.test_end", {}),
    ]
    received: dict[str, list[tuple[str, str]]] = {}
    for role in ("department", "telecom", "leader"):
        response = hub.login(role).get("/api/v1/stream", buffered=False)
        thread = publish_when_subscribed(hub.bus, published)
        seen = read_until(response, "stream.test_end")
        response.close()
        thread.join(DEADLINE_S)
        received[role] = [(f["event"], f["data"]) for f in seen if "event" in f and f["event"] != "stream.test_end"]
    assert received["department"] == [("card.raised", '{"card_id":"K-2","dept_code":"D01"}')]
    assert received["telecom"] == [("link.status", '{"agent_id":"agent-ok","online":false}')]
    assert len(received["leader"]) == 3


def test_sse_resumes_after_last_event_id(hub: Hub) -> None:
    first = hub.bus.publish("link.status", {"agent_id": "a", "online": True})
    hub.bus.publish("link.status", {"agent_id": "b", "online": False})
    assert first is not None
    response = hub.login("telecom").get("/api/v1/stream", headers={"Last-Event-ID": str(first.id)}, buffered=False)
    seen = read_until(response, "link.status")
    response.close()
    assert json.loads(seen[-1]["data"])["agent_id"] == "b"


def test_sse_ends_when_the_bus_closes(hub: Hub) -> None:
    response = hub.login("admin").get("/api/v1/stream", buffered=False)
    closer = threading.Thread(target=lambda: (time.sleep(0.1), hub.bus.close()))
    closer.start()
    started = time.monotonic()
    seen = [parse(f) for f in frames(response)]  # the generator returns: the loop ends
    response.close()
    closer.join()
    assert seen[-1].get("event") == "stream.closed" and time.monotonic() - started < DEADLINE_S
    refused = hub.login("admin").get("/api/v1/stream")
    assert refused.status_code == 503 and refused.get_json()["error"] == "unavailable"


def test_sse_refuses_clients_beyond_the_limit(hub: Hub) -> None:
    hub.app.extensions["xiaoneng"].config = type(hub.app.extensions["xiaoneng"].config)(
        **{**{f: getattr(hub.app.extensions["xiaoneng"].config, f) for f in ("database", "secret_key")},
           "sse_max_clients": 1, "sse_heartbeat_s": 0.05})
    held = hub.bus.subscribe()
    try:
        response = hub.login("admin").get("/api/v1/stream")
        assert response.status_code == 503 and "too many live connections" in response.get_json()["detail"]
    finally:
        held.close()


# --- EventBus on its own ---------------------------------------------------------------------------

def test_bus_publish_from_many_threads_keeps_every_event() -> None:
    bus = EventBus(queue_size=10_000)
    with bus.subscribe() as sub:
        threads = [threading.Thread(target=lambda n=n: [bus.publish("record.ingested", {"n": n, "i": i})
                                                        for i in range(200)]) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = []
        while (event := sub.get(timeout=0.01)) is not None:
            got.append(event)
    assert len(got) == 800 and [e.id for e in got] == sorted(e.id for e in got)
    for n in range(4):
        assert [e.data["i"] for e in got if e.data["n"] == n] == list(range(200)), "order kept per publisher"
    bus.close()


def test_bus_slow_reader_gets_a_resync_not_a_silent_gap() -> None:
    bus = EventBus(queue_size=3)
    with bus.subscribe() as sub:
        for i in range(10):
            bus.publish("link.health", {"i": i})
        first = sub.get(timeout=0.1)
        assert first is not None and first.kind == RESYNC
        rest = []
        while (event := sub.get(timeout=0.01)) is not None:
            rest.append(event.data["i"])
        assert rest and rest[-1] == 9
    bus.close()


def test_bus_rejects_bad_events_in_the_publisher() -> None:
    bus = EventBus()
    with pytest.raises(ValueError):
        bus.publish("Card Raised", {})
    with pytest.raises(TypeError):
        bus.publish("card.raised", {"x": object.__new__(type("Opaque", (), {"__str__": None}))})  # type: ignore[misc]
    bus.close()
    assert bus.publish("card.raised", {}) is None
    with pytest.raises(BusClosed):
        bus.subscribe().get(timeout=0.01)


def test_bus_replay_gap_becomes_resync() -> None:
    bus = EventBus(replay=2)
    for i in range(5):
        bus.publish("link.status", {"i": i})
    with bus.subscribe(last_event_id=1) as sub:
        event = sub.get(timeout=0.01)
        assert event is not None and event.kind == RESYNC
    with bus.subscribe(last_event_id=3) as sub:
        event = sub.get(timeout=0.01)
        assert event is not None and event.data == {"i": 3}
    bus.close()
