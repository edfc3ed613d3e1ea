"""Real database servers for tests: a fresh, uniquely named database per test, dropped afterwards.

PostgreSQL is expected at ``postgresql://postgres@127.0.0.1:5432`` and MariaDB/MySQL at
``mysql://root@127.0.0.1:3306`` (override with ``XN_TEST_PG_URL`` / ``XN_TEST_MYSQL_URL``, any
database name in them is replaced). Where no server answers there, the session starts a throwaway
one of its own (:mod:`tests.support.dbservers`: a cluster in a temporary directory on a free port,
removed at the end). Only if that is impossible too (server packages missing) does the test fail
(make test, CI) or skip elsewhere, saying what to install.
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
from tests.support.dbservers import throwaway
from tests.support.required import missing

DIALECTS = ("sqlite", "postgresql", "mysql")
_chosen: dict[str, Url] = {}
_DEFAULTS = {
    "postgresql": ("XN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres",
                   "install Debian's postgresql package (make test does: scripts/system-deps.sh)"),
    "mysql": ("XN_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test",
              "install Debian's mariadb-server package (make test does: scripts/system-deps.sh)"),
}


def server_url(dialect: str) -> Url:
    """The admin URL of ``dialect``'s server: the configured one if it answers, else a throwaway
    instance of this test session's own (tests.support.dbservers); fails (make test, CI) or skips
    the test if neither is possible."""
    if dialect in _chosen:
        return _chosen[dialect]
    env, default, how = _DEFAULTS[dialect]
    url = parse_db_url(os.environ.get(env, default))
    try:
        _probe(url)
    except Exception as exc:  # noqa: BLE001 - any connection error means "not reachable"
        try:
            url = parse_db_url(throwaway(dialect).url)
            _probe(url)
        except Exception as own:  # noqa: BLE001 - the set-up failed: say both reasons
            missing(f"{dialect} not reachable at {url.host}:{url.port or ''} ({exc}), and no throwaway server "
                    f"could be started ({own}); {how}, or point {env} at a server")
    _chosen[dialect] = url
    return url


def _probe(url: Url) -> None:
    probe = url.with_database(f"xn_probe_{secrets.token_hex(4)}")
    create_database(probe)
    drop_database(probe)


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
