"""An agent's identity bundle: its Ed25519 key and the ``agent.yaml`` it starts from.

``write_bundle`` puts two files, both mode 0600, in an output directory that is then copied to
the hall machine:

- ``agent.key`` — the private key, PEM PKCS#8, unencrypted;
- ``agent.yaml`` — ``agent_id``, ``site_id``, ``broker: {host, port, username, password}``,
  ``key_file`` and ``data_dir``. Both paths are written relative (``agent.key``, ``data``) and mean
  "relative to the directory holding agent.yaml", so the bundle stays valid wherever it is copied.
  The stream id is not here: the agent makes a new one for every outbox it creates.
  ``hub_public_key`` (64 hex digits, when given) is the hub's checkpoint key: the agent checks the
  checkpoints the hub publishes with it and audits the hub's ledger (docs/ledger.md).

With ``tls`` (a :class:`ClientTls`) three more files make the link mutual TLS: ``hub-ca.pem`` (the
pinned hub CA), ``agent-tls.pem`` (the client certificate, CN = agent id) and ``agent-tls.key``
(0600); ``broker`` then names them (``ca_file``, ``cert_file``, ``tls_key_file``) instead of a password.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provisioning.atomic import write_atomic
from shared.errors import ConfigError, ProvisioningError

KEY_FILE = "agent.key"
CONFIG_FILE = "agent.yaml"
CA_FILE = "hub-ca.pem"
TLS_CERT_FILE = "agent-tls.pem"
TLS_KEY_FILE = "agent-tls.key"


@dataclass(frozen=True)
class BrokerLogin:
    """Where and as whom an agent connects to the broker."""

    host: str
    port: int
    username: str
    password: str


@dataclass(frozen=True)
class ClientTls:
    """PEM texts of the hub CA, the agent's client certificate and its private key."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class Bundle:
    """Paths of a written bundle."""

    directory: Path
    key_file: Path
    config_file: Path


def generate_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def public_key_bytes(key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key (what the registry stores)."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """The private key as unencrypted PEM PKCS#8."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_key(path: Path) -> Ed25519PrivateKey:
    """Load an agent key written by ``write_bundle``; ConfigError names the file and the problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the agent key {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not an unencrypted PEM private key ({exc}); re-provision the agent"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def check_output_dir(directory: Path) -> None:
    """Refuse a directory that already holds a bundle (an agent key is never overwritten)."""
    for name in (KEY_FILE, CONFIG_FILE, TLS_KEY_FILE):
        if (directory / name).exists():
            raise ProvisioningError(
                f"{directory / name} already exists; choose an empty output directory "
                "(an agent key is never overwritten)"
            )


def write_bundle(
    directory: Path,
    *,
    agent_id: str,
    site_id: str,
    key: Ed25519PrivateKey,
    broker: BrokerLogin,
    data_dir: str = "data",
    hub_public_key: bytes | None = None,
    tls: ClientTls | None = None,
) -> Bundle:
    """Write ``agent.key`` and ``agent.yaml`` into ``directory`` (created if missing)."""
    check_output_dir(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProvisioningError(f"cannot create {directory}: {exc.strerror}") from None
    broker_section: dict[str, object] = {"host": broker.host, "port": broker.port, "username": broker.username}
    if tls is None:
        broker_section["password"] = broker.password
    else:
        broker_section.update(ca_file=CA_FILE, cert_file=TLS_CERT_FILE, tls_key_file=TLS_KEY_FILE)
    config: dict[str, object] = {
        "agent_id": agent_id,
        "site_id": site_id,
        "broker": broker_section,
        "key_file": KEY_FILE,
        "data_dir": data_dir,
    }
    if hub_public_key is not None:
        config["hub_public_key"] = hub_public_key.hex()
    text = (
        "# Xiaoneng agent identity, made by xiaoneng-provision. Keep it secret (mode 0600).\n"
        "# key_file and data_dir are relative to this file's directory.\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    )
    write_atomic(directory / KEY_FILE, private_key_pem(key), 0o600)
    if tls is not None:
        write_atomic(directory / CA_FILE, tls.ca_pem, 0o644)
        write_atomic(directory / TLS_CERT_FILE, tls.cert_pem, 0o644)
        write_atomic(directory / TLS_KEY_FILE, tls.key_pem, 0o600)
    write_atomic(directory / CONFIG_FILE, text, 0o600)
    return Bundle(directory, directory / KEY_FILE, directory / CONFIG_FILE)
