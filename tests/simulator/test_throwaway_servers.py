"""The suite's own database servers for a fresh machine (tests.support.dbservers): they start on a
free port from Debian's server packages, accept the tests' connections, and leave nothing behind."""

from __future__ import annotations

import secrets

import pytest

from shared.dburl import parse_db_url
from simulator.db import connect, create_database, drop_database
from tests.support import dbservers


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_a_throwaway_server_serves_and_is_removed(dialect: str) -> None:
    start = {"postgresql": dbservers._start_postgres, "mysql": dbservers._start_mariadb}[dialect]
    server = start()
    try:
        url = parse_db_url(server.url).with_database(f"xn_test_{secrets.token_hex(4)}")
        assert url.port not in (5432, 3306)
        create_database(url)
        with connect(url) as db:
            db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR(20))")
            db.execute("INSERT INTO t (id, name) VALUES (?, ?)", (1, "窗口一"))
            db.commit()
            assert db.query("SELECT name FROM t") == [("窗口一",)]
        drop_database(url)
    finally:
        server.stop()
        dbservers.shutil.rmtree(server.root, ignore_errors=True)
    assert not server.root.exists()
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises: nothing listens any more
        create_database(parse_db_url(server.url).with_database("xn_gone"))
