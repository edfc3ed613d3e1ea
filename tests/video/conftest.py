"""Fixtures of the video tests: loopback-only ICE (as on a one-machine test bed), no leaked threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest


@pytest.fixture
def loopback_ice() -> Iterator[None]:
    """ICE host candidates on 127.0.0.1 only (aioice never offers loopback by itself)."""
    from commonio.rtcloop import use_host_addresses

    use_host_addresses(["127.0.0.1"])
    yield
    use_host_addresses(None)


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"
