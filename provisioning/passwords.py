"""Mosquitto 2.0 password-file lines, made here rather than by ``mosquitto_passwd``.

Mosquitto 2.0 reads ``username:$7$<iterations>$<base64 salt>$<base64 hash>``, where ``7`` is its
``pw_sha512_pbkdf2`` type, the salt is 12 random bytes and the hash is the 64-byte
PBKDF2-HMAC-SHA512 of the UTF-8 password (``apps/mosquitto_passwd/mosquitto_passwd.c``,
``output_new_password``; the broker's 2.0 parser insists on a 12-byte salt and a 64-byte hash).
Base64 is the standard alphabet with padding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from shared.errors import ProvisioningError

HASH_TYPE = 7
SALT_BYTES = 12
HASH_BYTES = 64
# mosquitto_passwd 2.0 uses 101; later releases 1000. The broker runs PBKDF2 on every CONNECT in its
# single thread, and our passwords are random 128-bit secrets, so a large count buys nothing.
DEFAULT_ITERATIONS = 1000


def random_password(nbytes: int = 18) -> str:
    """A random broker password: ``nbytes`` of entropy, URL-safe base64 (no ``:``, no spaces)."""
    if nbytes < 16:
        raise ProvisioningError(f"a broker password needs at least 16 random bytes, not {nbytes}")
    return secrets.token_urlsafe(nbytes)


def hash_password(
    password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None
) -> str:
    """The ``$7$...`` hash of ``password`` (the part of a password-file line after ``username:``)."""
    if not password:
        raise ProvisioningError("an empty broker password is not allowed; use random_password()")
    if iterations < 1:
        raise ProvisioningError(f"PBKDF2 iterations must be >= 1, not {iterations}")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    if len(salt) != SALT_BYTES:
        raise ProvisioningError(
            f"Mosquitto 2.0 accepts only a {SALT_BYTES}-byte salt, got {len(salt)} bytes"
        )
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"${HASH_TYPE}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, password_hash: str) -> bool:
    """True if ``password`` matches a ``$7$`` hash (as the broker would decide)."""
    iterations, salt, expected = parse_hash(password_hash)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(digest, expected)


def parse_hash(password_hash: str) -> tuple[int, bytes, bytes]:
    """Split a ``$7$`` hash into (iterations, salt, hash); ProvisioningError if malformed."""
    parts = password_hash.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != str(HASH_TYPE):
        raise ProvisioningError(
            "not a Mosquitto sha512-pbkdf2 hash (expected '$7$<iterations>$<salt>$<hash>'); "
            "regenerate the credential"
        )
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        digest = base64.b64decode(parts[4], validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ProvisioningError(f"malformed Mosquitto password hash: {exc}") from None
    if iterations < 1 or len(salt) != SALT_BYTES or len(digest) != HASH_BYTES:
        raise ProvisioningError(
            f"malformed Mosquitto password hash: need iterations >= 1, a {SALT_BYTES}-byte salt "
            f"and a {HASH_BYTES}-byte hash"
        )
    return iterations, salt, digest


def password_line(username: str, password_hash: str) -> str:
    """One password-file line ``username:$7$...`` (no newline); checks both halves."""
    if not username or ":" in username or any(ord(c) < 32 or ord(c) == 127 for c in username):
        raise ProvisioningError(
            f"broker username {username!r} must be non-empty, without ':' or control characters"
        )
    parse_hash(password_hash)
    return f"{username}:{password_hash}"


def password_file_text(entries: dict[str, str]) -> str:
    """A whole password file from ``{username: $7$-hash}``, sorted by username, newline-terminated."""
    return "".join(password_line(user, entries[user]) + "\n" for user in sorted(entries))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
