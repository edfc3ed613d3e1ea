"""``xiaoneng-agent enroll``: make this machine's keys here and get a broker certificate from the hub.

1. read the one-time token (``xn1.…``): its secret, and the pin of the hub's HTTPS certificate;
2. make the Ed25519 signing key (``agent.key``) and a P-256 TLS key (``agent-tls.key``), both mode
   0600 — neither leaves this machine;
3. connect to ``--hub https://HOST:PORT``; the server's certificate must have the pinned SHA-256
   (no system trust store is used, and nothing is sent before that check);
4. send the token, the public key and a CSR; receive the client certificate, the hub CA, the
   broker's address and the hub's public key, and write ``agent.yaml`` (TLS to the broker).

The keys are written before the request and kept if it fails, so a second attempt with a new token
reuses them; ``agent.yaml`` is written last, only on success.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from shared.enrolment import parse_token, renewal_message
from shared.errors import ConfigError, XiaonengError

KEY_FILE = "agent.key"
TLS_KEY_FILE = "agent-tls.key"
TLS_CERT_FILE = "agent-tls.pem"
CA_FILE = "hub-ca.pem"
CONFIG_FILE = "agent.yaml"
TIMEOUT_S = 30.0


class EnrolFailed(XiaonengError):
    """The hub refused, or could not be reached or trusted."""


@dataclass(frozen=True)
class EnrolResult:
    agent_id: str
    site_id: str
    config_file: Path


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _keys(out: Path) -> tuple[Ed25519PrivateKey, ec.EllipticCurvePrivateKey]:
    """Load the keys of an earlier attempt, or make them (never overwriting a key)."""
    sign_path, tls_path = out / KEY_FILE, out / TLS_KEY_FILE
    pem = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    if not sign_path.exists():
        _write_new(sign_path, Ed25519PrivateKey.generate().private_bytes(*pem), 0o600)
    if not tls_path.exists():
        _write_new(tls_path, ec.generate_private_key(ec.SECP256R1()).private_bytes(*pem), 0o600)
    sign = serialization.load_pem_private_key(sign_path.read_bytes(), password=None)
    tls = serialization.load_pem_private_key(tls_path.read_bytes(), password=None)
    if not isinstance(sign, Ed25519PrivateKey) or not isinstance(tls, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{sign_path} or {tls_path} is not a key this agent made; use an empty --out folder")
    return sign, tls


class _PinnedConnection(http.client.HTTPSConnection):
    """HTTPS whose server certificate must hash (SHA-256, DER) to ``pin``; checked before sending."""

    def __init__(self, host: str, port: int, pin: str) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the pin below replaces the trust store and the name check
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        super().__init__(host, port, timeout=TIMEOUT_S, context=context)
        self.pin = pin

    def connect(self) -> None:
        super().connect()
        assert isinstance(self.sock, ssl.SSLSocket)
        der = self.sock.getpeercert(binary_form=True) or b""
        if hashlib.sha256(der).hexdigest() != self.pin:
            self.sock.close()
            raise EnrolFailed(
                f"{self.host}:{self.port} is not the hub that issued this token (its certificate's "
                "fingerprint differs from the token's): check --hub, or ask for a new token if the hub's "
                "certificate was renewed"
            )


class _CaConnection(http.client.HTTPSConnection):
    """HTTPS verified against the pinned hub CA, host name checked (``rotate``: the agent has the CA by then)."""

    def __init__(self, host: str, port: int, ca_file: str) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_verify_locations(cafile=ca_file)
        super().__init__(host, port, timeout=TIMEOUT_S, context=context)


def _post(hub_url: str, path: str, body: dict[str, str],
          connection: Callable[[str, int], http.client.HTTPSConnection]) -> dict[str, Any]:
    parts = urlsplit(hub_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"--hub {hub_url!r}: write https://HOST:PORT (the hub's enrolment address)")
    conn = connection(parts.hostname, parts.port or 443)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
    except ssl.SSLCertVerificationError as exc:
        raise EnrolFailed(f"{hub_url} is not the hub (its certificate does not verify against hub-ca.pem): "
                          f"{exc.verify_message}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise EnrolFailed(f"cannot reach the hub at {hub_url}: {exc}") from None
    finally:
        conn.close()
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise EnrolFailed(f"the hub answered {response.status} without JSON; is {hub_url} its enrolment port?")
    if response.status != 200:
        raise EnrolFailed(f"中心拒绝 / the hub refused ({response.status} {answer.get('error')}): "
                          f"{answer.get('message')}")
    return answer


def _csr(key: ec.EllipticCurvePrivateKey) -> str:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xiaoneng-agent")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _certificate_for(pem: str, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError:
        raise EnrolFailed("the hub's answer holds no certificate; is the hub up to date?") from None
    if cert.public_key() != key.public_key():
        raise EnrolFailed("the hub returned a certificate for another key; try again")
    return cert


def _replace(path: Path, data: bytes, mode: int) -> None:
    """Write ``path`` whole or not at all (temporary file, fsync, rename), keeping the owner of the
    file it replaces (``rotate`` run by root from a timer must leave the service user's files readable)."""
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    _write_new(tmp, data, mode)
    try:
        old = path.stat()
    except FileNotFoundError:
        old = None
    if old is not None and os.geteuid() == 0:
        os.chown(tmp, old.st_uid, old.st_gid)
    os.replace(tmp, path)


def _give_to(user: str, paths: list[Path]) -> None:
    """Make ``user`` (the service account, e.g. ``xiaoneng``) the owner of the files written here."""
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ConfigError(f"--user {user!r}: no such user on this machine (install.sh creates 'xiaoneng')") from None
    for path in paths:
        if path.exists():
            os.chown(path, entry.pw_uid, entry.pw_gid)


def enrol(hub_url: str, token_text: str, out: Path, *, again: bool = False, user: str | None = None) -> EnrolResult:
    """Enrol this machine; writes the keys, certificate, CA and ``agent.yaml`` into ``out``.

    ``again`` (a re-enrolment token, for an agent whose certificate expired while offline): ``out``
    holds the enrolled agent; its signing key, outbox and settings stay, the TLS key and certificate
    are made anew and ``agent.yaml``'s broker section is rewritten. ``user``: the account the agent
    service runs as becomes the owner of the files (enrolling as root).
    """
    token = parse_token(token_text)
    config_file = out / CONFIG_FILE
    if again and not config_file.exists():
        raise ConfigError(f"--again re-enrols the agent in {out}, but {config_file} does not exist")
    if not again and config_file.exists():
        raise ConfigError(f"{config_file} exists: this folder holds an enrolled agent; use another --out "
                          "(or --again with a re-enrolment token)")
    out.mkdir(parents=True, exist_ok=True)
    if again:
        sign = _load_sign_key(out / KEY_FILE)
        tls = ec.generate_private_key(ec.SECP256R1())
    else:
        sign, tls = _keys(out)
    public = sign.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    answer = _post(hub_url, "/api/enroll",
                   {"token": token.text(), "public_key": public.hex(), "csr": _csr(tls)},
                   lambda host, port: _PinnedConnection(host, port, token.fingerprint))
    try:
        agent_id, site_id = str(answer["agent_id"]), str(answer["site_id"])
        ca_pem = str(answer["ca"]).encode("ascii")
        x509.load_pem_x509_certificate(ca_pem)
        broker = answer["broker"]
        host, port = str(broker["host"]), int(broker["port"])
        hub_key = str(answer["hub_public_key"])
        cert = _certificate_for(str(answer["certificate"]), tls)
    except (KeyError, TypeError, ValueError) as exc:
        raise EnrolFailed(f"the hub's answer is incomplete ({exc}); is the hub up to date?") from None
    config: dict[str, Any] = yaml.safe_load(config_file.read_text(encoding="utf-8")) if again else {}
    if again and config.get("agent_id") != agent_id:
        raise EnrolFailed(f"the token is for agent {agent_id!r}, but {config_file} is agent {config.get('agent_id')!r}")
    pem = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    if again:
        _replace(out / TLS_KEY_FILE, tls.private_bytes(*pem), 0o600)
    _replace(out / TLS_CERT_FILE, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _replace(out / CA_FILE, ca_pem, 0o644)
    config.update({
        "agent_id": agent_id,
        "site_id": site_id,
        "broker": {**config.get("broker", {}), "host": host, "port": port, "username": agent_id, "ca_file": CA_FILE,
                   "cert_file": TLS_CERT_FILE, "tls_key_file": TLS_KEY_FILE},
        "key_file": config.get("key_file", KEY_FILE),
        "data_dir": config.get("data_dir", "data"),
        "hub_public_key": hub_key,
        "enroll_url": hub_url,
    })
    config["broker"].pop("password", None)
    text = ("# Xiaoneng agent, enrolled with xiaoneng-agent enroll. Add capture sources (docs/mapping.md).\n"
            "# Paths are relative to this file's folder.\n"
            + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    _replace(config_file, text.encode("utf-8"), 0o600)
    if user is not None:
        _give_to(user, [out / name for name in (KEY_FILE, TLS_KEY_FILE, TLS_CERT_FILE, CA_FILE, CONFIG_FILE)])
    return EnrolResult(agent_id, site_id, config_file)


def _load_sign_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read this agent's signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 key")
    return key


@dataclass(frozen=True)
class Rotation:
    """What ``rotate`` did: ``renewed`` False when the certificate was not due yet."""

    renewed: bool
    not_after: datetime
    due_at: datetime


def due_at(cert: x509.Certificate) -> datetime:
    """When a certificate should be renewed: at two thirds of its lifetime."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return start + (end - start) * 2 / 3


def rotate(config_path: Path, *, hub_url: str | None = None, force: bool = False,
           now: datetime | None = None) -> Rotation:
    """Renew the TLS key and certificate of the agent of ``config_path`` once two thirds of the
    certificate's lifetime have passed (or ``force``). The request is signed with the agent's Ed25519
    key and sent to its ``enroll_url`` (or ``hub_url``), verified against the pinned hub CA.

    The new key and certificate replace the old ones file by file (each rename is atomic); a running
    agent uses them at its next connection. If the machine stops between the two renames, running
    ``rotate --force`` again repairs the pair (the signing key, not the TLS key, authenticates it).
    """
    from agent.config import load_agent_config

    cfg = load_agent_config(config_path)
    b = cfg.broker
    if not b.ca_file:
        raise ConfigError(f"{config_path}: the broker link is not TLS (no broker.ca_file); enrol the agent first")
    url = hub_url or cfg.enroll_url
    if not url:
        raise ConfigError(f"{config_path}: no enroll_url; pass --hub https://HOST:PORT")
    moment = now or datetime.now(UTC)
    cert_path, key_path = cfg.path(b.cert_file), cfg.path(b.tls_key_file)
    try:
        current = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the agent certificate {cert_path}: {exc}") from None
    due = due_at(current)
    if moment < due and not force:
        return Rotation(False, current.not_valid_after_utc, due)
    if moment >= current.not_valid_after_utc:
        raise EnrolFailed(f"the certificate expired on {current.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; it cannot "
                          "renew itself: ask the hub for a re-enrolment token (xiaoneng-hub enroll create --reenrol) "
                          "and run xiaoneng-agent enroll --again")
    sign = _load_sign_key(cfg.path(cfg.key_file))
    tls = ec.generate_private_key(ec.SECP256R1())
    csr = _csr(tls)
    at = moment.isoformat(timespec="seconds")
    signature = sign.sign(renewal_message(cfg.agent_id, csr, at)).hex()
    ca_file = str(cfg.path(b.ca_file))
    answer = _post(url, "/api/renew", {"agent_id": cfg.agent_id, "csr": csr, "at": at, "signature": signature},
                   lambda host, port: _CaConnection(host, port, ca_file))
    cert = _certificate_for(str(answer.get("certificate", "")), tls)
    pem = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    _replace(key_path, tls.private_bytes(*pem), 0o600)
    _replace(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return Rotation(True, cert.not_valid_after_utc, due_at(cert))
