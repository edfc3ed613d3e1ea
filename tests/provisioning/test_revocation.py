"""Revocation reaches the running broker: rewrite files + SIGHUP."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import topics
from tests.support.broker import start_test_broker
from tests.support.wait import wait_until

pytestmark = pytest.mark.broker


def test_revoked_agent_is_disconnected_and_cannot_log_in_again(tmp_path: Path) -> None:
    with start_test_broker(tmp_path, agents=("a1", "a2")) as tb:
        hub = tb.probe("hub")
        hub.subscribe(topics.ALL_RECORDS)
        a1 = tb.probe("a1", reconnect=False)
        a2 = tb.probe("a2")
        pid = tb.broker.pid
        tb.revoke("a1")  # registry + broker files + SIGHUP, as `xiaoneng-provision agent revoke`
        # Mosquitto 2.0 re-checks connected clients on reload and drops those whose login is gone.
        wait_until(lambda: not a1.connected, message="revoked agent still connected after reload")
        assert tb.broker.pid == pid  # reloaded, not restarted
        again = tb.probe(tb.agents["a1"], connect=False)
        assert again.connect().value in (134, 135)
        # the others are untouched
        assert a2.connected and hub.connected
        assert a2.publish(topics.records("a2"), b"still here") == 0
        hub.wait_for(topics.records("a2"), b"still here")


def test_agent_added_while_the_broker_runs_can_log_in(tmp_path: Path) -> None:
    with start_test_broker(tmp_path, agents=()) as tb:
        hub = tb.probe("hub")
        hub.subscribe(topics.ALL_RECORDS)
        tb.add_agent("late-1")
        late = tb.probe("late-1")
        assert late.publish(topics.records("late-1"), b"hello") == 0
        hub.wait_for(topics.records("late-1"), b"hello")
