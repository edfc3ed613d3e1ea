"""Database URLs: one parser for the agent's capture and the simulator (shared.dburl)."""

from __future__ import annotations

import pytest

from shared.dburl import DbUrl, DbUrlError, parse_db_url
from shared.errors import ConfigError


def test_server_urls_with_aliases_and_escapes() -> None:
    url = parse_db_url("postgres://ops:p%40ss@db.example:5433/hall%20one")
    assert url == DbUrl("postgresql", "hall one", "db.example", 5433, "ops", "p@ss")
    assert str(url) == "postgresql://ops@db.example:5433/hall one"  # never the password
    assert parse_db_url("mariadb+pymysql://root@127.0.0.1/x").dialect == "mysql"
    assert parse_db_url("mysql://root@/x").host == "127.0.0.1"


def test_sqlite_paths() -> None:
    assert parse_db_url("sqlite:///rel/a.db").database == "rel/a.db"
    assert parse_db_url("sqlite:////abs/a.db").database == "/abs/a.db"
    assert parse_db_url("sqlite:///:memory:").database == ":memory:"
    assert parse_db_url("sqlite:///x.db").with_database("y.db") == DbUrl("sqlite", "y.db")


@pytest.mark.parametrize(("url", "says"), [
    ("oracle://u:secret@h/db", "unsupported database URL 'h/db'"),
    ("sqlite://", "no SQLite file path"),
    ("postgresql://u:secret@h:5432/", "no database name"),
    ("mysql://u:secret@h:notaport/db", "Port could not be cast"),
])
def test_bad_urls_say_what_is_wrong_without_the_password(url: str, says: str) -> None:
    with pytest.raises(DbUrlError) as caught:
        parse_db_url(url)
    assert says in str(caught.value) and "secret" not in str(caught.value)
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, ValueError)
