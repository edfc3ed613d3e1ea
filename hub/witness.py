"""Checkpoints kept outside the hub's database, and checking the store against them (§4.3).

A log checked only against itself cannot show that its newest entries were removed: whoever deletes
the newest records can also tidy the stream heads, the ledger nodes and the checkpoints above them.
So the hub's signed checkpoints are also kept elsewhere:

- ``DATA/witness/published.json``: the newest checkpoint the hub has published, written atomically
  (temp file, fsync, rename) *before* it is published to the agents. ``xiaoneng-hub run`` refuses
  to start on a store that is smaller than it or disagrees with it (a restored backup, a rolled-back
  or truncated file) unless told ``--allow-rollback``.
- exported files (``xiaoneng-hub checkpoint export -o FILE``), kept by an operator or an upper-level
  hub, and the checkpoints the agents keep (``xiaoneng-agent audit``).

:func:`check_store` checks a store against any number of them: a witnessed checkpoint of size ``n``
must carry the hub's valid signature, and the root of the store's first ``n`` leaves must equal its
root; a store with fewer than ``n`` leaves was truncated.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.store import NodeStore
from shared.checkpoint import Checkpoint, verify_checkpoint
from shared.errors import ProofError, RecordError
from shared.merkle import root_at

WITNESS_DIR = "witness"
PUBLISHED_FILE = "published.json"


def published_path(data_dir: Path) -> Path:
    return data_dir / WITNESS_DIR / PUBLISHED_FILE


def write_checkpoint_file(path: Path, cp: Checkpoint) -> None:
    """Write ``cp`` (JSON form) to ``path`` atomically: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(cp.to_json(), indent=1, sort_keys=True) + "\n").encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_checkpoint_file(path: Path) -> Checkpoint:
    """Parse one checkpoint file; raises :class:`RecordError` naming the file."""
    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise RecordError(f"{path}: not a readable checkpoint file ({exc})") from None
    try:
        return Checkpoint.from_json(value)
    except RecordError as exc:
        raise RecordError(f"{path}: {exc}") from None


def witness_files(path: Path) -> list[Path]:
    """``path`` itself, or every ``*.json`` file under a directory (sorted)."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*.json") if p.is_file())
    if not path.exists():
        raise RecordError(f"witness {path} does not exist")
    return [path]


@dataclass(frozen=True)
class WitnessResult:
    source: str
    size: int
    timestamp: str
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def check_checkpoint(
    conn: sqlite3.Connection, cp: Checkpoint, hub_key: Ed25519PublicKey | None, source: str
) -> WitnessResult:
    """Is the store ``conn`` consistent with the witnessed checkpoint ``cp``?"""

    def fail(problem: str) -> WitnessResult:
        return WitnessResult(source, cp.size, cp.timestamp, problem)

    if hub_key is None:
        return fail("the hub's key is missing (DATA/hub.key): cannot check the witness's signature")
    try:
        verify_checkpoint(cp, hub_key)
    except ProofError as exc:
        return fail(f"not a checkpoint of this hub: {exc}")
    size = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM records").fetchone()[0])
    if size < cp.size:
        return fail(
            f"truncated: the witness saw {cp.size} ledger leaves signed at {cp.timestamp}, the store "
            f"has only {size} — the newest {cp.size - size} record(s) were deleted after signing"
        )
    try:
        root = root_at(NodeStore(conn), cp.size)
    except (LookupError, ValueError) as exc:
        return fail(f"the store cannot rebuild the tree of {cp.size} leaves ({exc}): ledger damaged")
    if root != cp.root:
        return fail(
            f"rewritten: the store's first {cp.size} leaves have root {root.hex()[:16]}…, the hub "
            f"signed {cp.root.hex()[:16]}… at {cp.timestamp} — records were changed or removed"
        )
    return WitnessResult(source, cp.size, cp.timestamp)


def check_store(
    conn: sqlite3.Connection, witnesses: Iterable[tuple[str, Checkpoint]], hub_key: Ed25519PublicKey | None
) -> list[WitnessResult]:
    """Check the store against every ``(source, checkpoint)``."""
    return [check_checkpoint(conn, cp, hub_key, source) for source, cp in witnesses]


def load_witnesses(path: Path) -> tuple[list[tuple[str, Checkpoint]], list[WitnessResult]]:
    """Checkpoints in ``path`` (a file or a directory of ``*.json``), and a failed result for each
    file that is not a checkpoint (a witness that cannot be read is a problem, not a pass)."""
    found: list[tuple[str, Checkpoint]] = []
    bad: list[WitnessResult] = []
    for file in witness_files(path):
        try:
            found.append((str(file), read_checkpoint_file(file)))
        except RecordError as exc:
            bad.append(WitnessResult(str(file), 0, "", str(exc)))
    return found, bad


class RolledBack(Exception):
    """The store is older than (or disagrees with) the newest checkpoint the hub published."""


def startup_check(data_dir: Path, db_path: Path, hub_key: Ed25519PublicKey) -> Checkpoint | None:
    """Refuse (:class:`RolledBack`) a store behind ``DATA/witness/published.json``.

    Returns the published checkpoint (None when the hub never published one)."""
    path = published_path(data_dir)
    if not path.exists():
        return None
    try:
        cp = read_checkpoint_file(path)
    except RecordError as exc:
        raise RolledBack(f"{exc}; if the file was damaged, investigate before starting") from None
    if not db_path.exists():
        raise RolledBack(
            f"拒绝启动：数据库不存在，但本中心已发布过 {cp.size} 条的检查点 / refusing to start: {db_path} "
            f"is missing but this hub already published a checkpoint of {cp.size} leaves ({path}). "
            "Restore hub.sqlite; start anyway only knowingly, with --allow-rollback."
        )
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        result = check_checkpoint(conn, cp, hub_key, str(path))
    finally:
        conn.close()
    if not result.ok:
        raise RolledBack(
            f"拒绝启动：数据库落后于或不符合已发布的检查点 / refusing to start: the store is behind or "
            f"disagrees with the checkpoint this hub already published ({path}): {result.problem}. "
            "Was the database restored from a backup, or were records deleted? Investigate with "
            f"`xiaoneng-hub verify --data {data_dir} --witness {path}` and the agents' "
            "`xiaoneng-agent audit`; restore the newest copy of hub.sqlite. Start anyway only "
            "knowingly, with --allow-rollback (the refusal and the override are logged)."
        )
    return cp
