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

import os
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from provisioning import ca
from shared.errors import ConfigError

TLS_DIR = ca.CA_DIR
SERVER_DAYS = ca.SERVER_DAYS
RENEW_BEFORE_DAYS = ca.RENEW_BEFORE_DAYS


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


def self_issued(data_dir: Path, names: list[str], *, now: datetime | None = None) -> TlsFiles:
    """The server certificate of the hub's own CA (provisioning.ca) for ``names`` (made or renewed as needed)."""
    if not names:
        raise ConfigError("a self-issued certificate needs at least one --tls-name")
    files = ca.server_cert(data_dir, data_dir / TLS_DIR, names, now=now)
    return TlsFiles(files.cert, files.key)
