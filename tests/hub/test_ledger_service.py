"""The hub's ledger service on hostile input: malformed audit requests and alert floods are counted
and dropped, never raised, and one agent cannot crowd out another's audit."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from hub.ledger_service import PER_AGENT_PENDING, LedgerService
from hub.service import IngestService, WriteTurn
from hub.store import Store
from shared import topics
from shared.ledger import AuditRequest, AuditResponse
from tests.support.wait import wait_until

HOSTILE = [
    b"", b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000, b'{"id": "x"}', b"1e999", b"null",
    json.dumps({"id": "r", "stream": "s", "seqs": [[10**40, "00" * 32]], "kept": []}).encode(),
    json.dumps({"id": "r", "stream": "s", "seqs": [[1, "00" * 32]] * 10_000, "kept": []}).encode(),
    json.dumps({"id": "r", "stream": "s", "seqs": [], "kept": [{"size": -1}]}).encode(),
    b"{" + b'"a":' * 50_000 + b"1" + b"}" * 50_000, b"x" * 2_000_000,
]


class FakeIngest:
    def __init__(self, store: Store):
        self.store = store
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self.topic_handlers: list[tuple[str, Callable[[str, bytes], None]]] = []
        self.write_turn = WriteTurn()
        self.published: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()

    def publish_raw(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        with self.lock:
            self.published.append((topic, payload))


def service(tmp_path: Path) -> tuple[LedgerService, FakeIngest]:
    store = Store(tmp_path / "hub.sqlite")
    ingest = FakeIngest(store)
    ledger = LedgerService(cast(IngestService, ingest), tmp_path, tmp_path / "hub.sqlite")
    ledger.attach()
    return ledger, ingest


def handler(ingest: FakeIngest, pattern: str) -> Callable[[str, bytes], None]:
    return next(h for p, h in ingest.topic_handlers if p == pattern)


def test_hostile_audit_requests_and_alerts_are_counted_not_raised(tmp_path: Path) -> None:
    ledger, ingest = service(tmp_path)
    ledger.start()
    request, alert = handler(ingest, topics.ALL_AUDIT_REQ), handler(ingest, topics.ALL_AGENT_ALERTS)
    for i, payload in enumerate(HOSTILE * 3):
        request(topics.audit_req(f"a{i % 4}"), payload)
        alert(topics.alert(f"a{i % 4}"), payload)
    request("xn/v1/agents/../audit/req", b"{}")
    wait_until(lambda: ledger._queue.empty() and sum(ledger._pending.values()) == 0, 30, message="the queue to drain")
    assert ledger.counters["audits_malformed"] == ledger.counters["audits"] > 0
    assert ledger.counters["alerts_rate_limited"] > 0
    assert ingest.store.count("security_alerts") == 4  # one per agent within the interval
    good = AuditRequest("ok1", "s1", (), ())
    request(topics.audit_req("a9"), good.to_bytes())
    wait_until(lambda: any(t == topics.audit_resp("a9") for t, _ in ingest.published), 10, message="an answer")
    (answer,) = [p for t, p in ingest.published if t == topics.audit_resp("a9")]
    parsed = AuditResponse.parse(answer)
    assert parsed.id == "ok1" and parsed.checkpoint is None and "not signed a checkpoint" in parsed.error
    ledger.stop()
    ingest.store.close()


def test_one_agent_cannot_crowd_out_another(tmp_path: Path) -> None:
    ledger, ingest = service(tmp_path)  # worker not started: everything stays queued
    request = handler(ingest, topics.ALL_AUDIT_REQ)
    for _ in range(1000):
        request(topics.audit_req("flood"), b"{}")
    request(topics.audit_req("quiet"), b"{}")
    assert ledger._pending["flood"] == PER_AGENT_PENDING and ledger._pending["quiet"] == 1
    assert ledger.counters["audit_dropped"] == 1000 - PER_AGENT_PENDING
    ingest.store.close()
