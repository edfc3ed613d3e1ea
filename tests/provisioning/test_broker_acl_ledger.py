"""The ledger's topics on the real broker: every agent reads the hub's checkpoint, none can forge
it; an agent asks for audits and raises alerts only as itself and reads only its own answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import topics
from tests.support.broker import RunningBroker, start_test_broker

pytestmark = pytest.mark.broker

NOT_AUTHORISED = 135
ACCEPTED = (0, 16)


@pytest.fixture
def tb(tmp_path: Path) -> Iterator[RunningBroker]:
    with start_test_broker(tmp_path, agents=("a1", "a2")) as running:
        yield running


def test_checkpoint_audit_and_alert_topics(tb: RunningBroker) -> None:
    hub, a1, a2 = tb.probe("hub"), tb.probe("a1"), tb.probe("a2")
    hub.subscribe(topics.ALL_AUDIT_REQ)
    hub.subscribe(topics.ALL_AGENT_ALERTS)
    a1.subscribe(topics.CHECKPOINT)
    assert hub.publish(topics.CHECKPOINT, b"cp-1", retain=True) == 0
    a1.wait_for(topics.CHECKPOINT, b"cp-1")
    a2.subscribe(topics.CHECKPOINT)  # late: the retained one
    assert a2.wait_for(topics.CHECKPOINT, b"cp-1").retain
    for forged in (topics.CHECKPOINT, topics.audit_resp("a1"), topics.audit_req("a2"), topics.alert("a2")):
        assert a1.publish(forged, b"forged") == NOT_AUTHORISED, forged
    assert a1.publish(topics.audit_req("a1"), b"req-1") == 0
    assert a1.publish(topics.alert("a1"), b"alert-1") == 0
    hub.wait_for(topics.audit_req("a1"), b"req-1")
    hub.wait_for(topics.alert("a1"), b"alert-1")
    a1.subscribe("xn/v1/#")
    a2.subscribe(topics.audit_resp("a2"))
    assert hub.publish(topics.audit_resp("a2"), b"answer-a2") == 0
    assert hub.publish(topics.audit_resp("a1"), b"answer-a1") == 0
    a2.wait_for(topics.audit_resp("a2"), b"answer-a2")
    a1.wait_for(topics.audit_resp("a1"), b"answer-a1")
    assert topics.audit_resp("a2") not in {m.topic for m in a1.received()}
    assert [m.payload for m in a2.received(topics.CHECKPOINT)] == [b"cp-1"]  # the forged one never came
