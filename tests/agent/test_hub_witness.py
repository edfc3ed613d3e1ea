"""The agent's side of the witnessed ledger: which hub checkpoints it keeps, and the hashes of its
acknowledged records (docs/ledger.md)."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.checkpoints import HubWitness
from agent.outbox import Outbox, OutboxLimits
from shared.checkpoint import Checkpoint, sign_checkpoint

HUB = Ed25519PrivateKey.generate()
TS = "2026-12-03T10:00:00+08:00"


def cp(size: int, root: int = 1, key: Ed25519PrivateKey = HUB) -> bytes:
    return json.dumps(sign_checkpoint(key, "hub", size, bytes([root]) * 32, TS).to_json()).encode()


def sizes(w: HubWitness) -> tuple[int | None, int | None]:
    anchor, latest = w.get("anchor"), w.get("latest")
    return (anchor.size if anchor else None, latest.size if latest else None)


def test_keeps_the_newest_valid_checkpoint_and_flags_rollbacks_and_forks(tmp_path: Path) -> None:
    w = HubWitness(tmp_path / "outbox.sqlite", HUB.public_key())
    assert w.offer(cp(10)) is None and sizes(w) == (10, 10)
    assert w.offer(cp(25)) is None and sizes(w) == (10, 25)
    assert w.offer(cp(25)) is None  # the same again (retained message on reconnect)
    rollback = w.offer(cp(20))
    assert rollback and "rolled back or truncated" in rollback and sizes(w) == (10, 25)
    fork = w.offer(cp(25, root=2))
    assert fork and "forked" in fork and sizes(w) == (10, 25)
    assert w.offer(cp(99, key=Ed25519PrivateKey.generate())) is None and sizes(w) == (10, 25)
    assert w.offer(b"{" * 100_000) is None and w.offer(b"[1]") is None and sizes(w) == (10, 25)
    kept = w.kept()
    assert [k.size for k in kept] == [10, 25] and all(isinstance(k, Checkpoint) for k in kept)
    w.advance(Checkpoint.from_json(json.loads(cp(40))))
    assert sizes(w) == (40, 40)
    w.close()


def test_acknowledged_records_leave_their_hashes_behind(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "outbox.sqlite", "a1", OutboxLimits(keep_acked=5))
    hashes = {}
    for i in range(12):
        seq = ob.append("test.synthetic", TS, {"n": i})
        hashes[seq] = ob.read(seq - 1, 1)[0].hash
    ob.ack(4)
    ob.ack(9)
    w = HubWitness(tmp_path / "outbox.sqlite", HUB.public_key())
    assert w.acked() == [(s, hashes[s]) for s in range(9, 4, -1)]  # the newest keep_acked of 9
    assert w.acked(limit=2) == [(9, hashes[9]), (8, hashes[8])]
    assert ob.stats().depth == 3
    w.close()
    ob.close()


def test_audit_without_a_hub_key_or_an_outbox_says_why(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agent.cli import main
    from provisioning.identity import BrokerLogin, generate_key, write_bundle

    plain = write_bundle(tmp_path / "old", agent_id="a1", site_id="s", key=generate_key(),
                         broker=BrokerLogin("127.0.0.1", 1, "a1", "pw"))
    out = CliRunner().invoke(main, ["audit", "--config", str(plain.config_file)])
    assert out.exit_code == 2 and "hub_public_key" in out.output
    keyed = write_bundle(tmp_path / "new", agent_id="a1", site_id="s", key=generate_key(),
                         broker=BrokerLogin("127.0.0.1", 1, "a1", "pw"),
                         hub_public_key=HUB.public_key().public_bytes_raw())
    assert "hub_public_key: " + HUB.public_key().public_bytes_raw().hex() in keyed.config_file.read_text()
    out = CliRunner().invoke(main, ["audit", "--config", str(keyed.config_file)])
    assert out.exit_code == 2 and "has not run yet" in out.output
    assert not (tmp_path / "new" / "data" / "outbox.sqlite").exists()
