"""HTTPS for the hub's web UI: certificate files given by the operator, or issued by the hub's own CA.

``xiaoneng-hub run --tls-cert FILE --tls-key FILE`` serves the certificate the institution issued
(PEM; the certificate file may hold the chain after it). ``--tls-self-issued`` makes, at the first
start, a small certificate authority for this hub in ``DATA/web-tls/`` (``ca.pem``, ``ca.key``) and
a server certificate signed by it (``server.pem``, ``server.key``) for the names given with
``--tls-name`` (default: ``localhost``, ``127.0.0.1``, the machine's host name and ``--http-host``
if it is a specific address). Browsers trust the hub once ``ca.pem`` is imported into them (or
pushed by the institution's desktop management); the server certificate is issued again, by the
same CA, when the names change or less than :data:`RENEW_BEFORE_DAYS` days of it are left.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.errors import ConfigError

TLS_DIR = "web-tls"
CA_DAYS = 10 * 365
SERVER_DAYS = 397  # what browsers accept from public CAs; kept for ours too
RENEW_BEFORE_DAYS = 30


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A PEM certificate (chain) and its private key."""

    cert: Path
    key: Path


def check_tls_files(files: TlsFiles) -> None:
    """Refuse, with a message naming the file and what is wrong, a pair the server could not use."""
    for what, path in (("certificate", files.cert), ("private key", files.key)):
        if not path.is_file():
            raise ConfigError(f"TLS {what} file {path} does not exist (check --tls-cert/--tls-key)")
        if not os.access(path, os.R_OK):
            raise ConfigError(f"TLS {what} file {path} is not readable by this user")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(files.cert), str(files.key))
    except ssl.SSLError as exc:
        raise ConfigError(
            f"TLS certificate {files.cert} and key {files.key} cannot be used together ({exc.reason or exc}):"
            " both must be PEM, the key unencrypted and belonging to the certificate"
        ) from None
    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    except ValueError:
        return  # ssl accepted it; the expiry check below is a convenience only
    if cert.not_valid_after_utc <= datetime.now(UTC):
        raise ConfigError(f"TLS certificate {files.cert} expired on {cert.not_valid_after_utc:%Y-%m-%d}: renew it")


def default_names(http_host: str) -> list[str]:
    """The names a self-issued certificate covers when ``--tls-name`` is not given."""
    names = ["localhost", "127.0.0.1", socket.gethostname()]
    if http_host not in ("", "0.0.0.0", "::", "localhost"):  # noqa: S104 - comparing, not binding
        names.append(http_host)
    return list(dict.fromkeys(n for n in names if n))


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _load_ca(directory: Path, now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = directory / "ca.pem", directory / "ca.key"
    if ca_cert.exists() and ca_key.exists():
        key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{ca_key} is not the hub CA's EC key: move {directory} away to make a new CA")
        if cert.not_valid_after_utc - now > timedelta(days=SERVER_DAYS):
            return cert, key
        raise ConfigError(f"the hub's web CA {ca_cert} expires on {cert.not_valid_after_utc:%Y-%m-%d}: move {directory}"
                          " away to make a new one (and import the new ca.pem into the browsers)")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Xiaoneng hub"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"效能中心 CA {socket.gethostname()}")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(ca_key, _key_pem(key))
    ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _server_current(path: Path, ca: x509.Certificate, names: list[str], now: datetime) -> bool:
    if not path.exists():
        return False
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        cert.verify_directly_issued_by(ca)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return san == _san(names) and cert.not_valid_after_utc - now > timedelta(days=RENEW_BEFORE_DAYS)


def self_issued(data_dir: Path, names: list[str], *, now: datetime | None = None) -> TlsFiles:
    """The server certificate of the hub's own CA for ``names`` (made or renewed as needed)."""
    if not names:
        raise ConfigError("a self-issued certificate needs at least one --tls-name")
    moment = now or datetime.now(UTC)
    directory = data_dir / TLS_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_cert, ca_key = _load_ca(directory, moment)
    files = TlsFiles(directory / "server.pem", directory / "server.key")
    if _server_current(files.cert, ca_cert, names, moment) and files.key.exists():
        return files
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - timedelta(minutes=5)).not_valid_after(moment + timedelta(days=SERVER_DAYS))
        .add_extension(_san(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(files.key, _key_pem(key))
    pem = serialization.Encoding.PEM
    files.cert.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))  # the chain: server, then CA
    return files
