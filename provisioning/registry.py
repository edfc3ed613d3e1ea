"""The provisioning registry: sites, agents (with their Ed25519 public keys and broker credentials)
and the hub's own broker logins, kept in the hub's SQLite database (``DATA/hub.sqlite``).

The hub shares the file; this module owns only the ``sites``, ``agents`` and ``service_users``
tables. Broker passwords are returned once, when made, and only their Mosquitto hashes are stored.
Revoked agents keep their row (their records stay verifiable history) but lose their broker login,
their ACL block and their key (``public_key()`` answers None).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from provisioning import acl, passwords
from shared.errors import ProvisioningError
from shared.topics import valid_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS sites (
    site_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
    agent_id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(site_id),
    name TEXT NOT NULL,
    public_key BLOB NOT NULL,
    mqtt_username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT NULL
);
CREATE TABLE IF NOT EXISTS agent_certificates (
    serial TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents(agent_id),
    not_after TEXT NOT NULL,
    issued_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS service_users (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock: aware UTC now."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Site:
    """A department hall (or any place agents are installed)."""

    site_id: str
    name: str
    created_at: str


@dataclass(frozen=True)
class Agent:
    """A registered agent. ``public_key`` is the raw 32-byte Ed25519 key."""

    agent_id: str
    site_id: str
    name: str
    public_key: bytes
    mqtt_username: str
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None


@dataclass(frozen=True)
class ServiceUser:
    """A broker login of the hub itself (``role`` names its ACL block, see ``acl.ROLES``)."""

    username: str
    role: str
    created_at: str


class Registry:
    """Sites, agents and service users in the SQLite file ``db_path`` (created if absent)."""

    def __init__(
        self,
        db_path: Path | str,
        *,
        clock: Clock = utc_now,
        password_iterations: int = passwords.DEFAULT_ITERATIONS,
    ) -> None:
        self.db_path = Path(db_path)
        self._clock = clock
        self._iterations = password_iterations
        if not self.db_path.parent.is_dir():
            raise ProvisioningError(
                f"directory {self.db_path.parent} does not exist; create the data directory first"
            )
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    # -- sites ---------------------------------------------------------------------------------

    def add_site(self, site_id: str, name: str) -> Site:
        """Register a site; ProvisioningError if the id is invalid or taken."""
        _check_id("site", site_id)
        if not name.strip():
            raise ProvisioningError(f"site {site_id!r} needs a non-empty name")
        site = Site(site_id, name.strip(), self._now())
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO sites VALUES (?, ?, ?)", (site.site_id, site.name, site.created_at)
                )
            except sqlite3.IntegrityError:
                raise ProvisioningError(f"site {site_id!r} already exists") from None
        return site

    def sites(self) -> list[Site]:
        """All sites, by id."""
        with self._connect() as conn:
            rows = conn.execute("SELECT site_id, name, created_at FROM sites ORDER BY site_id")
            return [Site(*row) for row in rows]

    # -- agents --------------------------------------------------------------------------------

    def add_agent(
        self, agent_id: str, site_id: str, public_key: bytes, name: str | None = None
    ) -> str:
        """Register an agent of ``site_id`` with its raw Ed25519 public key.

        Returns the agent's new broker password (its broker username is its agent id); only the
        hash is kept, so the caller must hand the password over now (see ``identity.write_bundle``).
        """
        _check_id("agent", agent_id)
        _check_public_key(agent_id, public_key)
        password = passwords.random_password()
        password_hash = passwords.hash_password(password, iterations=self._iterations)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM sites WHERE site_id = ?", (site_id,)).fetchone() is None:
                raise ProvisioningError(
                    f"site {site_id!r} is not registered; add it first (xiaoneng-provision site add)"
                )
            if conn.execute(
                "SELECT 1 FROM service_users WHERE username = ?", (agent_id,)
            ).fetchone():
                raise ProvisioningError(
                    f"agent id {agent_id!r} is already a hub service login; choose another id"
                )
            try:
                conn.execute(
                    "INSERT INTO agents VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                    (
                        agent_id,
                        site_id,
                        name or agent_id,
                        public_key,
                        agent_id,
                        password_hash,
                        self._now(),
                    ),
                )
            except sqlite3.IntegrityError:
                raise ProvisioningError(
                    f"agent {agent_id!r} already exists (ids of revoked agents are never reused; "
                    "choose a new id)"
                ) from None
        return password

    def agents(self, *, include_revoked: bool = True) -> list[Agent]:
        """All agents by id (active ones only with ``include_revoked=False``)."""
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {_AGENT_COLUMNS} FROM agents{where} ORDER BY agent_id")
            return [_agent(row) for row in rows]

    def agent(self, agent_id: str) -> Agent | None:
        """One agent (revoked or not), or None if unknown."""
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {_AGENT_COLUMNS} FROM agents WHERE agent_id = ?", (agent_id,)
            ).fetchone()
        return None if row is None else _agent(row)

    def public_key(self, agent_id: str) -> bytes | None:
        """The raw Ed25519 key of an active agent; None if unknown or revoked."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT public_key FROM agents WHERE agent_id = ? AND revoked_at IS NULL",
                (agent_id,),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def revoke(self, agent_id: str) -> Agent:
        """Revoke an agent (idempotent: a second call keeps the first ``revoked_at``).

        The broker keeps accepting it until the broker files are rewritten and the broker reloaded
        (``broker_files.write_broker_files`` + ``reload_broker``; the CLI does both).
        """
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE agents SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL",
                (self._now(), agent_id),
            )
            if (
                cur.rowcount == 0
                and not conn.execute(
                    "SELECT 1 FROM agents WHERE agent_id = ?", (agent_id,)
                ).fetchone()
            ):
                raise ProvisioningError(
                    f"agent {agent_id!r} is not registered; see `xiaoneng-provision agent list`"
                )
        found = self.agent(agent_id)
        if found is None:  # deleted behind our back between the two statements
            raise ProvisioningError(f"agent {agent_id!r} vanished while being revoked; retry")
        return found

    def record_certificate(self, agent_id: str, serial: int, not_after: datetime) -> None:
        """Remember a TLS client certificate issued to ``agent_id`` (the CRL lists those of revoked agents)."""
        with self._write() as conn:
            conn.execute("INSERT OR IGNORE INTO agent_certificates VALUES (?, ?, ?, ?)",
                         (f"{serial:x}", agent_id, not_after.isoformat(timespec="seconds"), self._now()))

    def revoked_serials(self) -> list[int]:
        """Serial numbers of the certificates of revoked agents that have not expired yet."""
        now = self._now()
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT c.serial FROM agent_certificates c JOIN agents a USING (agent_id) "
                "WHERE a.revoked_at IS NOT NULL AND c.not_after > ? ORDER BY c.serial", (now,))
            return [int(row[0], 16) for row in rows]

    def reset_password(self, agent_id: str) -> str:
        """A new broker password for an active agent (the old one stops working after a reload)."""
        password = passwords.random_password()
        password_hash = passwords.hash_password(password, iterations=self._iterations)
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE agents SET password_hash = ? WHERE agent_id = ? AND revoked_at IS NULL",
                (password_hash, agent_id),
            )
            if cur.rowcount == 0:
                raise ProvisioningError(
                    f"agent {agent_id!r} is unknown or revoked; a revoked agent needs a new id"
                )
        return password

    # -- the hub's own logins ------------------------------------------------------------------

    def set_service_user(self, username: str, role: str = acl.ROLE_HUB) -> str:
        """Create or re-key a hub broker login of ``role``; returns its new password."""
        _check_id("service user", username)
        acl.role_rules(role)  # raises for an unknown role
        password = passwords.random_password()
        password_hash = passwords.hash_password(password, iterations=self._iterations)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM agents WHERE agent_id = ?", (username,)).fetchone():
                raise ProvisioningError(
                    f"service user {username!r} would share its broker login with agent {username!r}; "
                    "choose another name"
                )
            conn.execute(
                "INSERT INTO service_users VALUES (?, ?, ?, ?) ON CONFLICT(username) DO UPDATE "
                "SET role = excluded.role, password_hash = excluded.password_hash",
                (username, role, password_hash, self._now()),
            )
        return password

    def service_users(self) -> list[ServiceUser]:
        """All service logins, by name."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT username, role, created_at FROM service_users ORDER BY username"
            )
            return [ServiceUser(*row) for row in rows]

    # -- broker files --------------------------------------------------------------------------

    def password_file_text(self) -> str:
        """The Mosquitto password file: every service user and every active agent."""
        with self._connect() as conn:
            entries = dict(conn.execute("SELECT username, password_hash FROM service_users"))
            entries.update(
                conn.execute(
                    "SELECT mqtt_username, password_hash FROM agents WHERE revoked_at IS NULL"
                )
            )
        return passwords.password_file_text(entries)

    def acl_file_text(self) -> str:
        """The Mosquitto ACL file: a block per service user and per active agent."""
        with self._connect() as conn:
            users = [
                (str(u), str(r))
                for u, r in conn.execute("SELECT username, role FROM service_users")
            ]
            agents = [
                str(row[0])
                for row in conn.execute("SELECT mqtt_username FROM agents WHERE revoked_at IS NULL")
            ]
        return acl.acl_file_text(agents, users)

    # -- plumbing ------------------------------------------------------------------------------

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="seconds")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.db_path, isolation_level=None)
        except sqlite3.Error as exc:
            raise ProvisioningError(f"cannot open the registry {self.db_path}: {exc}") from None
        with closing(conn):
            conn.execute("PRAGMA busy_timeout = 5000")
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


_AGENT_COLUMNS = "agent_id, site_id, name, public_key, mqtt_username, created_at, revoked_at"


def _agent(row: tuple[object, ...]) -> Agent:
    agent_id, site_id, name, key, username, created_at, revoked_at = row
    if not isinstance(key, bytes):
        raise ProvisioningError(
            f"agents.public_key of {agent_id!r} is not a BLOB; the registry table is damaged"
        )
    return Agent(
        str(agent_id),
        str(site_id),
        str(name),
        key,
        str(username),
        str(created_at),
        None if revoked_at is None else str(revoked_at),
    )


def _check_id(kind: str, value: str) -> None:
    if not valid_id(value):
        raise ProvisioningError(
            f"invalid {kind} id {value!r}: use 1-64 of A-Za-z0-9_.-, starting with a letter or digit"
        )


def _check_public_key(agent_id: str, public_key: bytes) -> None:
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise ProvisioningError(
            f"agent {agent_id!r}: the public key must be the raw 32-byte Ed25519 key "
            f"(got {len(public_key) if isinstance(public_key, bytes) else type(public_key).__name__})"
        )
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise ProvisioningError(f"agent {agent_id!r}: not an Ed25519 public key ({exc})") from None
