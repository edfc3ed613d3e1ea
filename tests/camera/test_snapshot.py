"""Evidence snapshots: stored by SHA-256, read back by hash, tampering detected."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.camera.snapshot import SnapshotError, SnapshotStore, read_snapshot, save_snapshot, snapshot_path
from agent.camera.synthetic import SyntheticScene


def test_frame_round_trip(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    frame = SyntheticScene().render(5.0)
    ref = store.save(frame)
    data = store.read(ref)
    assert hashlib.sha256(data).hexdigest() == ref
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape == frame.shape
    assert np.abs(decoded.astype(int) - frame.astype(int)).mean() < 3  # it is that frame
    assert store.save(frame) == ref  # idempotent
    assert snapshot_path(tmp_path, ref).is_file()
    assert not list(tmp_path.rglob(".tmp-*"))


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000))
def test_bytes_round_trip(tmp_path: Path, data: bytes) -> None:
    ref = save_snapshot(tmp_path, data)
    assert ref == hashlib.sha256(data).hexdigest()
    assert read_snapshot(tmp_path, ref) == data


def test_tampered_missing_and_malformed(tmp_path: Path) -> None:
    ref = save_snapshot(tmp_path, b"\xff\xd8evidence")
    snapshot_path(tmp_path, ref).write_bytes(b"\xff\xd8forged")
    with pytest.raises(SnapshotError, match="does not match its hash"):
        read_snapshot(tmp_path, ref)
    with pytest.raises(SnapshotError, match="no snapshot"):
        read_snapshot(tmp_path, "0" * 64)
    for bad in ("../../etc/passwd", "A" * 64, "0" * 63, ""):
        with pytest.raises(SnapshotError, match="64 lowercase hex"):
            read_snapshot(tmp_path, bad)
