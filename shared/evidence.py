"""Evidence packages: a case's signed records with everything needed to check them offline (§4.3).

A package is a zip file holding:

``manifest.json``  format, case id, time, the log's origin, the hub's public key (hex) and the
                   SHA-256 of every other member
``manifest.sig``   the hub's Ed25519 signature (base64) of ``b"xiaoneng/v1/evidence\\0" + manifest``
``records.json``   the exact signed records (base64 of their canonical bytes) with their place
                   (agent, stream, seq, ledger leaf index): the case's own records, plus the records
                   that link each of them to the head its batch signature vouches for
``batches.json``   the exact batch headers (base64) whose agent signatures cover those records
``keys.json``      the agents' registered public keys (hex)
``checkpoint.json`` one signed checkpoint of the hub's ledger
``proofs.json``    an RFC 6962 inclusion proof of each case record against that checkpoint
``summary.txt``    a readable summary in Chinese (with the key fingerprints to compare)

:func:`verify_package` needs nothing but the file (and, ideally, the hub's key fingerprint learnt
elsewhere, ``--hub-key``): it checks the zip container, the signed manifest, every member's hash,
the checkpoint's signature, each batch signature, each record's hash chain up to its batch head and
each inclusion proof, and names what is wrong. ``xiaoneng-verify-evidence`` is its command.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import struct
import sys
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.batch import BatchHeader, verify_signature
from shared.canonical import parse
from shared.checkpoint import Checkpoint, verify_checkpoint
from shared.errors import ProofError, RecordError, VerificationError
from shared.ledger import leaf_data
from shared.merkle import leaf_hash, verify_inclusion
from shared.record import link_fields, record_hash

FORMAT = "xiaoneng-evidence/1"
EVIDENCE_TAG = b"xiaoneng/v1/evidence\x00"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MEMBERS = ("records.json", "batches.json", "keys.json", "checkpoint.json", "proofs.json", "summary.txt")
MAX_PACKAGE_BYTES = 512 * 1024 * 1024


def fingerprint(public_key: bytes) -> str:
    """A short, comparable fingerprint of a raw public key (SHA-256, first 16 bytes, grouped)."""
    digest = hashlib.sha256(public_key).hexdigest()[:32]
    return ":".join(digest[i:i + 4] for i in range(0, 32, 4))


def _dump(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()


def write_package(
    key: Ed25519PrivateKey, case_id: str, created_at: str, origin: str, members: dict[str, bytes]
) -> bytes:
    """Zip ``members`` (exactly :data:`MEMBERS`) with a manifest signed by the hub's ``key``."""
    if set(members) != set(MEMBERS):
        raise ValueError(f"an evidence package has exactly the members {', '.join(MEMBERS)}")
    from cryptography.hazmat.primitives import serialization

    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    manifest = _dump({
        "format": FORMAT, "case_id": case_id, "created_at": created_at, "origin": origin,
        "hub_public_key": public.hex(),
        "members": {name: hashlib.sha256(members[name]).hexdigest() for name in MEMBERS},
    })
    signature = base64.b64encode(key.sign(EVIDENCE_TAG + manifest)) + b"\n"
    return _container([(MANIFEST, manifest), (SIGNATURE, signature), *((n, members[n]) for n in MEMBERS)])


def _container(members: Sequence[tuple[str, bytes]]) -> bytes:
    """The canonical zip of ``members``: stored (not compressed), fixed times and attributes, so
    the same members always give the same bytes and a changed byte anywhere in the file — member
    data or zip metadata — can be found by rebuilding it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return out.getvalue()


def _region(canonical: bytes, offset: int) -> str:
    """Which part of the canonical zip ``offset`` falls in (a member's header and data, or the
    zip directory)."""
    with zipfile.ZipFile(io.BytesIO(canonical)) as zf:
        infos = sorted(zf.infolist(), key=lambda i: i.header_offset)
        end = zf.start_dir
    for info, nxt in zip(infos, [*(i.header_offset for i in infos[1:]), end]):
        if info.header_offset <= offset < nxt:
            return f"{info.filename} (its zip header)"
    return "the zip directory"


@dataclass
class EvidenceReport:
    case_id: str = ""
    records: int = 0
    case_records: int = 0
    batches: int = 0
    checkpoint_size: int = 0
    hub_key: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "case_id": self.case_id, "records": self.records,
            "case_records": self.case_records, "batches": self.batches,
            "checkpoint_size": self.checkpoint_size, "hub_key_fingerprint": self.hub_key,
            "problems": self.problems, "notes": self.notes,
        }


class _Stop(Exception):
    pass


def _json(members: dict[str, bytes], name: str, report: EvidenceReport) -> Any:
    try:
        return json.loads(members[name])
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        report.problems.append(f"{name}: 不是有效的 JSON / not valid JSON ({exc})")
        raise _Stop from None


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise RecordError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise RecordError(f"{what} is not valid base64") from None


def verify_package(data: bytes, pinned_hub_key: bytes | None = None) -> EvidenceReport:
    """Check an evidence package completely; every problem names the member (and item) at fault."""
    report = EvidenceReport()
    try:
        _verify(data, pinned_hub_key, report)
    except _Stop:
        pass
    return report


def _read_zip(data: bytes, report: EvidenceReport) -> dict[str, bytes]:
    if len(data) > MAX_PACKAGE_BYTES:
        report.problems.append(f"证据包过大 / package larger than {MAX_PACKAGE_BYTES} bytes")
        raise _Stop
    members: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            if len(names) != len(set(names)):
                report.problems.append("zip: 成员重名 / a member name occurs twice")
                raise _Stop
            for name in names:
                try:
                    members[name] = zf.read(name)
                except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, ValueError,
                        NotImplementedError) as exc:
                    report.problems.append(f"{name}: 压缩包中该成员已损坏 / damaged in the zip container ({exc})")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, ValueError,
            NotImplementedError, struct.error) as exc:
        report.problems.append(f"zip: 不是完整的证据包 / not an intact zip file ({exc})")
        raise _Stop from None
    expected = {MANIFEST, SIGNATURE, *MEMBERS}
    for name in sorted(expected - set(members)):
        if not any(p.startswith(f"{name}:") for p in report.problems):
            report.problems.append(f"{name}: 缺少该成员 / member missing")
    for name in sorted(set(members) - expected):
        report.problems.append(f"{name}: 多出的成员 / unexpected member (not part of the package format)")
    if report.problems:
        raise _Stop
    return members


def _check_container(data: bytes, members: dict[str, bytes], report: EvidenceReport) -> None:
    """With every member intact, the file must still be byte for byte the zip the hub wrote."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        order = zf.namelist()
    canonical = _container([(name, members[name]) for name in order])
    if canonical != data:
        offset = next((i for i, (a, b) in enumerate(zip(canonical, data)) if a != b), min(len(canonical), len(data)))
        report.problems.append(
            f"zip: 第 {offset} 字节被改动（{_region(canonical, offset)}）/ byte {offset} changed, in "
            f"{_region(canonical, offset)}: the container is not as the hub wrote it")


def _verify(data: bytes, pinned: bytes | None, report: EvidenceReport) -> None:
    members = _read_zip(data, report)
    manifest = _json(members, MANIFEST, report)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(
            manifest.get("members"), dict):
        report.problems.append(f"{MANIFEST}: 格式不符 / not a {FORMAT} manifest")
        raise _Stop
    report.case_id = str(manifest.get("case_id", ""))
    try:
        hub_raw = bytes.fromhex(str(manifest.get("hub_public_key", "")))
        hub_key = Ed25519PublicKey.from_public_bytes(hub_raw)
    except ValueError:
        report.problems.append(f"{MANIFEST}: hub_public_key 无效 / is not an Ed25519 public key")
        raise _Stop from None
    report.hub_key = fingerprint(hub_raw)
    try:
        sig = base64.b64decode(members[SIGNATURE].strip(), validate=True)
        hub_key.verify(sig, EVIDENCE_TAG + members[MANIFEST])
    except (binascii.Error, ValueError, InvalidSignature):
        report.problems.append(
            f"{MANIFEST} / {SIGNATURE}: 签名不符，清单或签名被改动 / the hub's signature does not verify: "
            "the manifest or its signature was changed")
        raise _Stop from None
    if pinned is not None and pinned != hub_raw:
        report.problems.append(
            f"{MANIFEST}: 签名者不是指定的中心 / signed by key {fingerprint(hub_raw)}, not the hub key given "
            f"({fingerprint(pinned)})")
        raise _Stop
    if pinned is None:
        report.notes.append(
            f"中心公钥指纹 / hub key fingerprint {fingerprint(hub_raw)}: compare it with the hub's own "
            "(or pass --hub-key) — the package proves only that this key signed it")
    listed = manifest["members"]
    if set(listed) != set(MEMBERS):
        report.problems.append(f"{MANIFEST}: 成员清单不符 / lists {sorted(listed)}, expected {list(MEMBERS)}")
        raise _Stop
    for name in MEMBERS:
        if hashlib.sha256(members[name]).hexdigest() != listed[name]:
            report.problems.append(
                f"{name}: 内容已被改动 / changed: its SHA-256 differs from the signed manifest")
    if report.problems:
        raise _Stop
    _check_container(data, members, report)
    _verify_contents(members, manifest, hub_key, report)


def _verify_contents(
    members: dict[str, bytes], manifest: dict[str, Any], hub_key: Ed25519PublicKey, report: EvidenceReport
) -> None:
    """The members' meaning: signatures, chains, proofs (each member already matches the manifest,
    so a problem here is a package the hub built wrongly, or a forged one signed with its key)."""
    try:
        cp = Checkpoint.from_json(_json(members, "checkpoint.json", report))
        verify_checkpoint(cp, hub_key, str(manifest.get("origin")))
    except (RecordError, ProofError) as exc:
        report.problems.append(f"checkpoint.json: {exc}")
        raise _Stop from None
    report.checkpoint_size = cp.size
    keys_doc = _json(members, "keys.json", report)
    agent_keys: dict[str, Ed25519PublicKey] = {}
    try:
        for agent, hexkey in dict(keys_doc["agents"]).items():
            agent_keys[str(agent)] = Ed25519PublicKey.from_public_bytes(bytes.fromhex(hexkey))
    except (KeyError, TypeError, ValueError, AttributeError):
        report.problems.append("keys.json: 代理公钥格式不符 / agents' keys are malformed")
        raise _Stop from None
    batches: dict[int, BatchHeader] = {}
    for i, item in enumerate(_list(_json(members, "batches.json", report), "batches.json", report)):
        where = f"batches.json[{i}]"
        try:
            header = BatchHeader.from_json(parse(_b64(item.get("header"), f"{where}.header")))
            key = agent_keys.get(header.agent)
            if key is None:
                raise RecordError(f"no key for agent {header.agent} in keys.json")
            verify_signature(header, key)
            batches[int(item["id"])] = header
        except (RecordError, VerificationError, KeyError, TypeError, ValueError) as exc:
            report.problems.append(f"{where}: {exc}")
    report.batches = len(batches)
    records: dict[tuple[str, str, int], tuple[bytes, int, int, bool]] = {}
    for i, item in enumerate(_list(_json(members, "records.json", report), "records.json", report)):
        where = f"records.json[{i}]"
        try:
            raw = _b64(item.get("raw"), f"{where}.raw")
            agent, stream, seq = str(item["agent"]), str(item["stream"]), int(item["seq"])
            claimed_seq, _ = link_fields(raw)
            if claimed_seq != seq:
                raise RecordError(f"the signed bytes say seq {claimed_seq}, the package says {seq}")
            records[(agent, stream, seq)] = (raw, int(item["leaf_index"]), int(item["batch"]),
                                             bool(item["case_record"]))
        except (RecordError, KeyError, TypeError, ValueError) as exc:
            report.problems.append(f"{where}: {exc}")
    report.records = len(records)
    _verify_chains(records, batches, report)
    proofs_doc = _json(members, "proofs.json", report)
    proofs = {int(p["leaf_index"]): p["proof"] for p in _list(proofs_doc.get("inclusion") if isinstance(
        proofs_doc, dict) else None, "proofs.json", report) if isinstance(p, dict) and "leaf_index" in p}
    for (agent, stream, seq), (raw, index, _, is_case) in sorted(records.items(), key=lambda r: r[1][1]):
        if not is_case:
            continue
        report.case_records += 1
        where = f"proofs.json: record {agent}/{stream} seq {seq} (leaf {index})"
        proof = proofs.get(index)
        if proof is None:
            report.problems.append(f"{where}: 缺少包含证明 / no inclusion proof")
            continue
        try:
            path = [bytes.fromhex(h) for h in proof]
            leaf = leaf_hash(leaf_data(agent, stream, seq, record_hash(raw)))
            verify_inclusion(leaf, index, cp.size, path, cp.root)
        except (ProofError, ValueError, TypeError) as exc:
            report.problems.append(f"{where}: {exc}")
    if report.case_records == 0:
        report.problems.append("records.json: 没有本案记录 / holds none of the case's records")


def _list(value: Any, name: str, report: EvidenceReport) -> list[Any]:
    if not isinstance(value, list):
        report.problems.append(f"{name}: 应为列表 / must hold a list")
        raise _Stop
    return [v if isinstance(v, dict) else {} for v in value]


def _verify_chains(
    records: dict[tuple[str, str, int], tuple[bytes, int, int, bool]],
    batches: dict[int, BatchHeader], report: EvidenceReport,
) -> None:
    """Each case record must link, record by record, to the head of a batch the agent signed."""
    for (agent, stream, seq), (raw, _, batch_id, is_case) in sorted(records.items()):
        if not is_case:
            continue
        where = f"records.json: record {agent}/{stream} seq {seq}"
        header = batches.get(batch_id)
        if header is None or (header.agent, header.stream) != (agent, stream) or not \
                header.first <= seq <= header.last:
            report.problems.append(f"{where}: 没有覆盖它的已签名批次 / no signed batch covers it")
            continue
        digest = record_hash(raw)
        ok = True
        for nxt in range(seq + 1, header.last + 1):
            following = records.get((agent, stream, nxt))
            if following is None:
                report.problems.append(f"{where}: seq {nxt} missing between it and its batch head")
                ok = False
                break
            _, prev = link_fields(following[0])
            if prev != digest.hex():
                report.problems.append(
                    f"{where}: 哈希链断裂 / chain broken: seq {nxt} does not link to seq {nxt - 1}")
                ok = False
                break
            digest = record_hash(following[0])
        if ok and digest.hex() != header.head:
            report.problems.append(
                f"{where}: 与批次签名不符 / the chain does not end at the head the agent signed "
                f"(batch {header.first}-{header.last})")


def main(argv: Sequence[str] | None = None) -> int:
    """``xiaoneng-verify-evidence PACKAGE.zip [--hub-key HEX] [--json]``: exit 0 only when intact."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="xiaoneng-verify-evidence",
        description="离线校验证据包 / Check a Xiaoneng evidence package offline.")
    parser.add_argument("package")
    parser.add_argument("--hub-key", default=None,
                        help="the hub's public key (64 hex digits), learnt from the hub itself")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    pinned = None
    if args.hub_key:
        try:
            pinned = bytes.fromhex(args.hub_key)
        except ValueError:
            parser.error("--hub-key must be 64 hex digits")
    try:
        with open(args.package, "rb") as fh:
            data = fh.read(MAX_PACKAGE_BYTES + 1)
    except OSError as exc:
        print(f"无法读取 / cannot read {args.package}: {exc.strerror}", file=sys.stderr)
        return 2
    report = verify_package(data, pinned)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print(f"案件 case {report.case_id or '?'}: 记录 records {report.records} "
              f"(本案 case {report.case_records}), 批次 batches {report.batches}, "
              f"检查点 checkpoint size {report.checkpoint_size}")
        for note in report.notes:
            print(f"  · {note}")
        for problem in report.problems:
            print(f"  ✗ {problem}")
        print("证据包完好 / evidence package intact" if report.ok
              else f"证据包校验失败 / evidence package FAILED: {len(report.problems)} problem(s)")
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
