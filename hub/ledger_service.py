"""The hub's side of the witnessed ledger (DESIGN.md §4.3 "Witnesses", docs/ledger.md).

- After each signed checkpoint (the ingest service's ``ledger.checkpoint`` event) it writes
  ``DATA/witness/published.json`` atomically and *then* publishes the checkpoint, retained, QoS 1,
  on ``xn/v1/hub/checkpoint``, which every agent may read.
- It answers agents' audits: ``xn/v1/agents/{id}/audit/req`` → ``.../audit/resp`` with inclusion
  proofs of the asked records against the newest signed checkpoint, and consistency proofs from the
  checkpoints the agent keeps (:mod:`shared.ledger` has the format). The agent id comes from the
  topic (the broker's ACL lets an agent write only its own), so an agent learns only about its own
  records. The checkpoints the agent reports keeping are checked and the largest is kept in
  ``DATA/witness/agents/{id}.json``, so ``xiaoneng-hub verify --witness DATA/witness`` checks the
  store against them as well.
- It records the security alerts agents raise on ``xn/v1/agents/{id}/alert`` (e.g. a failed audit).

Requests are queued by paho's network thread (bounded, at most ``PER_AGENT_PENDING`` per agent: a
flood is dropped and counted, never waited for, and one agent cannot crowd out the others' audits)
and answered by one worker thread from its own read-only connection to the store.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hub.service import IngestService
from hub.store import NodeStore
from hub.witness import WITNESS_DIR, published_path, read_checkpoint_file, write_checkpoint_file
from provisioning.hubkey import KEY_FILE, load_or_create_key
from shared import topics
from shared.checkpoint import Checkpoint, verify_checkpoint
from shared.errors import ProofError, RecordError
from shared.ledger import AuditRequest, AuditResponse, InclusionAnswer
from shared.merkle import consistency_proof, inclusion_proof
from shared.timefmt import iso_local

log = logging.getLogger("xiaoneng.hub.ledger")

QUEUE_LIMIT = 256
PER_AGENT_PENDING = 16
ALERT_LIMIT = 4096
ALERT_INTERVAL_S = 10.0


class LedgerService:
    def __init__(self, ingest: IngestService, data_dir: Path, db_path: Path):
        self.ingest = ingest
        self._public_key = load_or_create_key(data_dir / KEY_FILE).public_key()
        self.data_dir = data_dir
        self.db_path = db_path
        self.counters: Counter[str] = Counter()
        self._queue: queue.Queue[tuple[str, str, bytes]] = queue.Queue(QUEUE_LIMIT)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_alert: dict[str, float] = {}
        self._pending: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def attach(self) -> None:
        """Hook into the ingest service (before it connects: its subscriptions are made then)."""
        self.ingest.listeners.append(self._on_event)
        self.ingest.topic_handlers.append((topics.ALL_AUDIT_REQ, self._on_request))
        self.ingest.topic_handlers.append((topics.ALL_AGENT_ALERTS, self._on_alert))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="xn-hub-ledger", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- checkpoints out ------------------------------------------------------------------------

    def _on_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind != "ledger.checkpoint":
            return
        cp = Checkpoint.from_json(data)
        write_checkpoint_file(published_path(self.data_dir), cp)
        self.ingest.publish_raw(topics.CHECKPOINT, json.dumps(cp.to_json()).encode(), qos=1, retain=True)
        self.counters["checkpoints_published"] += 1

    # -- network thread: queue only --------------------------------------------------------------

    def _on_request(self, topic: str, payload: bytes) -> None:
        self._put("audit", topic, payload)

    def _on_alert(self, topic: str, payload: bytes) -> None:
        self._put("alert", topic, payload)

    def _put(self, kind: str, topic: str, payload: bytes) -> None:
        agent = topics.agent_of(topic) or ""
        with self._lock:
            if self._pending[agent] >= PER_AGENT_PENDING:  # one agent cannot crowd out the others
                self.counters[f"{kind}_dropped"] += 1
                return
            self._pending[agent] += 1
        try:
            self._queue.put_nowait((kind, topic, payload))
        except queue.Full:
            with self._lock:
                self._pending[agent] -= 1
            self.counters[f"{kind}_dropped"] += 1

    # -- the worker -----------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                kind, topic, payload = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            agent = topics.agent_of(topic)
            with self._lock:
                self._pending[agent or ""] -= 1
            if agent is None:
                continue
            try:
                if kind == "audit":
                    self._answer(agent, payload)
                else:
                    self._alert(agent, payload)
            except Exception:
                log.exception("ledger request failed", extra={"agent": agent, "kind": kind})

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=10000")
        return self._conn

    def _answer(self, agent: str, payload: bytes) -> None:
        self.counters["audits"] += 1
        try:
            req = AuditRequest.parse(payload)
        except RecordError as exc:
            self.counters["audits_malformed"] += 1
            log.warning("malformed audit request", extra={"agent": agent, "error": str(exc)})
            return
        resp = answer(self._db(), agent, req)
        self.ingest.publish_raw(topics.audit_resp(agent), resp.to_bytes(), qos=1)
        self._keep_reported(agent, req.kept)

    def _keep_reported(self, agent: str, kept: tuple[Checkpoint, ...]) -> None:
        """Keep the largest checkpoint of ours an agent reported (``DATA/witness/agents/{id}.json``):
        ``xiaoneng-hub verify --witness DATA/witness`` then checks the store against it too."""
        path = self.data_dir / WITNESS_DIR / "agents" / f"{agent}.json"
        best = None
        for cp in kept:
            try:
                verify_checkpoint(cp, self._public_key)
            except ProofError:
                self.counters["reported_checkpoints_invalid"] += 1
                continue
            if best is None or cp.size > best.size:
                best = cp
        if best is None:
            return
        try:
            if read_checkpoint_file(path).size >= best.size:
                return
        except RecordError:
            pass  # none yet (or unreadable: replaced by a valid one)
        write_checkpoint_file(path, best)

    def _alert(self, agent: str, payload: bytes) -> None:
        now = time.time()
        if now - self._last_alert.get(agent, 0.0) < ALERT_INTERVAL_S:
            self.counters["alerts_rate_limited"] += 1
            return
        self._last_alert[agent] = now
        try:
            body = json.loads(payload[:ALERT_LIMIT])
        except (ValueError, RecursionError):
            body = None
        detail = body.get("detail") if isinstance(body, dict) else None
        kind = body.get("kind") if isinstance(body, dict) else None
        text = str(detail)[:2000] if detail else payload[:500].decode("utf-8", "replace")
        kind_text = str(kind)[:64] if kind else "agent.alert"
        at = iso_local(now)
        log.error("security alert from an agent", extra={"agent": agent, "kind": kind_text, "detail": text})
        with self.ingest.write_turn, self.ingest.store.transaction() as store:
            store.security_alert(at, agent, kind_text, text)
        data = {"reason": kind_text, "agent_id": agent, "detail": text, "at": at}
        self.ingest.publish_raw(topics.ALERTS, json.dumps(data, ensure_ascii=False).encode(), qos=1)
        for listener in list(self.ingest.listeners):
            try:
                listener("alert.security", data)
            except Exception:
                log.exception("event listener failed", extra={"kind": "alert.security"})


def latest_checkpoint(conn: sqlite3.Connection) -> Checkpoint | None:
    row = conn.execute("SELECT body FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
    return None if row is None else Checkpoint.from_json(json.loads(row[0]))


def answer(conn: sqlite3.Connection, agent: str, req: AuditRequest) -> AuditResponse:
    """The proofs an audit asks for, against the newest signed checkpoint in the store."""
    cp = latest_checkpoint(conn)
    if cp is None:
        return AuditResponse(req.id, None, (), (), "the hub has not signed a checkpoint yet")
    nodes = NodeStore(conn)
    proofs: list[InclusionAnswer] = []
    for seq, _ in req.seqs:
        row = conn.execute(
            "SELECT id FROM records WHERE agent_id = ? AND stream_id = ? AND seq = ?", (agent, req.stream, seq)
        ).fetchone()
        if row is None:
            proofs.append(InclusionAnswer(seq, missing=True))
            continue
        index = int(row[0]) - 1
        if index >= cp.size:
            proofs.append(InclusionAnswer(seq, pending=True))
            continue
        try:
            proofs.append(InclusionAnswer(seq, index, tuple(inclusion_proof(index, cp.size, nodes))))
        except LookupError:  # the ledger below the checkpoint is incomplete: the leaf is not provable
            proofs.append(InclusionAnswer(seq, missing=True))
    cons: list[tuple[int, tuple[bytes, ...]]] = []
    errors: list[str] = []
    for size in req.from_sizes:
        if size > cp.size:
            errors.append(f"the newest checkpoint has {cp.size} leaves, fewer than {size}")
            continue
        try:
            cons.append((size, tuple(consistency_proof(size, cp.size, nodes))))
        except LookupError as exc:
            errors.append(f"no consistency proof from {size}: {exc}")
    return AuditResponse(req.id, cp, tuple(proofs), tuple(cons), "; ".join(errors))
