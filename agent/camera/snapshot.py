"""JPEG snapshots kept as evidence, addressed by the SHA-256 of their bytes.

A ``presence.*`` or ``queue.long`` record carries ``snapshot_ref``, the hex SHA-256 of the JPEG
file; the hub fetches the file by that hash and can check it against the signed record. Files live
at ``<dir>/<ref[:2]>/<ref>.jpg`` and are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from shared.errors import XiaonengError

_REF = re.compile(r"^[0-9a-f]{64}$")


class SnapshotError(XiaonengError):
    """A snapshot cannot be encoded, found, or does not match its hash."""


def snapshot_path(directory: Path, ref: str) -> Path:
    """Where the snapshot ``ref`` is stored. Raises :class:`SnapshotError` for a malformed ref."""
    if not _REF.match(ref):
        raise SnapshotError(f"snapshot ref {ref[:80]!r} is not 64 lowercase hex digits")
    return directory / ref[:2] / f"{ref}.jpg"


def encode_jpeg(frame: npt.NDArray[np.uint8], quality: int = 85) -> bytes:
    """The frame as JPEG bytes."""
    ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise SnapshotError(f"cannot encode a {frame.shape} frame as JPEG")
    return bytes(buffer.tobytes())


def save_snapshot(directory: Path, jpeg: bytes) -> str:
    """Store JPEG bytes; return their ref (hex SHA-256). Saving the same bytes twice is harmless."""
    ref = hashlib.sha256(jpeg).hexdigest()
    path = snapshot_path(directory, ref)
    if path.exists():
        return ref
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".jpg")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(jpeg)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return ref


def read_snapshot(directory: Path, ref: str) -> bytes:
    """The JPEG bytes of ``ref``, checked against the hash. Raises :class:`SnapshotError`."""
    path = snapshot_path(directory, ref)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SnapshotError(f"no snapshot {ref} under {directory}") from None
    if hashlib.sha256(data).hexdigest() != ref:
        raise SnapshotError(f"snapshot {path} does not match its hash (file altered)")
    return data


class SnapshotStore:
    """Saves frames as evidence JPEGs under one directory."""

    def __init__(self, directory: Path, quality: int = 85) -> None:
        self.directory = Path(directory)
        self.quality = quality

    def save(self, frame: npt.NDArray[np.uint8]) -> str:
        """Encode and store ``frame``; return its ref."""
        return save_snapshot(self.directory, encode_jpeg(frame, self.quality))

    def read(self, ref: str) -> bytes:
        """The stored JPEG bytes of ``ref`` (hash-checked)."""
        return read_snapshot(self.directory, ref)
