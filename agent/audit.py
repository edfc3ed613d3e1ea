"""``xiaoneng-agent audit``: check that the hub's ledger still holds what it acknowledged (§4.3).

The agent asks the hub, over its own MQTT topics (``xn/v1/agents/{id}/audit/req`` →
``.../audit/resp``), for RFC 6962 inclusion proofs of its acknowledged records (the newest, plus a
random sample of the rest, or all it kept with ``--full``) against the hub's newest signed
checkpoint, and for consistency proofs from the checkpoints it keeps (:mod:`agent.checkpoints`) to
that one. It checks every proof itself with :mod:`shared.merkle`; the hub is not trusted. A record
missing from the ledger, a proof that does not verify, or a current checkpoint smaller than (or
inconsistent with) one the hub signed before means the hub's log lost or changed what it had
acknowledged: the verdict fails, a security alert goes to the hub's alert path
(``xn/v1/agents/{id}/alert``) and to the agent's log, and the command exits 1.

:func:`judge` is the pure part (proofs in, verdict out); :func:`run_audit` does the I/O.
"""

from __future__ import annotations

import logging
import queue
import random
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.checkpoints import HubWitness, alert_payload, hub_key
from agent.config import AgentConfig
from agent.link import LinkDown, MqttLink
from agent.outbox import Outbox
from shared import topics
from shared.checkpoint import Checkpoint, verify_checkpoint
from shared.errors import ProofError, RecordError
from shared.ledger import MAX_AUDIT_SEQS, AuditRequest, AuditResponse, leaf_data
from shared.merkle import leaf_hash, verify_consistency, verify_inclusion
from shared.timefmt import iso_local

log = logging.getLogger("xiaoneng.agent.audit")

#: Audit requests in flight at once (the hub queues at most 16 per agent).
WINDOW = 8
#: A record acknowledged longer ago than this must be in the hub's signed checkpoint (it signs
#: every 10 s while the ledger grows).
PENDING_GRACE_S = 300.0


class AuditUnavailable(Exception):
    """The audit could not be made (no hub key configured, the hub did not answer): not a verdict."""


@dataclass
class AuditVerdict:
    agent: str
    stream: str
    checked: int = 0
    pending: int = 0
    hub_size: int = 0
    kept_sizes: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    newest: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "agent": self.agent, "stream": self.stream, "records_checked": self.checked,
            "records_pending": self.pending, "hub_checkpoint_size": self.hub_size,
            "kept_checkpoints": self.kept_sizes, "problems": self.problems,
        }


def choose(acked: Sequence[tuple[int, bytes]], full: bool, sample: int, rng: random.Random) -> list[tuple[int, bytes]]:
    """What to audit: all kept, or the newest plus ``sample`` others at random (oldest first)."""
    if full or len(acked) <= sample + 1:
        chosen = list(acked)
    else:
        chosen = [acked[0], *rng.sample(list(acked[1:]), sample)]
    return sorted(chosen)


def judge(
    agent: str, stream: str, asked: Sequence[tuple[int, bytes]], kept: Sequence[Checkpoint],
    responses: Sequence[AuditResponse], key: Ed25519PublicKey,
    acked_at: Mapping[int, float] | None = None, now: float | None = None,
) -> AuditVerdict:
    """Check the hub's answers; every problem says what the hub's log lost or changed.

    A record the hub calls *pending* (acknowledged, not yet in a signed checkpoint) is fine for a
    while — the hub signs every 10 s — but not when it was acknowledged more than
    :data:`PENDING_GRACE_S` ago by this machine's clock (``acked_at``, ``now``): a hub that deleted
    it could otherwise hide it behind "pending" forever."""
    v = AuditVerdict(agent, stream, kept_sizes=[k.size for k in kept])
    hashes = dict(asked)
    answered: set[int] = set()
    for n, resp in enumerate(responses):
        cp = resp.checkpoint
        if cp is None:
            v.problems.append(f"中心没有已签名的检查点 / the hub answered without a signed checkpoint: {resp.error}")
            continue
        try:
            verify_checkpoint(cp, key)
        except ProofError as exc:
            v.problems.append(f"中心检查点签名无效 / the hub's current checkpoint is not validly signed: {exc}")
            continue
        if v.newest is None or cp.size > v.newest.size:
            v.newest = cp
        if n == 0:
            _consistency(v, kept, cp, resp)
        for answer in resp.proofs:
            digest = hashes.get(answer.seq)
            if digest is None or answer.seq in answered:
                continue
            answered.add(answer.seq)
            where = f"seq {answer.seq}"
            if answer.missing:
                v.problems.append(
                    f"记录丢失 / record {where} (acknowledged by the hub) is missing from its ledger")
            elif answer.pending:
                since = None if acked_at is None or now is None or answer.seq not in acked_at \
                    else now - acked_at[answer.seq]
                if since is not None and since > PENDING_GRACE_S:
                    v.problems.append(
                        f"记录迟迟未纳入检查点 / record {where} was acknowledged {since / 60:.0f} min ago but the hub "
                        f"says it is in none of its signed checkpoints (it signs every 10 s): missing or withheld")
                else:
                    v.pending += 1
            else:
                try:
                    assert answer.index is not None
                    leaf = leaf_hash(leaf_data(agent, stream, answer.seq, digest))
                    verify_inclusion(leaf, answer.index, cp.size, answer.proof, cp.root)
                    v.checked += 1
                except ProofError as exc:
                    v.problems.append(f"记录不在已签名账本中 / record {where} is not in the signed ledger: {exc}")
    for seq in sorted(set(hashes) - answered):
        v.problems.append(f"中心未回答 / the hub gave no answer about record seq {seq}")
    v.hub_size = v.newest.size if v.newest else 0
    return v


def _consistency(v: AuditVerdict, kept: Sequence[Checkpoint], cp: Checkpoint, resp: AuditResponse) -> None:
    proofs = dict(resp.consistency)
    for k in kept:
        if k.size > cp.size:
            v.problems.append(
                f"账本被截断或回滚 / the hub's ledger was truncated or rolled back: it signed {k.size} leaves at "
                f"{k.timestamp}, its current checkpoint has only {cp.size} ({cp.timestamp})")
            continue
        proof = proofs.get(k.size)
        if proof is None:
            v.problems.append(
                f"中心无法证明一致性 / the hub gave no consistency proof from its checkpoint of {k.size} leaves "
                f"({k.timestamp}) to {cp.size}: {resp.error or 'no reason given'}")
            continue
        try:
            verify_consistency(k.size, cp.size, k.root, cp.root, proof)
        except ProofError as exc:
            v.problems.append(
                f"账本被改写 / the hub's ledger was rewritten: its checkpoint of {k.size} leaves ({k.timestamp}) "
                f"is not a prefix of the current one: {exc}")


def run_audit(cfg: AgentConfig, full: bool = False, sample: int = 32, timeout: float = 30.0) -> AuditVerdict:
    """Audit the hub now, over a connection of our own; raises :class:`AuditUnavailable`."""
    if not cfg.hub_public_key:
        raise AuditUnavailable(
            "agent.yaml has no hub_public_key: re-provision the agent, or copy the hub's public key "
            "(64 hex digits) into it")
    key = hub_key(cfg.hub_public_key)
    data = cfg.path(cfg.data_dir)
    if not (data / "outbox.sqlite").exists():
        raise AuditUnavailable(
            f"{data / 'outbox.sqlite'} does not exist: this agent has not run yet, nothing was acknowledged")
    outbox = Outbox(data / "outbox.sqlite", cfg.agent_id, cfg.outbox)
    stream = outbox.stream_id
    outbox.close()
    witness = HubWitness(data / "outbox.sqlite", key)
    try:
        return _audit(cfg, witness, key, stream, full, sample, timeout)
    finally:
        witness.close()


def _audit(cfg: AgentConfig, witness: HubWitness, key: Ed25519PublicKey, stream: str, full: bool,
           sample: int, timeout: float) -> AuditVerdict:
    agent = cfg.agent_id
    inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
    link = MqttLink(
        cfg.broker_address(),
        f"xn-audit-{agent}-{secrets.token_hex(3)}", [topics.audit_resp(agent), topics.CHECKPOINT],
        lambda t, p: inbox.put((t, p)), lambda reason: None,
    )
    try:
        link.connect()
    except LinkDown as exc:
        raise AuditUnavailable(f"无法连接消息服务器 / cannot reach the broker: {exc}") from None
    try:
        rollback_seen: list[str] = []
        _await_retained_checkpoint(inbox, witness, rollback_seen, min(2.0, timeout))
        return exchange(link.publish, inbox, witness, key, agent, stream, full, sample, timeout, rollback_seen)
    finally:
        link.close()


def _await_retained_checkpoint(inbox: queue.Queue[tuple[str, bytes]], witness: HubWitness,
                               rollback_seen: list[str], wait: float) -> None:
    """The broker sends the retained checkpoint right after subscribing, if there is one."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            topic, payload = inbox.get(timeout=0.1)
        except queue.Empty:
            continue
        if topic == topics.CHECKPOINT:
            problem = witness.offer(payload)
            if problem:
                rollback_seen.append(problem)
            return


def exchange(publish: Callable[[str, bytes, int], None], inbox: queue.Queue[tuple[str, bytes]],
             witness: HubWitness, key: Ed25519PublicKey, agent: str, stream: str, full: bool, sample: int,
             timeout: float, rollback_seen: list[str] | None = None,
             stop: threading.Event | None = None) -> AuditVerdict:
    """One audit: requests through ``publish(topic, payload, qos)``, answers (and checkpoints) from
    ``inbox``; the verdict, with a security alert published and logged when it fails."""
    asked = choose(witness.acked(), full, sample, random.Random())
    rollback_seen = list(rollback_seen or [])
    kept = witness.kept()
    chunks = [asked[i:i + MAX_AUDIT_SEQS] for i in range(0, len(asked), MAX_AUDIT_SEQS)] or [[]]
    ids: dict[str, int] = {}
    sent = 0
    responses: dict[int, AuditResponse] = {}
    deadline = time.monotonic() + timeout
    while len(responses) < len(chunks) and time.monotonic() < deadline:
        if stop is not None and stop.is_set():
            raise AuditUnavailable("the agent is stopping")
        while sent < len(chunks) and sent - len(responses) < WINDOW:  # the hub queues a few per agent
            req = AuditRequest(secrets.token_hex(8), stream, tuple(chunks[sent]),
                               tuple(kept) if sent == 0 else ())
            ids[req.id] = sent
            publish(topics.audit_req(agent), req.to_bytes(), 1)
            sent += 1
        try:
            topic, payload = inbox.get(timeout=0.2)
        except queue.Empty:
            continue
        if topic == topics.CHECKPOINT:
            problem = witness.offer(payload)
            if problem:
                rollback_seen.append(problem)
            continue
        try:
            resp = AuditResponse.parse(payload)
        except RecordError as exc:
            log.warning("unreadable audit answer", extra={"error": str(exc)})
            continue
        if resp.id in ids and ids[resp.id] not in responses:
            responses[ids[resp.id]] = resp
            deadline = max(deadline, time.monotonic() + min(timeout, 10.0))  # progress: keep going
    if len(responses) < len(chunks):
        raise AuditUnavailable(
            f"中心未在 {timeout:.0f} 秒内回答 / the hub did not answer {len(chunks) - len(responses)} of "
            f"{len(chunks)} audit request(s) within {timeout:.0f} s: is it running and connected?")
    verdict = judge(agent, stream, asked, kept, [responses[i] for i in sorted(responses)], key,
                    witness.acked_at([seq for seq, _ in asked]), time.time())
    verdict.problems[:0] = [f"账本被回滚 / {p}" for p in rollback_seen]
    if verdict.ok and verdict.newest is not None:
        witness.advance(verdict.newest)
    elif not verdict.ok:
        detail = f"audit of the hub's ledger failed: {'; '.join(verdict.problems)[:1800]}"
        log.error("SECURITY: audit of the hub's ledger failed", extra={
            "security_alert": True, "problems": verdict.problems[:20]})
        try:
            publish(topics.alert(agent), alert_payload("ledger.audit_failed", detail, iso_local(time.time())), 1)
        except LinkDown:
            log.error("could not send the security alert to the hub (link down)")
    return verdict


class PeriodicAudit:
    """The running agent audits the hub by itself every ``interval`` seconds (``audit_interval_s``
    in agent.yaml; the first one a random part of an interval after start, so that agents do not
    all ask at once). Requests go out through the uplink (the one publishing owner); answers come
    back through its topic handler. A failed audit raises the security alert as the command does;
    an audit that cannot be made (link down, hub silent) is logged and tried again next time."""

    def __init__(self, uplink: Any, witness: HubWitness, key: Ed25519PublicKey, interval: float,
                 sample: int = 32, timeout: float = 60.0):
        self.uplink = uplink
        self.witness = witness
        self.key = key
        self.interval = interval
        self.sample = sample
        self.timeout = timeout
        self.inbox: queue.Queue[tuple[str, bytes]] = queue.Queue(64)
        self.last: AuditVerdict | None = None
        uplink.on_topic(topics.audit_resp(uplink.agent_id), self._on_answer)

    def _on_answer(self, topic: str, payload: bytes) -> None:
        try:
            self.inbox.put_nowait((topic, payload))
        except queue.Full:
            log.warning("audit answers are piling up; dropped one")

    def _publish(self, topic: str, payload: bytes, qos: int) -> None:
        self.uplink.publish_side(topic, payload, qos=qos)

    def run(self, stop: threading.Event) -> None:
        wait = random.uniform(0.1, 1.0) * self.interval
        while not stop.wait(wait):
            wait = self.interval
            while not self.inbox.empty():  # late answers to an earlier audit
                self.inbox.get_nowait()
            try:
                self.last = exchange(self._publish, self.inbox, self.witness, self.key, self.uplink.agent_id,
                                     self.uplink.stream_id, False, self.sample, self.timeout, stop=stop)
            except AuditUnavailable as exc:
                log.warning("periodic audit of the hub's ledger not possible now", extra={"reason": str(exc)})
                continue
            except Exception:
                log.exception("periodic audit failed unexpectedly")
                continue
            if self.last.ok:
                log.info("periodic audit of the hub's ledger: OK", extra={
                    "checked": self.last.checked, "pending": self.last.pending, "hub_size": self.last.hub_size})
