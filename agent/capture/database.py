"""Connections to department databases: SQLite, PostgreSQL (psycopg 3), MySQL/MariaDB (PyMySQL).

URLs as in docs/mapping.md: ``sqlite:///path.db``, ``postgresql://user:pw@host:port/db``,
``mysql://user:pw@host:port/db``. The capture code writes SQL with :attr:`SourceDb.ph` as the
placeholder and reads rows as dicts. :func:`is_connection_error` tells "the server went away"
(retry with backoff) from everything else.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.dburl import DbUrl, parse_db_url


class SourceDb:
    """One open connection to a department database."""

    def __init__(self, url: DbUrl, conn: Any):
        self.url = url
        self.dialect = url.dialect
        self.conn = conn
        self.ph = "?" if url.dialect == "sqlite" else "%s"

    def user_sql(self, sql: str) -> str:
        """Profile-supplied SQL made safe to combine with ``%s`` placeholders."""
        return sql if self.dialect == "sqlite" else sql.replace("%", "%%")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a SELECT; rows as dicts (column names as the driver reports them)."""
        cur = self.conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            cols = [str(d[0]) for d in cur.description or ()]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        finally:
            cur.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; returns the affected row count."""
        cur = self.conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            return int(cur.rowcount or 0)
        finally:
            cur.close()

    def end_read(self) -> None:
        """Finish the read transaction so the next query sees fresh commits."""
        self.conn.rollback()

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001,S110 - closing a broken connection may fail; it is gone
            pass


def connect_source(url: str | DbUrl, timeout: int = 5) -> SourceDb:
    """Open a department database. Raises the driver's error if the server cannot be reached."""
    parsed = parse_db_url(url) if isinstance(url, str) else url
    if parsed.dialect == "sqlite":
        if not Path(parsed.database).exists():
            raise sqlite3.OperationalError(f"no SQLite database at {parsed.database}")
        conn = sqlite3.connect(parsed.database, timeout=timeout)
        return SourceDb(parsed, conn)
    if parsed.dialect == "postgresql":
        import psycopg

        pg: Any = psycopg.connect(host=parsed.host, port=parsed.port or 5432,
                               user=parsed.user or "postgres", password=parsed.password,
                               dbname=parsed.database, connect_timeout=timeout)
        return SourceDb(parsed, pg)
    import pymysql

    conn = pymysql.connect(host=parsed.host, port=parsed.port or 3306, user=parsed.user or "root",
                           password=parsed.password or "", database=parsed.database,
                           charset="utf8mb4", connect_timeout=timeout, autocommit=False)
    return SourceDb(parsed, conn)


def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` means the database is unreachable or the connection broke."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    module = type(exc).__module__
    name = type(exc).__name__
    if module.startswith("psycopg"):
        import psycopg

        return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))
    if module.startswith("pymysql"):
        if name == "InterfaceError":
            return True
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        return name == "OperationalError" and code in (2003, 2006, 2013, 2055, 1927, 1053)
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        return "no SQLite database" in text or "unable to open" in text or "locked" in text
    return False
