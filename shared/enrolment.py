"""The one-time enrolment token (pure): a secret for the hub and the hub's HTTPS certificate pin.

Text form: ``xn1.<secret>.<pin>``, both base64url without padding: 16 random bytes, and the SHA-256
of the DER certificate the hub's web server presents (``xiaoneng-agent enroll`` checks the server
against it instead of any trust store). The hub keeps only the SHA-256 of the secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from shared.errors import ConfigError

PREFIX = "xn1"
SECRET_BYTES = 16


@dataclass(frozen=True)
class EnrolmentToken:
    secret: bytes
    fingerprint: str  # 64 lowercase hex digits

    def text(self) -> str:
        return ".".join((PREFIX, _b64(self.secret), _b64(bytes.fromhex(self.fingerprint))))

    @property
    def secret_hash(self) -> str:
        return hash_secret(self.secret)


def hash_secret(secret: bytes) -> str:
    """What the hub stores for a token: SHA-256 of its secret, hex."""
    return hashlib.sha256(secret).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_token(text: str) -> EnrolmentToken:
    """Read a token as typed or pasted (spaces and line breaks ignored); ConfigError if malformed."""
    compact = "".join(text.split())
    parts = compact.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise ConfigError("this is not an enrolment token (it starts with 'xn1.' and has two dots): "
                          "copy it again from `xiaoneng-hub enroll create`")
    try:
        secret, pin = _unb64(parts[1]), _unb64(parts[2])
    except (binascii.Error, ValueError):
        raise ConfigError("the enrolment token is damaged (not base64url): copy it again") from None
    if len(secret) != SECRET_BYTES or len(pin) != 32:
        raise ConfigError("the enrolment token is incomplete or damaged: copy it again")
    return EnrolmentToken(secret, pin.hex())


RENEW_CONTEXT = b"xiaoneng renew v1\n"


def renewal_message(agent_id: str, csr_pem: str, at: str) -> bytes:
    """What an agent signs with its Ed25519 key to renew its TLS certificate (``xiaoneng-agent rotate``):
    its id, the moment (ISO 8601, UTC) and the SHA-256 of the CSR, each on a line."""
    digest = hashlib.sha256(csr_pem.encode("utf-8")).hexdigest()
    return RENEW_CONTEXT + f"{agent_id}\n{at}\n{digest}\n".encode()
