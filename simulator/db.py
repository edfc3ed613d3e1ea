"""A thin connection layer over SQLite, PostgreSQL (psycopg 3) and MySQL/MariaDB (PyMySQL).

URLs: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite:///:memory:``,
``postgresql://user@host:port/db``, ``mysql://user:pw@host:port/db``. SQL is written with ``?``
placeholders and rewritten to ``%s`` for the two servers. Times go in as naive local datetimes
(text ``YYYY-MM-DD HH:MM:SS`` in SQLite), money as ``Decimal`` yuan (text in SQLite).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.dburl import DbUrl as Url
from shared.dburl import parse_db_url


class Database:
    """One connection; call :meth:`commit` to end a unit of work."""

    def __init__(self, url: Url, conn: Any):
        self.url = url
        self.dialect = url.dialect
        self.conn = conn

    def _sql(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cur = self.conn.cursor()
        cur.execute(self._sql(sql), tuple(params))
        return cur

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            cur = self.conn.cursor()
            cur.executemany(self._sql(sql), rows)
            cur.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.execute(sql, params)
        try:
            return list(cur.fetchall())
        finally:
            cur.close()

    def insert(self, table: str, row: dict[str, Any], pk: str = "id") -> int:
        """Insert ``row`` and return the generated integer key."""
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
        if self.dialect == "postgresql":
            cur = self.execute(sql + f" RETURNING {pk}", list(row.values()))
            new_id = int(cur.fetchone()[0])
        else:
            cur = self.execute(sql, list(row.values()))
            new_id = int(cur.lastrowid)
        cur.close()
        return new_id

    def ts(self, moment: datetime | None) -> Any:
        """A naive local time as this database stores it."""
        if moment is None:
            return None
        naive = moment.replace(tzinfo=None, microsecond=0)
        return naive.strftime("%Y-%m-%d %H:%M:%S") if self.dialect == "sqlite" else naive

    def money(self, fen: int | None) -> Any:
        """Fen as DECIMAL yuan."""
        if fen is None:
            return None
        amount = (Decimal(fen) / 100).quantize(Decimal("0.01"))
        return str(amount) if self.dialect == "sqlite" else amount

    def tables(self) -> set[str]:
        """Lower-cased names of the tables in this database."""
        if self.dialect == "sqlite":
            rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        elif self.dialect == "postgresql":
            rows = self.query("SELECT table_name FROM information_schema.tables "
                              "WHERE table_schema = current_schema()")
        else:
            rows = self.query("SELECT table_name FROM information_schema.tables "
                              "WHERE table_schema = DATABASE()")
        return {str(r[0]).lower() for r in rows}

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _server_conn(url: Url, database: str | None) -> Any:
    if url.dialect == "postgresql":
        import psycopg

        return psycopg.connect(
            host=url.host, port=url.port or 5432, user=url.user or "postgres",
            password=url.password, dbname=database or "postgres", connect_timeout=5,
        )
    import pymysql

    return pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.user or "root",
        password=url.password or "", database=database, charset="utf8mb4",
        connect_timeout=5, autocommit=False,
    )


def connect(url: str | Url, *, create: bool = False) -> Database:
    """Open ``url``; with ``create=True`` a missing database (file or server) is created first.

    Without it, a missing SQLite file is a ValueError rather than a new empty file.
    """
    parsed = parse_db_url(url) if isinstance(url, str) else url
    if parsed.dialect == "sqlite":
        if not create and parsed.database != ":memory:" and not Path(parsed.database).exists():
            raise ValueError(f"{parsed.database}: no such SQLite database (xiaoneng-sim init "
                             "creates it)")
        conn = sqlite3.connect(parsed.database, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        return Database(parsed, conn)
    if create:
        create_database(parsed)
    return Database(parsed, _server_conn(parsed, parsed.database))


def create_database(url: Url) -> bool:
    """Create the server database named in ``url`` if it does not exist; True if created."""
    if url.dialect == "sqlite":
        return False
    admin = _server_conn(url, None)
    try:
        if url.dialect == "postgresql":
            admin.autocommit = True
            cur = admin.cursor()
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,))
            if cur.fetchone():
                return False
            cur.execute(f'CREATE DATABASE "{_ident(url.database)}"')
            return True
        cur = admin.cursor()
        cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                    (url.database,))
        if cur.fetchone():
            return False
        cur.execute(f"CREATE DATABASE `{_ident(url.database)}` CHARACTER SET utf8mb4")
        return True
    finally:
        admin.close()


def drop_database(url: Url) -> None:
    """Drop the server database named in ``url`` (tests use it on their own databases only)."""
    if url.dialect == "sqlite":
        return
    admin = _server_conn(url, None)
    try:
        if url.dialect == "postgresql":
            admin.autocommit = True
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{_ident(url.database)}" WITH (FORCE)')
        else:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS `{_ident(url.database)}`")
            admin.commit()
    finally:
        admin.close()


def _ident(name: str) -> str:
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"database name {name!r} must be letters, digits, _ and -")
    return name
