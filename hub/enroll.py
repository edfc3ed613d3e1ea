"""Enrolment of an agent by one-time token (docs/agent.md, "Enrolment").

``xiaoneng-hub enroll create`` stores a token for one site and one agent id: single-use, expiring
(default 24 h), and carrying the pin of the hub's HTTPS certificate. The hall machine sends
``POST /api/enroll`` with the token, its Ed25519 public key and a CSR for its TLS key (both keys made
there; private keys never leave the hall). :meth:`EnrolService.enrol` then

1. refuses when the caller's address or the hub as a whole made too many attempts (rate limit);
2. consumes the token atomically (unknown, used or expired: refused, with the reason);
3. registers the agent's key (provisioning registry), signs its client certificate (CN = agent id),
   rewrites the broker's password/ACL files and makes the running broker reload them (SIGHUP: other
   agents stay connected);
4. answers with the certificate, the hub CA, the broker's address and the hub's public key.

Every attempt, accepted or not, is a row of ``enrol_audit`` and a JSON log line; so is every token
issued (by the command line or the devices page) and every token revoked before use.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from provisioning import ca
from provisioning.registry import Registry
from shared.enrolment import SECRET_BYTES, EnrolmentToken, hash_secret, renewal_message
from shared.errors import ConfigError, ProvisioningError, XiaonengError
from shared.timefmt import SHANGHAI
from shared.topics import valid_id

log = logging.getLogger("xiaoneng.enrol")

SCHEMA = """
CREATE TABLE IF NOT EXISTS enrol_tokens (
    secret_hash TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT NULL,
    used_from TEXT NULL,
    reenrol INTEGER NOT NULL DEFAULT 0,
    revoked_at TEXT NULL
);
CREATE TABLE IF NOT EXISTS enrol_audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    address TEXT NOT NULL,
    agent_id TEXT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""
DEFAULT_TTL = timedelta(hours=24)
MAX_TTL = timedelta(days=30)
PER_ADDRESS = 10  # attempts per address per window
OVERALL = 60  # attempts of every address together per window
WINDOW_S = 60.0


class EnrolRefused(XiaonengError):
    """An enrolment attempt refused; ``code`` is for programs, the message for people."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after


def parse_ttl(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d`` (or seconds): ConfigError unless 1 minute .. 30 days."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    raw = text.strip().lower()
    try:
        seconds = float(raw[:-1]) * units[raw[-1]] if raw and raw[-1] in units else float(raw)
    except ValueError:
        raise ConfigError(f"--ttl {text!r}: write e.g. 30m, 24h or 7d") from None
    ttl = timedelta(seconds=seconds)
    if not timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise ConfigError(f"--ttl {text!r}: must be between 1 minute and 30 days")
    return ttl


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def local_shown(stored: str) -> str:
    """A stored UTC time as people read it: local (Asia/Shanghai), to the minute."""
    return f"{datetime.fromisoformat(stored).astimezone(SHANGHAI):%Y-%m-%d %H:%M} (+08:00)"


@dataclass(frozen=True)
class Outstanding:
    """A token not yet used, revoked or expired, as the hub lists it (the secret is never stored)."""

    token_id: int
    site_id: str
    agent_id: str
    created_at: str  # ISO 8601, UTC
    expires_at: str
    reenrol: bool


#: Where ``xiaoneng-agent enroll`` writes on the hall machine, and the account install.sh creates.
HALL_DIR = "/etc/xiaoneng-agent"
HALL_USER = "xiaoneng"


def hall_command(hub_url: str, token_text: str, reenrol: bool = False) -> str:
    """The command the hall machine runs (docs/agent.md §1); also the content of the token's QR code,
    so that a barcode scanner typing into the terminal, or a phone showing the text, gives it whole."""
    return (f"sudo xiaoneng-agent enroll --hub {hub_url} --token {token_text} --out {HALL_DIR} --user {HALL_USER}"
            + (" --again" if reenrol else ""))


class TokenStore:
    """The tokens and the audit trail, in the hub's SQLite file."""

    def __init__(self, db_path: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db_path = db_path
        self.clock = clock
        with closing(self._connect()) as conn, conn:
            conn.executescript(SCHEMA)
            columns = {r[1] for r in conn.execute("PRAGMA table_info(enrol_tokens)")}
            if "revoked_at" not in columns:  # a store from before tokens could be revoked
                conn.execute("ALTER TABLE enrol_tokens ADD COLUMN revoked_at TEXT NULL")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    def create(self, site_id: str, agent_id: str, fingerprint: str, ttl: timedelta = DEFAULT_TTL,
               registry: Registry | None = None, reenrol: bool = False,
               issued_by: str = "cli") -> tuple[EnrolmentToken, datetime]:
        """A new token for ``agent_id`` of ``site_id``; checks the registry when given.

        ``issued_by`` is the audit row's address: ``cli``, or ``web:<user>`` from the devices page.
        ``reenrol``: for an agent that exists and is active (its certificate expired while it was
        offline): it keeps its signing key — the hub checks the same public key is sent — and outbox.
        """
        if not valid_id(agent_id):
            raise ProvisioningError(f"agent id {agent_id!r} must be 1-64 of A-Za-z0-9_.-")
        if registry is not None:
            if site_id not in {s.site_id for s in registry.sites()}:
                raise ProvisioningError(f"site {site_id!r} is not registered (xiaoneng-provision site add)")
            known = registry.agent(agent_id)
            if reenrol and (known is None or not known.active or known.site_id != site_id):
                raise ProvisioningError(f"--reenrol needs an active agent {agent_id!r} of site {site_id!r}")
            if known is not None and not reenrol:
                raise ProvisioningError(f"agent {agent_id!r} already exists (ids are never reused; choose a new id, "
                                        "or --reenrol to give it a new certificate)")
        token = EnrolmentToken(secrets.token_bytes(SECRET_BYTES), fingerprint)
        now = self.clock()
        expires = now + ttl
        with closing(self._connect()) as conn, conn:
            conn.execute("INSERT INTO enrol_tokens (secret_hash, site_id, agent_id, created_at, expires_at, reenrol) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         (token.secret_hash, site_id, agent_id, _iso(now), _iso(expires), int(reenrol)))
        self.audit(issued_by, agent_id, "created", f"site {site_id}, expires {_iso(expires)}"
                   + (", re-enrolment" if reenrol else ""))
        return token, expires

    def consume(self, secret: bytes, address: str) -> tuple[str, str, bool]:
        """Mark the token used and return (site_id, agent_id, reenrol); EnrolRefused says why not."""
        digest = hash_secret(secret)
        now = _iso(self.clock())
        with closing(self._connect()) as conn, conn:
            updated = conn.execute(
                "UPDATE enrol_tokens SET used_at = ?, used_from = ? "
                "WHERE secret_hash = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
                (now, address, digest, now),
            ).rowcount
            row = conn.execute("SELECT site_id, agent_id, expires_at, used_at, used_from, reenrol, revoked_at "
                               "FROM enrol_tokens WHERE secret_hash = ?", (digest,)).fetchone()
        if row is None:
            raise EnrolRefused(403, "token_unknown", "令牌无效 / unknown enrolment token: it was not issued by this "
                               "hub (or mistyped); ask the hub administrator for a new one")
        site_id, agent_id, expires_at, used_at, used_from, reenrol, revoked_at = row
        if updated == 1:
            return str(site_id), str(agent_id), bool(reenrol)
        if revoked_at is not None:
            raise EnrolRefused(403, "token_revoked", f"令牌已撤销 / this token was revoked at "
                               f"{local_shown(revoked_at)}; ask the hub administrator for a new one")
        if used_at is not None:
            raise EnrolRefused(403, "token_used", f"令牌已使用 / this token was already used at {local_shown(used_at)} "
                               f"from {used_from}; tokens work once: ask for a new one")
        raise EnrolRefused(403, "token_expired", f"令牌已过期 / this token expired at {local_shown(expires_at)}; "
                           "ask the hub administrator for a new one (xiaoneng-hub enroll create)")

    def audit(self, address: str, agent_id: str | None, outcome: str, detail: str) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute("INSERT INTO enrol_audit (at, address, agent_id, outcome, detail) VALUES (?, ?, ?, ?, ?)",
                         (_iso(self.clock()), address, agent_id, outcome, detail))
        log.info("enrolment", extra={"address": address, "agent": agent_id, "outcome": outcome, "detail": detail})

    def outstanding(self) -> list[Outstanding]:
        """Tokens that can still be used (not used, revoked or expired), oldest first; never the secrets."""
        with closing(self._connect()) as conn:
            rows = conn.execute("SELECT rowid, site_id, agent_id, created_at, expires_at, reenrol FROM enrol_tokens "
                                "WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > ? ORDER BY rowid",
                                (_iso(self.clock()),)).fetchall()
        return [Outstanding(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), bool(r[5])) for r in rows]

    def revoke(self, token_id: int, revoked_by: str = "cli", agent_id: str | None = None) -> Outstanding:
        """Revoke an outstanding token (``token_id`` as :meth:`outstanding` lists it) before it is used;
        ProvisioningError if there is no such token (for ``agent_id``, when given) or it can no longer
        be used anyway."""
        now = _iso(self.clock())
        with closing(self._connect()) as conn, conn:
            row = conn.execute("SELECT rowid, site_id, agent_id, created_at, expires_at, reenrol FROM enrol_tokens "
                               "WHERE rowid = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
                               (token_id, now)).fetchone()
            if row is None or (agent_id is not None and row[2] != agent_id):
                raise ProvisioningError(f"token {token_id} is not outstanding (used, expired, revoked or unknown)")
            conn.execute("UPDATE enrol_tokens SET revoked_at = ? WHERE rowid = ?", (now, token_id))
        token = Outstanding(int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), bool(row[5]))
        self.audit(revoked_by, token.agent_id, "revoked", f"token {token_id} of site {token.site_id}")
        return token

    def audit_rows(self) -> list[tuple[str, str, str | None, str, str]]:
        with closing(self._connect()) as conn:
            return list(conn.execute("SELECT at, address, agent_id, outcome, detail FROM enrol_audit ORDER BY id"))


class RateLimit:
    """Sliding window: at most ``per_address`` attempts per address and ``overall`` in all per window."""

    def __init__(self, per_address: int = PER_ADDRESS, overall: int = OVERALL, window_s: float = WINDOW_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.per_address, self.overall, self.window_s = per_address, overall, window_s
        self._now = monotonic
        self._all: deque[float] = deque()
        self._by_address: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        now = self._now()
        with self._lock:
            for q in (self._all, *self._by_address.values()):
                while q and q[0] <= now - self.window_s:
                    q.popleft()
            self._by_address = {a: q for a, q in self._by_address.items() if q}
            mine = self._by_address.setdefault(address, deque())
            for q, limit in ((mine, self.per_address), (self._all, self.overall)):
                if len(q) >= limit:
                    retry = max(1, int(q[0] + self.window_s - now) + 1)
                    raise EnrolRefused(429, "rate_limited", f"尝试过于频繁 / too many enrolment attempts; "
                                       f"try again in {retry} s", retry_after=retry)
            mine.append(now)
            self._all.append(now)


@dataclass(frozen=True)
class Enrolled:
    """What the agent receives."""

    agent_id: str
    site_id: str
    certificate_pem: str
    ca_pem: str
    broker_host: str
    broker_port: int
    hub_public_key: str

    def json(self) -> dict[str, object]:
        return {"agent_id": self.agent_id, "site_id": self.site_id, "certificate": self.certificate_pem,
                "ca": self.ca_pem, "broker": {"host": self.broker_host, "port": self.broker_port},
                "hub_public_key": self.hub_public_key}


RENEW_SKEW = timedelta(minutes=5)


class EnrolService:
    """Turns a valid token + public key + CSR into a registered agent with a broker login."""

    def __init__(self, data_dir: Path, registry: Registry, *, broker_port: int, hub_public_key: bytes,
                 refresh_broker: Callable[[], None], broker_host: str | None = None,
                 tokens: TokenStore | None = None, limit: RateLimit | None = None) -> None:
        self.data_dir = data_dir
        self.registry = registry
        self.broker_port = broker_port
        self.broker_host = broker_host
        self.hub_public_key = hub_public_key
        self.refresh_broker = refresh_broker
        self.tokens = tokens or TokenStore(registry.db_path)
        self.limit = limit or RateLimit()
        self._lock = threading.Lock()

    def enrol(self, secret: bytes, public_key_hex: str, csr_pem: str, *, address: str, host: str) -> Enrolled:
        try:
            self.limit.check(address)
        except EnrolRefused as exc:
            self.tokens.audit(address, None, exc.code, str(exc))
            raise
        agent_id: str | None = None
        try:
            try:
                public_key = bytes.fromhex(public_key_hex)
            except ValueError:
                public_key = b""
            if len(public_key) != 32:
                raise EnrolRefused(400, "bad_request", "public_key must be the 64 hex digits of an Ed25519 key")
            try:
                ca.csr_public_key(csr_pem.encode("utf-8"))  # a bad request does not spend the token
            except ProvisioningError as exc:
                raise EnrolRefused(400, "bad_request", str(exc)) from None
            site_id, agent_id, reenrol = self.tokens.consume(secret, address)
            with self._lock:
                try:
                    if reenrol:
                        known = self.registry.agent(agent_id)
                        if known is None or not known.active or known.public_key != public_key:
                            raise EnrolRefused(409, "key_mismatch", f"re-enrolment of {agent_id!r} must come from "
                                               "the same machine (its agent.key); this one sent another key")
                    cert = ca.sign_client_csr(self.data_dir, csr_pem.encode("utf-8"), agent_id)
                    if not reenrol:
                        self.registry.add_agent(agent_id, site_id, public_key)
                    self.registry.record_certificate(agent_id, cert.serial_number, cert.not_valid_after_utc)
                except ProvisioningError as exc:
                    raise EnrolRefused(409 if "already exists" in str(exc) else 400, "refused", str(exc)) from None
                if not reenrol:
                    self.refresh_broker()
        except EnrolRefused as exc:
            self.tokens.audit(address, agent_id, exc.code, str(exc))
            raise
        self.tokens.audit(address, agent_id, "reenrolled" if reenrol else "enrolled",
                          f"site {site_id}, certificate serial {cert.serial_number:x}")
        return Enrolled(agent_id, site_id, ca.cert_pem(cert).decode("ascii"),
                        ca.ca_file(self.data_dir).read_text(encoding="ascii"), self.broker_host or host,
                        self.broker_port, self.hub_public_key.hex())

    def renew(self, agent_id: str, csr_pem: str, at: str, signature_hex: str, *, address: str) -> str:
        """A new client certificate (PEM) for a registered, active agent, authenticated by its Ed25519
        signature over :func:`shared.enrolment.renewal_message` made within :data:`RENEW_SKEW` of now."""
        try:
            self.limit.check(address)
            known = self.registry.agent(agent_id) if valid_id(agent_id) else None
            if known is None or not known.active:
                raise EnrolRefused(403, "unknown_agent", f"agent {agent_id!r} is not registered or was revoked")
            try:
                moment = datetime.fromisoformat(at)
                signature = bytes.fromhex(signature_hex)
            except ValueError:
                raise EnrolRefused(400, "bad_request", "at must be ISO 8601 and signature hex") from None
            if moment.tzinfo is None or abs(self.tokens.clock() - moment) > RENEW_SKEW:
                raise EnrolRefused(403, "clock_skew", "the request's time is more than 5 minutes from the hub's: "
                                   "set this machine's clock (NTP) and try again")
            try:
                Ed25519PublicKey.from_public_bytes(known.public_key).verify(
                    signature, renewal_message(agent_id, csr_pem, at))
            except (InvalidSignature, ValueError):
                raise EnrolRefused(403, "bad_signature", "the renewal is not signed by this agent's key") from None
            try:
                cert = ca.sign_client_csr(self.data_dir, csr_pem.encode("utf-8"), agent_id)
            except ProvisioningError as exc:
                raise EnrolRefused(400, "refused", str(exc)) from None
            self.registry.record_certificate(agent_id, cert.serial_number, cert.not_valid_after_utc)
        except EnrolRefused as exc:
            self.tokens.audit(address, agent_id if valid_id(agent_id) else None, exc.code, str(exc))
            raise
        self.tokens.audit(address, agent_id, "renewed", f"certificate serial {cert.serial_number:x}")
        return ca.cert_pem(cert).decode("ascii")


#: ``app.extensions`` key: where the devices page learns how this hub serves enrolment.
WEB_EXTENSION = "xn_enrol"


@dataclass(frozen=True)
class EnrolEndpoint:
    """What the devices page needs to issue tokens: the enrolment port (None when the hub runs
    without ``--enroll-port``: tokens can be issued but not used until it does), the certificate it
    serves (the web UI's, whose pin the token carries) and the name halls reach the hub by (default:
    the host name the administrator's browser used)."""

    port: int | None
    cert: Path | None
    public_host: str | None = None

    def url(self, request_host: str) -> str:
        host = self.public_host or request_host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # an IPv6 address
        return f"https://{host}:{self.port or 8443}"


def attach(app: Any, endpoint: EnrolEndpoint) -> None:
    """Tell the web UI's devices page how this hub serves enrolment (hub.runtime)."""
    app.extensions[WEB_EXTENSION] = endpoint
