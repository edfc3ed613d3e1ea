"""``xiaoneng-hub verify``: re-check the whole store and name exactly what was tampered with.

It recomputes, from the stored bytes alone: every record's hash and its link to the previous record
of its stream (from the stream's genesis), every batch signature and the head it vouches for, every
ledger leaf and perfect-subtree node, the Merkle root at every signed checkpoint, and every
checkpoint signature. Nothing is trusted that could have been edited in the database.

That cannot show that the newest records were deleted and everything above them tidied away: with
``--witness`` (:func:`verify_witnesses`) the store is also checked against checkpoints kept outside
it (``hub.witness``, docs/ledger.md).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.store import STORED_LEVEL
from hub.witness import check_store, load_witnesses
from shared.batch import BatchHeader, verify_signature
from shared.canonical import parse
from shared.checkpoint import Checkpoint, verify_checkpoint
from shared.errors import ProofError, RecordError, VerificationError
from shared.ledger import leaf_data
from shared.merkle import EMPTY_ROOT, CompactRange, leaf_hash, node_hash
from shared.record import genesis_hash, link_fields, record_hash

MAX_PROBLEMS = 1000


def _blob(value: object) -> bytes:
    """Stored bytes, whatever type a tampered row now holds (TEXT, NULL, a number)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if value is None:
        return b""
    return str(value).encode("utf-8", "surrogatepass")


@dataclass
class VerifyReport:
    records: int = 0
    streams: int = 0
    batches: int = 0
    checkpoints: int = 0
    nodes_checked: int = 0
    witnesses: int = 0
    problems: list[str] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.truncated = True

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok, "records": self.records, "streams": self.streams, "batches": self.batches,
            "checkpoints": self.checkpoints, "nodes_checked": self.nodes_checked,
            "witnesses": self.witnesses, "problems": self.problems, "truncated": self.truncated,
        }


def verify_store(
    conn: sqlite3.Connection,
    agent_key: Callable[[str], bytes | None],
    hub_key: Ed25519PublicKey | None,
) -> VerifyReport:
    """Verify everything in the hub database ``conn``. ``agent_key`` returns an agent's registered
    public key, revoked agents included (their old records were signed while they were valid)."""
    report = VerifyReport()
    checkpoints = {
        int(size): (_blob(root), str(body))
        for size, root, body in conn.execute("SELECT size, root, body FROM checkpoints")
    }
    heads: dict[tuple[str, str], tuple[int, bytes]] = {}
    frontier = CompactRange()
    expected_id = 1
    roots: dict[int, bytes] = {0: EMPTY_ROOT}
    for rid, agent, stream, seq, stored_hash, stored_leaf, raw in conn.execute(
        "SELECT id, agent_id, stream_id, seq, hash, leaf, raw FROM records ORDER BY id"
    ):
        report.records += 1
        where = f"record #{rid} ({agent}/{stream} seq {seq})"
        if rid != expected_id:
            report.add(f"ledger leaves #{expected_id}..#{rid - 1} are missing (records deleted)")
            for _ in range(expected_id, rid):
                frontier.append(b"\x00" * 32)
        expected_id = rid + 1
        raw = _blob(raw)
        digest = record_hash(raw)
        if digest != _blob(stored_hash):
            report.add(f"{where}: stored bytes do not match the stored hash — the record was altered")
        key = (agent, stream)
        last_seq, last_hash = heads.get(key, (0, b""))
        try:
            claimed_seq, prev = link_fields(raw)
        except RecordError as exc:
            report.add(f"{where}: stored bytes are not a valid record: {exc}")
            claimed_seq, prev = seq, ""
        if claimed_seq != seq:
            report.add(f"{where}: the signed bytes say seq {claimed_seq}")
        if seq != last_seq + 1:
            report.add(f"{where}: expected seq {last_seq + 1} of this stream (records missing or moved)")
        expected_prev = last_hash if last_seq else genesis_hash(agent, stream)
        if last_seq + 1 == seq and prev != expected_prev.hex():
            report.add(f"{where}: does not link to the previous record of its stream (chain broken)")
        heads[key] = (seq, digest)
        leaf = leaf_hash(leaf_data(agent, stream, seq, digest))
        if leaf != _blob(stored_leaf):
            report.add(f"{where}: ledger leaf hash differs from the recomputed one")
        frontier.append(leaf)
        if frontier.size in checkpoints:
            roots[frontier.size] = frontier.root()
    _verify_nodes(conn, frontier.size, report)
    report.streams = len(heads)

    for agent, stream, head_seq, head_hash in conn.execute(
        "SELECT agent_id, stream_id, head_seq, head_hash FROM streams"
    ):
        actual = heads.get((agent, stream))
        if actual is None or actual[0] != head_seq or actual[1] != _blob(head_hash):
            report.add(f"stream {agent}/{stream}: stored head seq {head_seq} does not match its records")

    _verify_batches(conn, agent_key, report)
    _verify_checkpoints(checkpoints, roots, frontier.size, hub_key, report)
    return report


def _level(conn: sqlite3.Connection, level: int) -> Iterator[tuple[int, bytes]]:
    """Nodes of ``level`` in index order: stored ones, or (below STORED_LEVEL) hashed from the
    stored leaves."""
    if level == 0:
        for rid, leaf in conn.execute("SELECT id, leaf FROM records ORDER BY id"):
            yield int(rid) - 1, _blob(leaf)
    elif level < STORED_LEVEL:
        pending: dict[int, bytes] = {}
        for idx, h in _level(conn, level - 1):
            pending[idx] = h
            if idx % 2:
                left, right = pending.pop(idx - 1, None), pending.pop(idx)
                if left is not None:
                    yield idx // 2, node_hash(left, right)
    else:
        for idx, h in conn.execute(
            "SELECT idx, hash FROM ledger_nodes WHERE level = ? ORDER BY idx", (level,)
        ):
            yield int(idx), _blob(h)


def _verify_nodes(conn: sqlite3.Connection, size: int, report: VerifyReport) -> None:
    """Every stored perfect-subtree node must hash its two stored children (level 0: the leaves,
    themselves checked against the recomputed ones), and every node the tree needs must exist."""
    level = STORED_LEVEL
    while size >> level:
        count = size >> level
        children = _level(conn, level - 1)
        child: dict[int, bytes] = {}
        seen = 0
        for idx, h in _level(conn, level):
            if idx >= count:
                report.add(f"ledger node level {level} index {idx} is stored but not part of the tree")
                continue
            while not (2 * idx in child and 2 * idx + 1 in child):
                nxt = next(children, None)
                if nxt is None or nxt[0] > 2 * idx + 1:
                    break
                child[nxt[0]] = nxt[1]
            left, right = child.pop(2 * idx, None), child.pop(2 * idx + 1, None)
            child = {k: v for k, v in child.items() if k > 2 * idx + 1}
            seen += 1
            report.nodes_checked += 1
            if left is None or right is None:
                report.add(f"ledger node level {level} index {idx}: a child node is missing")
            elif node_hash(left, right) != h:
                report.add(f"ledger node level {level} index {idx}: stored hash differs (ledger altered)")
        if seen != count:
            report.add(f"ledger level {level}: {count - seen} node(s) missing")
        level += 1


def _verify_batches(
    conn: sqlite3.Connection, agent_key: Callable[[str], bytes | None], report: VerifyReport
) -> None:
    keys: dict[str, Ed25519PublicKey | None] = {}
    covered: dict[tuple[str, str], int] = {}
    for bid, agent, stream, header_raw in conn.execute(
        "SELECT id, agent_id, stream_id, header FROM batches ORDER BY id"
    ):
        report.batches += 1
        where = f"batch #{bid} ({agent}/{stream})"
        try:
            header = BatchHeader.from_json(parse(_blob(header_raw)))
        except RecordError as exc:
            report.add(f"{where}: stored header is malformed: {exc}")
            continue
        if (header.agent, header.stream) != (agent, stream):
            report.add(f"{where}: header names {header.agent}/{header.stream}")
        if agent not in keys:
            raw = agent_key(agent)
            keys[agent] = Ed25519PublicKey.from_public_bytes(raw) if raw else None
        key = keys[agent]
        if key is None:
            report.add(f"{where}: agent {agent} has no registered key")
            continue
        try:
            verify_signature(header, key)
        except VerificationError as exc:
            report.add(f"{where}: {exc}")
            continue
        row = conn.execute(
            "SELECT hash FROM records WHERE agent_id = ? AND stream_id = ? AND seq = ?",
            (agent, stream, header.last),
        ).fetchone()
        if row is None or _blob(row[0]).hex() != header.head:
            report.add(f"{where}: the signed head (seq {header.last}) does not match the stored record")
        k = (agent, stream)
        covered[k] = max(covered.get(k, 0), header.last)
    for agent, stream, head_seq in conn.execute("SELECT agent_id, stream_id, head_seq FROM streams"):
        if covered.get((agent, stream), 0) < head_seq:
            report.add(
                f"stream {agent}/{stream}: records after seq {covered.get((agent, stream), 0)} "
                "are not covered by any stored batch signature"
            )


def _verify_checkpoints(
    checkpoints: dict[int, tuple[bytes, str]],
    roots: dict[int, bytes],
    size: int,
    hub_key: Ed25519PublicKey | None,
    report: VerifyReport,
) -> None:
    for cp_size, (root, body) in sorted(checkpoints.items()):
        report.checkpoints += 1
        where = f"checkpoint at size {cp_size}"
        if cp_size > size:
            report.add(f"{where}: the ledger has only {size} leaves (records deleted after signing)")
            continue
        if roots.get(cp_size) != root:
            report.add(f"{where}: recomputed root differs from the signed root (ledger rewritten)")
        try:
            cp = Checkpoint.from_json(json.loads(body))
        except (RecordError, ValueError) as exc:
            report.add(f"{where}: stored checkpoint is malformed: {exc}")
            continue
        if cp.size != cp_size or cp.root != root:
            report.add(f"{where}: stored columns differ from the signed checkpoint")
        if hub_key is not None:
            try:
                verify_checkpoint(cp, hub_key)
            except ProofError as exc:
                report.add(f"{where}: {exc}")


def verify_witnesses(
    conn: sqlite3.Connection, path: Path, hub_key: Ed25519PublicKey | None, report: VerifyReport
) -> None:
    """Check the store against the checkpoints in ``path`` (a file or a directory of them); each
    inconsistency, and each witness file that cannot be read, becomes a named problem."""
    try:
        found, bad = load_witnesses(path)
    except RecordError as exc:
        report.add(f"witness {path}: {exc}")
        return
    if not found and not bad:
        report.add(f"witness {path}: no checkpoint files (*.json) found")
    for result in [*bad, *check_store(conn, found, hub_key)]:
        report.witnesses += 1
        if not result.ok:
            report.add(f"witness {result.source} (size {result.size}): {result.problem}")
