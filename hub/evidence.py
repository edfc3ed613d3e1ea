"""Build a case's evidence package from the hub's store (format and checks: :mod:`shared.evidence`).

``xiaoneng-hub evidence CASE_ID -o case.zip`` and the case page's download use
:func:`build_package` (the complaint and disclosure pages :func:`build_subject_package`, over the
records of one complaint or request): the case's records (``case_events``) with the records linking each to the
head of its signed batch, those batch headers, the agents' keys, inclusion proofs against the
newest signed checkpoint that covers them all, and a summary in Chinese; the manifest is signed
with the hub's key (``DATA/hub.key``).
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.engine.wording import event_name, when
from hub.store import NodeStore
from provisioning.hubkey import KEY_FILE, load_or_create_key
from shared.checkpoint import Checkpoint
from shared.evidence import fingerprint, write_package
from shared.merkle import inclusion_proof
from shared.timefmt import iso_local

MAX_CASE_RECORDS = 10_000


class EvidenceError(Exception):
    """The package cannot be built (unknown case, no checkpoint yet); the text says why."""


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()


def build_package(conn: sqlite3.Connection, data_dir: Path, case_id: str) -> bytes:
    """The evidence package of ``case_id`` as zip bytes. Raises :class:`EvidenceError`."""
    key = _hub_key(data_dir)
    try:
        case_rows = conn.execute(
            "SELECT r.id, r.agent_id, r.stream_id, r.seq, r.batch_id, r.type, r.ts FROM case_events e "
            "JOIN records r ON r.id = e.record_id WHERE e.case_id = ? ORDER BY r.id LIMIT ?",
            (case_id, MAX_CASE_RECORDS + 1),
        ).fetchall()
    except sqlite3.OperationalError as exc:
        raise EvidenceError(f"the store has no supervision tables ({exc}): is the supervision running?") from None
    if not case_rows:
        raise EvidenceError(f"案件 {case_id} 没有记录 / case {case_id!r} has no records (unknown case number?)")
    if len(case_rows) > MAX_CASE_RECORDS:
        raise EvidenceError(f"case {case_id} has more than {MAX_CASE_RECORDS} records")
    return _package(conn, key, case_id, f"案件 {case_id}", case_rows)


def build_subject_package(conn: sqlite3.Connection, data_dir: Path, label: str, title: str,
                          record_ids: list[int]) -> bytes:  # fmt: skip
    """The evidence package of the records ``record_ids`` of one complaint or disclosure request
    (``label`` names it in the manifest, e.g. ``complaint:TS-20261110-001``; ``title`` in the summary)."""
    key = _hub_key(data_dir)
    if not record_ids:
        raise EvidenceError(f"{label} 没有记录 / {label} has no records")
    if len(record_ids) > MAX_CASE_RECORDS:
        raise EvidenceError(f"{label} has more than {MAX_CASE_RECORDS} records")
    marks = ",".join("?" * len(record_ids))
    rows = conn.execute(f"SELECT id, agent_id, stream_id, seq, batch_id, type, ts FROM records WHERE id IN ({marks}) "
                        "ORDER BY id", record_ids).fetchall()  # fmt: skip
    return _package(conn, key, label, title, rows)


def _hub_key(data_dir: Path) -> Ed25519PrivateKey:
    key_path = data_dir / KEY_FILE
    if not key_path.exists():
        raise EvidenceError(f"{key_path} is missing: the hub has never signed anything")
    return load_or_create_key(key_path)


def _package(conn: sqlite3.Connection, key: Ed25519PrivateKey, case_id: str, title: str,
             case_rows: list[Any]) -> bytes:  # fmt: skip
    newest = max(int(r[0]) for r in case_rows)
    row = conn.execute(
        "SELECT body FROM checkpoints WHERE size >= ? ORDER BY size DESC LIMIT 1", (newest,)
    ).fetchone()
    if row is None:
        raise EvidenceError(
            f"案件最新记录尚未纳入检查点 / the case's newest record (ledger leaf {newest - 1}) is not yet covered "
            "by a signed checkpoint: the running hub signs one every 10 s — try again shortly")
    cp = Checkpoint.from_json(json.loads(row[0]))
    case_ids = {int(r[0]) for r in case_rows}
    batch_ids = sorted({int(r[4]) for r in case_rows})
    batches = {
        int(b[0]): (int(b[1]), int(b[2]), bytes(b[3]))
        for b in (conn.execute("SELECT id, first, last, header FROM batches WHERE id = ?", (bid,)).fetchone()
                  for bid in batch_ids) if b is not None
    }
    wanted: dict[int, tuple[str, str, int, int]] = {}
    for _, agent, stream, seq, bid, _, _ in case_rows:
        last = batches[int(bid)][1] if int(bid) in batches else int(seq)
        for cid, cseq in conn.execute(
            "SELECT id, seq FROM records WHERE agent_id = ? AND stream_id = ? AND seq BETWEEN ? AND ?",
            (agent, stream, seq, last),
        ):
            wanted.setdefault(int(cid), (str(agent), str(stream), int(cseq), int(bid)))
    records = []
    for rid in sorted(wanted):
        agent, stream, seq, bid = wanted[rid]
        raw = conn.execute("SELECT raw FROM records WHERE id = ?", (rid,)).fetchone()[0]
        records.append({
            "agent": agent, "stream": stream, "seq": seq, "leaf_index": rid - 1, "batch": bid,
            "case_record": rid in case_ids, "raw": base64.b64encode(bytes(raw)).decode("ascii"),
        })
    nodes = NodeStore(conn)
    proofs = [{"leaf_index": rid - 1, "proof": [h.hex() for h in inclusion_proof(rid - 1, cp.size, nodes)]}
              for rid in sorted(case_ids)]
    agents = sorted({str(r[1]) for r in case_rows})
    agent_keys = {a: bytes(k[0]).hex() for a in agents
                  if (k := conn.execute("SELECT public_key FROM agents WHERE agent_id = ?", (a,)).fetchone())}
    from cryptography.hazmat.primitives import serialization

    hub_raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    created = iso_local(time.time())
    summary = _summary(case_id, title, created, cp, case_rows, agent_keys, hub_raw, len(records))
    members = {
        "records.json": _json(records),
        "batches.json": _json([{"id": bid, "first": f, "last": last, "header": base64.b64encode(h).decode("ascii")}
                               for bid, (f, last, h) in sorted(batches.items())]),
        "keys.json": _json({"agents": agent_keys}),
        "checkpoint.json": _json(cp.to_json()),
        "proofs.json": _json({"tree_size": cp.size, "inclusion": proofs}),
        "summary.txt": summary.encode(),
    }
    return write_package(key, case_id, created, cp.origin, members)


def _summary(case_id: str, title: str, created: str, cp: Checkpoint, case_rows: list[Any],
             agent_keys: dict[str, str], hub_raw: bytes, total: int) -> str:
    lines = [
        f"效能 证据包 — {title}",
        "",
        f"生成时间：{when(created)}",
        f"账本：{cp.origin}，检查点 {cp.size} 条（签名时间 {when(cp.timestamp)}）",
        f"检查点根哈希：{cp.root.hex()}",
        f"中心公钥指纹：{fingerprint(hub_raw)}",
        "",
        f"本案记录 {len(case_rows)} 条（另含 {total - len(case_rows)} 条链接至批次签名的相邻记录）：",
    ]
    for rid, agent, stream, seq, _, type_, ts in case_rows:
        lines.append(f"  {when(str(ts))}  {event_name(str(type_))}（{type_}）  代理 {agent} 流 {stream} 序号 {seq}  "
                     f"账本位置 {rid - 1}")
    lines += ["", "代理公钥指纹："]
    lines += [f"  {a}：{fingerprint(bytes.fromhex(k))}" for a, k in sorted(agent_keys.items())]
    lines += [
        "",
        "如何校验：在任意电脑上运行",
        "  xiaoneng-verify-evidence 本文件.zip --hub-key <中心公钥>",
        "（中心公钥由中心管理员用 xiaoneng-hub checkpoint key 给出，也写在每个代理的 agent.yaml 中）",
        "它检查：清单的中心签名与每个文件的哈希；检查点签名；每条记录的哈希链直到代理签名的批次；",
        "每条本案记录在已签名账本中的包含证明（RFC 6962）。任何一个字节被改动都会失败，并指出被改动的文件。",
        "中心公钥应向中心核实（指纹见上），而不只是相信包内所附的公钥。",
        "",
        f"Xiaoneng evidence package for case {case_id}: records, batch signatures, agent keys, inclusion "
        f"proofs against checkpoint {cp.size}; verify with xiaoneng-verify-evidence.",
        "",
    ]
    return "\n".join(lines)
