"""Every provisioning test must leave no thread and no child process behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psutil
import pytest


@pytest.fixture(autouse=True)
def _leave_nothing_behind() -> Iterator[None]:
    threads_before = set(threading.enumerate())
    children_before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    leaked_threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    leaked = [p for p in psutil.Process().children(recursive=True) if p.pid not in children_before]
    for (
        child
    ) in leaked:  # only children this test started: kill them so one failure does not cascade
        child.kill()
        child.wait(10)
    assert not leaked_threads, f"leaked threads: {leaked_threads}"
    assert not leaked, f"leaked child processes: {leaked}"
