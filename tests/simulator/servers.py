"""Real database servers for tests: a fresh, uniquely named database per test, dropped afterwards.

PostgreSQL is expected at ``postgresql://postgres@127.0.0.1:5432`` and MariaDB/MySQL at
``mysql://root@127.0.0.1:3306`` (override with ``XN_TEST_PG_URL`` / ``XN_TEST_MYSQL_URL``, any
database name in them is replaced). In CI (``CI=true``) a server that cannot be reached fails the
test; elsewhere the test is skipped with a message saying how to start the server.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.dburl import DbUrl as Url
from shared.dburl import parse_db_url
from simulator.db import create_database, drop_database
from tests.support.required import missing

DIALECTS = ("sqlite", "postgresql", "mysql")
_DEFAULTS = {
    "postgresql": ("XN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres",
                   "start it with `service postgresql start` (Debian: apt-get install postgresql)"),
    "mysql": ("XN_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test",
              "start it with `service mariadb start` (Debian: apt-get install mariadb-server)"),
}


def server_url(dialect: str) -> Url:
    """The admin URL of ``dialect``'s server; fails (make test, CI) or skips the test if it is down."""
    env, default, how = _DEFAULTS[dialect]
    url = parse_db_url(os.environ.get(env, default))
    try:
        probe = url.with_database(f"xn_probe_{secrets.token_hex(4)}")
        create_database(probe)
        drop_database(probe)
    except Exception as exc:  # noqa: BLE001 - any connection error means "not reachable"
        message = (f"{dialect} not reachable at {url.host}:{url.port or ''} ({exc}); {how}, "
                   f"or point {env} at a server")
        missing(message)
    return url


def url_text(url: Url) -> str:
    """``url`` back as text (what the CLI takes)."""
    if url.dialect == "sqlite":
        return f"sqlite:///{url.database}"
    auth = url.user or ""
    if url.password:
        auth += f":{url.password}"
    port = f":{url.port}" if url.port else ""
    return f"{url.dialect}://{auth}@{url.host}{port}/{url.database}"


@contextmanager
def fresh_database(dialect: str, tmp_path: Path) -> Iterator[str]:
    """A URL of a new, empty database named ``xn_test_<random>``; dropped at the end."""
    if dialect == "sqlite":
        yield f"sqlite:///{tmp_path / f'xn_test_{secrets.token_hex(4)}.db'}"
        return
    url = server_url(dialect).with_database(f"xn_test_{secrets.token_hex(6)}")
    create_database(url)
    try:
        yield url_text(url)
    finally:
        drop_database(url)
