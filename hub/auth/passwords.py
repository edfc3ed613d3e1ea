"""Password hashing with scrypt (``hashlib.scrypt``), a random salt per password.

Stored form: ``scrypt$<n>$<r>$<p>$<salt b64>$<key b64>``; the parameters travel with the hash, so
raising the cost later only needs :func:`needs_rehash` at the next successful login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache

_KEY_BYTES = 32
_MAX_N = 2**20  # refuse absurd parameters read back from the database


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost: memory is ``128 * r * n`` bytes (32 MiB for the default)."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        return 128 * self.r * self.n * 2 + 2**20


DEFAULT_PARAMS = ScryptParams()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem,
        dklen=_KEY_BYTES,
    )


def hash_password(password: str, params: ScryptParams = DEFAULT_PARAMS) -> str:
    """A new salted hash of ``password``."""
    salt = secrets.token_bytes(16)
    key = _derive(password, salt, params)
    return f"scrypt${params.n}${params.r}${params.p}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[ScryptParams, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        params = ScryptParams(int(parts[1]), int(parts[2]), int(parts[3]))
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None
    if not (2 <= params.n <= _MAX_N and params.n & (params.n - 1) == 0):
        return None
    if not (1 <= params.r <= 32 and 1 <= params.p <= 16) or len(key) != _KEY_BYTES:
        return None
    return params, salt, key


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; False for a wrong password or a malformed hash."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    params, salt, key = parsed
    return hmac.compare_digest(_derive(password, salt, params), key)


def needs_rehash(stored: str, params: ScryptParams = DEFAULT_PARAMS) -> bool:
    """True when ``stored`` was made with other parameters than ``params``."""
    parsed = _parse(stored)
    return parsed is None or parsed[0] != params


@lru_cache(maxsize=4)
def dummy_hash(params: ScryptParams = DEFAULT_PARAMS) -> str:
    """A hash to verify against when the user does not exist, so timing does not reveal it."""
    return hash_password(secrets.token_urlsafe(16), params)
