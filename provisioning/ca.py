"""The hub's own certificate authority and the certificates it issues.

One CA per hub, made at first use in ``DATA/web-tls/`` (``ca.pem``, ``ca.key``; the folder name is
historical: the web UI's ``--tls-self-issued`` made it first). It signs

- the web UI's server certificate (:mod:`hub.webtls`);
- the broker's server certificate for its TLS listener (``DATA/broker/tls/server.pem``), carrying
  the hub's names and addresses, so agents check the broker's name against the pinned ``ca.pem``;
- one client certificate per agent, Common Name = agent id: Mosquitto's ``use_identity_as_username``
  makes that the broker username, so the agent's ACL block applies to it.

Private keys are written mode 0600. Agents that enrol (``xiaoneng-agent enroll``) make their TLS key
themselves and send a CSR: :func:`sign_client_csr` takes only its public key.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.errors import ConfigError, ProvisioningError
from shared.topics import valid_id

CA_DIR = "web-tls"
CA_DAYS = 10 * 365
SERVER_DAYS = 397  # what browsers accept from public CAs; kept for ours too
CLIENT_DAYS = 365
RENEW_BEFORE_DAYS = 30
BROKER_TLS_DIR = "broker/tls"


@dataclass(frozen=True, slots=True)
class CertFiles:
    """A PEM certificate (chain) and its private key."""

    cert: Path
    key: Path


def ca_dir(data_dir: Path) -> Path:
    """``DATA/web-tls``: where the hub CA lives."""
    return data_dir / CA_DIR


def ca_file(data_dir: Path) -> Path:
    """``DATA/web-tls/ca.pem``: what agents and browsers pin."""
    return ca_dir(data_dir) / "ca.pem"


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new or truncated file of mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """An EC private key as unencrypted PEM PKCS#8."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def san(names: list[str]) -> x509.SubjectAlternativeName:
    """DNS names and IP addresses as a subjectAltName extension."""
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


CA = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def load_or_create_ca(data_dir: Path, *, now: datetime | None = None) -> CA:
    """The hub CA (made on first use). ConfigError if it is unusable or expires within a server lifetime."""
    moment = now or datetime.now(UTC)
    directory = ca_dir(data_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_cert, ca_key = directory / "ca.pem", directory / "ca.key"
    if ca_cert.exists() and ca_key.exists():
        key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{ca_key} is not the hub CA's EC key: move {directory} away to make a new CA")
        if cert.not_valid_after_utc - moment > timedelta(days=SERVER_DAYS):
            return cert, key
        raise ConfigError(f"the hub's CA {ca_cert} expires on {cert.not_valid_after_utc:%Y-%m-%d}: move {directory}"
                          " away to make a new one (import the new ca.pem into the browsers and re-enrol the agents)")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Xiaoneng hub"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"效能中心 CA {socket.gethostname()}")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - timedelta(minutes=5)).not_valid_after(moment + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(ca_key, key_pem(key))
    ca_cert.write_bytes(cert_pem(cert))
    return cert, key


def _leaf(ca: CA, subject: x509.Name,
          public_key: ec.EllipticCurvePublicKey, days: int, usage: x509.ObjectIdentifier,
          moment: datetime, names: list[str] | None = None) -> x509.Certificate:
    ca_cert, ca_key = ca
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - timedelta(minutes=5)).not_valid_after(moment + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if names:
        builder = builder.add_extension(san(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _server_current(path: Path, ca: x509.Certificate, names: list[str], now: datetime) -> bool:
    if not path.exists():
        return False
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        cert.verify_directly_issued_by(ca)
        current = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return current == san(names) and cert.not_valid_after_utc - now > timedelta(days=RENEW_BEFORE_DAYS)


def server_cert(data_dir: Path, directory: Path, names: list[str], *, now: datetime | None = None) -> CertFiles:
    """``directory/server.pem`` (server, then CA) and ``server.key`` for ``names``, signed by the hub CA.

    Kept while it covers exactly ``names`` and has more than :data:`RENEW_BEFORE_DAYS` days left;
    issued again otherwise.
    """
    if not names:
        raise ConfigError("a server certificate needs at least one name or address")
    moment = now or datetime.now(UTC)
    ca = load_or_create_ca(data_dir, now=moment)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = CertFiles(directory / "server.pem", directory / "server.key")
    if _server_current(files.cert, ca[0], names, moment) and files.key.exists():
        return files
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _leaf(ca, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]), key.public_key(),
                 SERVER_DAYS, ExtendedKeyUsageOID.SERVER_AUTH, moment, names)
    write_private(files.key, key_pem(key))
    files.cert.write_bytes(cert_pem(cert) + cert_pem(ca[0]))  # the chain: server, then CA
    return files


def broker_server_cert(data_dir: Path, names: list[str]) -> CertFiles:
    """The broker's TLS listener certificate, ``DATA/broker/tls/server.pem``."""
    return server_cert(data_dir, data_dir / BROKER_TLS_DIR, names)


def sign_client_csr(data_dir: Path, csr_pem: bytes, agent_id: str, *, days: int = CLIENT_DAYS,
                    now: datetime | None = None) -> x509.Certificate:
    """A client certificate for ``agent_id`` (its CN) on the public key of ``csr_pem``.

    The CSR must be PEM, self-signed correctly, and carry a P-256 key; its subject is ignored
    (the hub, not the hall machine, decides the name). ProvisioningError says what is wrong.
    """
    if not valid_id(agent_id):
        raise ProvisioningError(f"agent id {agent_id!r} cannot be a certificate name")
    return client_cert(data_dir, csr_public_key(csr_pem), agent_id, days=days, now=now)


def csr_public_key(csr_pem: bytes) -> ec.EllipticCurvePublicKey:
    """The P-256 key of a well-formed, correctly self-signed CSR; ProvisioningError otherwise."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError:
        raise ProvisioningError("the certificate request is not a PEM CSR") from None
    if not csr.is_signature_valid:
        raise ProvisioningError("the certificate request's signature does not verify")
    public = csr.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
        raise ProvisioningError("the certificate request must carry an EC P-256 key")
    return public


def client_cert(data_dir: Path, public_key: ec.EllipticCurvePublicKey, agent_id: str, *,
                days: int = CLIENT_DAYS, now: datetime | None = None) -> x509.Certificate:
    """A client certificate, CN = ``agent_id``, signed by the hub CA."""
    moment = now or datetime.now(UTC)
    ca = load_or_create_ca(data_dir, now=moment)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Xiaoneng agent"),
                         x509.NameAttribute(NameOID.COMMON_NAME, agent_id)])
    return _leaf(ca, subject, public_key, days, ExtendedKeyUsageOID.CLIENT_AUTH, moment)


CRL_FILE = "crl.pem"


def crl_file(data_dir: Path) -> Path:
    """``DATA/broker/tls/crl.pem``: the broker refuses the client certificates it lists."""
    return data_dir / BROKER_TLS_DIR / CRL_FILE


def write_crl(data_dir: Path, serials: list[int], *, now: datetime | None = None) -> Path:
    """Write the hub CA's certificate revocation list (atomically) and return its path.

    Its next update is the CA's own expiry: OpenSSL refuses *every* client while a CRL it checks is
    past its next update, and nothing here republishes it on a schedule.
    """
    moment = now or datetime.now(UTC)
    ca_cert, ca_key = load_or_create_ca(data_dir, now=moment)
    builder = (
        x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
        .last_update(moment - timedelta(minutes=5)).next_update(ca_cert.not_valid_after_utc)
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(moment).build())
    path = crl_file(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(CRL_FILE + ".tmp")
    tmp.write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    os.replace(tmp, path)
    return path


def has_ca(data_dir: Path) -> bool:
    """Whether the hub CA exists (TLS has been set up)."""
    return (ca_dir(data_dir) / "ca.pem").exists() and (ca_dir(data_dir) / "ca.key").exists()


def new_tls_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key for a TLS client certificate."""
    return ec.generate_private_key(ec.SECP256R1())


def fingerprint(cert_der: bytes) -> str:
    """SHA-256 of a DER certificate, 64 lowercase hex digits."""
    return hashlib.sha256(cert_der).hexdigest()


def leaf_fingerprint(pem_file: Path) -> str:
    """The fingerprint of the first certificate in a PEM file (the one a server presents)."""
    try:
        cert = x509.load_pem_x509_certificate(pem_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the certificate {pem_file}: {exc}") from None
    return fingerprint(cert.public_bytes(serialization.Encoding.DER))
