"""Database URLs of department databases (agent capture) and of the simulator's databases.

``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite:///:memory:``,
``postgresql://user:pw@host:port/db`` (also ``postgres://``, ``postgresql+psycopg://``),
``mysql://user:pw@host:port/db`` (also ``mariadb://``, ``mysql+pymysql://``). Parsing only: the
connections are made by each side's adapter (``agent.capture.database``, ``simulator.db``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit

from shared.errors import ConfigError

DIALECTS = ("sqlite", "postgresql", "mysql")
_ALIASES = {"postgres": "postgresql", "mariadb": "mysql"}


class DbUrlError(ConfigError, ValueError):
    """A database URL that cannot be used; the message says what is wrong (password never shown)."""


@dataclass(frozen=True)
class DbUrl:
    """A parsed database URL (the password is never shown by ``str``)."""

    dialect: str
    database: str
    host: str = "127.0.0.1"
    port: int | None = None
    user: str | None = None
    password: str | None = None

    def __str__(self) -> str:
        if self.dialect == "sqlite":
            return f"sqlite:///{self.database}"
        return f"{self.dialect}://{self.user or ''}@{self.host}:{self.port or ''}/{self.database}"

    def with_database(self, database: str) -> DbUrl:
        return replace(self, database=database)


def parse_db_url(url: str) -> DbUrl:
    """Parse ``url``; raises :class:`DbUrlError` saying what is wrong (without the password)."""
    shown = url.split("@")[-1]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DbUrlError(f"database URL {shown!r}: {exc}") from None
    scheme = parts.scheme.split("+")[0].lower()
    scheme = _ALIASES.get(scheme, scheme)
    if scheme not in DIALECTS:
        raise DbUrlError(f"unsupported database URL {shown!r}: use sqlite:///path, "
                         "postgresql://user@host/db or mysql://user@host/db")
    if scheme == "sqlite":
        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise DbUrlError(f"database URL {url!r}: no SQLite file path")
        return DbUrl("sqlite", path)
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise DbUrlError(f"database URL {shown!r}: no database name")
    return DbUrl(scheme, database, parts.hostname or "127.0.0.1", port,
                 unquote(parts.username) if parts.username else None,
                 unquote(parts.password) if parts.password else None)
