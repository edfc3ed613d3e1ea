"""The hub's signing key (``DATA/hub.key``): it signs ledger checkpoints and evidence packages.

Created on first use (by the hub's first start or by ``xiaoneng-provision agent add``, whichever
comes first) as unencrypted PEM PKCS#8, mode 0600, never overwritten. Agents get its *public* half
in their bundle (``hub_public_key`` in ``agent.yaml``, 64 hex digits) so they can check the
checkpoints the hub publishes.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.errors import ConfigError

KEY_FILE = "hub.key"


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The key at ``path``, created (mode 0600, exclusively) when the file does not exist."""
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{path} is not an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path} is not an Ed25519 private key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it just now: use theirs
        return load_or_create_key(path)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    return key


def hub_public_key(data_dir: Path) -> bytes:
    """The raw 32-byte public key of the hub whose data directory is ``data_dir`` (key created if
    missing)."""
    key = load_or_create_key(data_dir / KEY_FILE).public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
