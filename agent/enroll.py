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
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from shared.enrolment import parse_token
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


def _post(hub_url: str, pin: str, body: dict[str, str]) -> dict[str, Any]:
    parts = urlsplit(hub_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"--hub {hub_url!r}: write https://HOST:PORT (the hub's enrolment address)")
    conn = _PinnedConnection(parts.hostname, parts.port or 443, pin)
    try:
        conn.request("POST", "/api/enroll", body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
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


def enrol(hub_url: str, token_text: str, out: Path) -> EnrolResult:
    """Enrol this machine; writes the keys, certificate, CA and ``agent.yaml`` into ``out``."""
    token = parse_token(token_text)
    if (out / CONFIG_FILE).exists():
        raise ConfigError(f"{out / CONFIG_FILE} exists: this folder holds an enrolled agent; use another --out")
    out.mkdir(parents=True, exist_ok=True)
    sign, tls = _keys(out)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xiaoneng-agent")]))
        .sign(tls, hashes.SHA256())
    )
    public = sign.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    answer = _post(hub_url, token.fingerprint, {
        "token": token.text(), "public_key": public.hex(),
        "csr": csr.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    })
    try:
        agent_id, site_id = str(answer["agent_id"]), str(answer["site_id"])
        cert = x509.load_pem_x509_certificate(str(answer["certificate"]).encode("ascii"))
        ca_pem = str(answer["ca"]).encode("ascii")
        x509.load_pem_x509_certificate(ca_pem)
        broker = answer["broker"]
        host, port = str(broker["host"]), int(broker["port"])
        hub_key = str(answer["hub_public_key"])
    except (KeyError, TypeError, ValueError) as exc:
        raise EnrolFailed(f"the hub's answer is incomplete ({exc}); is the hub up to date?") from None
    if cert.public_key().public_numbers() != tls.public_key().public_numbers():  # type: ignore[union-attr]
        raise EnrolFailed("the hub returned a certificate for another key; enrol again")
    for name, data in ((TLS_CERT_FILE, cert.public_bytes(serialization.Encoding.PEM)), (CA_FILE, ca_pem)):
        (out / name).write_bytes(data)
    config = {
        "agent_id": agent_id,
        "site_id": site_id,
        "broker": {"host": host, "port": port, "username": agent_id, "ca_file": CA_FILE,
                   "cert_file": TLS_CERT_FILE, "tls_key_file": TLS_KEY_FILE},
        "key_file": KEY_FILE,
        "data_dir": "data",
        "hub_public_key": hub_key,
    }
    text = ("# Xiaoneng agent, enrolled with xiaoneng-agent enroll. Add capture sources (docs/mapping.md).\n"
            "# Paths are relative to this file's folder.\n" + yaml.safe_dump(config, sort_keys=False))
    _write_new(out / CONFIG_FILE, text.encode("utf-8"), 0o600)
    return EnrolResult(agent_id, site_id, out / CONFIG_FILE)
