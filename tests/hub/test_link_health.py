"""A heartbeat is stored and, after the commit, announced as ``link.health`` (at most every 5 s)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.service import BrokerLogin, IngestService
from hub.store import Store
from shared import topics

T0 = 1_795_680_000.0


def heartbeat(agent: str, received: float, **figures: Any) -> tuple[str, str, bytes, float]:
    return "health", topics.health(agent), json.dumps(figures).encode(), received


def test_a_heartbeat_publishes_link_health_after_commit_throttled(tmp_path: Path) -> None:
    store = Store(tmp_path / "hub.sqlite")
    service = IngestService(store, lambda _a: None, Ed25519PrivateKey.generate(),
                            BrokerLogin("127.0.0.1", 1, "hub", "x"), clock=lambda: T0)  # never started
    seen: list[tuple[str, dict[str, Any], int | None]] = []

    reader = sqlite3.connect(tmp_path / "hub.sqlite")  # another connection sees only committed rows

    def listener(kind: str, data: dict[str, Any]) -> None:  # what is committed when the event is heard
        row = reader.execute("SELECT rtt_ms FROM agent_link WHERE agent_id = ?", (data["agent_id"],)).fetchone()
        seen.append((kind, data, row[0] if row else None))

    service.listeners.append(listener)
    figures = {"rtt_ms": 12, "outbox_depth": 3, "oldest_unacked_s": 4.5, "cdc_lag_s": 1, "reconnects": 0}
    service._process([heartbeat("a1", T0, **figures)])
    assert len(seen) == 1
    kind, data, stored_rtt = seen[0]
    assert kind == "link.health" and stored_rtt == 12  # notified after the commit
    assert data == {"agent_id": "a1", "rtt_ms": 12, "outbox_depth": 3, "oldest_unacked_s": 4, "cdc_lag_s": 1,
                    "at": data["at"]} and data["at"].startswith("20")  # fmt: skip

    service._process([heartbeat("a1", T0 + 2, rtt_ms=20), heartbeat("a2", T0 + 2, rtt_ms=7)])
    assert [(d["agent_id"], d["rtt_ms"]) for _k, d, _r in seen[1:]] == [("a2", 7)]  # a1 is throttled
    service._process([heartbeat("a1", T0 + 5, rtt_ms=30)])
    assert seen[-1][1]["agent_id"] == "a1" and seen[-1][1]["rtt_ms"] == 30  # 5 s later: again
    service._process([("health", topics.health("a1"), b"not json", T0 + 20)])
    assert len(seen) == 3  # nothing stored, nothing announced
    reader.close()
    store.close()
