"""Generated credentials and ACL on the real Mosquitto 2.0 (DESIGN.md §4.2).

Absence is proved with a sentinel: after the message that must not arrive, the same publisher
sends one that must, through the same broker to the same subscriber; once the sentinel is in,
the forbidden message would have been delivered before it (one broker, one session, in order).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from shared import topics
from tests.support.broker import Login, RunningBroker, start_test_broker
from tests.support.wait import wait_until

pytestmark = pytest.mark.broker

NOT_AUTHORISED = 135
ACCEPTED = (0, 16)  # MQTT 5 PUBACK: success / accepted but no matching subscribers
REFUSED_LOGIN = {134, 135}  # MQTT 5: bad user name or password / not authorised


@pytest.fixture
def tb(tmp_path: Path) -> Iterator[RunningBroker]:
    with start_test_broker(tmp_path, agents=("a1", "a2")) as running:
        yield running


def test_agent_login_accepted_wrong_password_and_anonymous_refused(tb: RunningBroker) -> None:
    assert tb.probe("a1").connected
    wrong = tb.probe(Login("a1", tb.agents["a1"].password + "x"), connect=False)
    assert wrong.connect().value in REFUSED_LOGIN
    other = tb.probe(Login("a1", tb.agents["a2"].password), connect=False)
    assert other.connect().value in REFUSED_LOGIN
    anonymous = tb.probe(None, connect=False)
    assert anonymous.connect().value in REFUSED_LOGIN
    v311 = tb.probe(Login("a1", "nope"), connect=False, protocol=mqtt.MQTTv311)
    assert v311.connect().value in REFUSED_LOGIN  # paho maps 3.1.1's CONNACK 5 to reason 135
    assert tb.probe("a1", protocol=mqtt.MQTTv311).connected


def test_agent_up_topics_reach_the_hub(tb: RunningBroker) -> None:
    hub = tb.probe("hub")
    for topic in (
        topics.ALL_RECORDS,
        topics.ALL_STATUS,
        topics.ALL_HEALTH,
        "xn/v1/agents/+/rtc/up/#",
    ):
        assert [c.value for c in hub.subscribe(topic)] == [1]
    a1 = tb.probe("a1")
    sent = {
        topics.records("a1"): b"batch-1",
        topics.status("a1"): b"online",
        topics.health("a1"): b"ok",
        topics.rtc("a1", "up/offer"): b"sdp",
    }
    for topic, payload in sent.items():
        assert a1.publish(topic, payload) == 0
    for topic, payload in sent.items():
        assert hub.wait_for(topic).payload == payload


def test_hub_reads_records_through_a_shared_subscription(tb: RunningBroker) -> None:
    hub1, hub2 = tb.probe("hub"), tb.probe("hub")
    assert [c.value for c in hub1.subscribe(topics.SHARED_RECORDS)] == [1]
    assert [c.value for c in hub2.subscribe(topics.SHARED_RECORDS)] == [1]
    a1 = tb.probe("a1")
    for i in range(6):
        assert a1.publish(topics.records("a1"), b"r%d" % i) == 0

    def all_in() -> bool:
        got = hub1.received(topics.records("a1")) + hub2.received(topics.records("a1"))
        return sorted(m.payload for m in got) == [b"r%d" % i for i in range(6)]

    wait_until(all_in, message="shared subscribers did not get each record exactly once")


def test_agent_cannot_publish_outside_its_own_up_topics(tb: RunningBroker) -> None:
    hub = tb.probe("hub")
    hub.subscribe("xn/v1/#")
    a1, a2 = tb.probe("a1"), tb.probe("a2")
    a2.subscribe(topics.ack("a2"))
    a2.subscribe(topics.config("a2"))
    forbidden = [
        topics.records("a2"),  # another agent's records
        topics.status("a2"),
        topics.ack("a2"),  # a down topic
        topics.ack("a1"),  # even its own down topics: acks and config come from the hub only
        topics.config("a1"),
        topics.ALERTS,
        "xn/v1/other",
    ]
    for topic in forbidden:
        assert a1.publish(topic, b"forged") == NOT_AUTHORISED, topic
    assert a1.publish(topics.records("a1"), b"sentinel") == 0
    hub.wait_for(topics.records("a1"), b"sentinel")
    assert [m.topic for m in hub.received()] == [topics.records("a1")]
    assert a2.received() == []


def test_agent_cannot_read_another_agents_down_topics(tb: RunningBroker) -> None:
    hub, a1, a2 = tb.probe("hub"), tb.probe("a1"), tb.probe("a2")
    assert hub.publish(topics.config("a2"), b"cfg-a2", retain=True) in ACCEPTED
    spy = [topics.ack("a2"), topics.config("a2"), "xn/v1/agents/a2/rtc/down/#", "xn/v1/#", "#"]
    for topic in spy:
        codes = [c.value for c in a1.subscribe(topic)]
        # Mosquitto 2.0's ACL file never refuses a SUBSCRIBE (it grants it and filters on
        # delivery); a broker that refuses it (0x80 / 135) is just as good.
        assert codes in ([1], [0x80], [NOT_AUTHORISED]), (topic, codes)
    a1.subscribe(topics.ack("a1"))
    a2.subscribe(topics.ack("a2"))
    a2.subscribe("xn/v1/agents/a2/rtc/down/#")
    assert hub.publish(topics.ack("a2"), b"ack-a2") == 0
    assert hub.publish(topics.rtc("a2", "down/answer"), b"sdp-a2") == 0
    assert hub.publish(topics.ack("a1"), b"sentinel") == 0
    a2.wait_for(topics.ack("a2"), b"ack-a2")  # positive control: the owner does get them
    a2.wait_for(topics.rtc("a2", "down/answer"), b"sdp-a2")
    a1.wait_for(topics.ack("a1"), b"sentinel")
    # one copy per matching subscription (ack/a1, xn/v1/#, #), and nothing else
    assert {(m.topic, m.payload) for m in a1.received()} == {(topics.ack("a1"), b"sentinel")}


def test_hub_writes_down_topics_and_its_own_namespace(tb: RunningBroker) -> None:
    hub, a1 = tb.probe("hub"), tb.probe("a1")
    assert hub.publish(topics.config("a1"), b"cfg", retain=True) in ACCEPTED
    a1.subscribe(topics.config("a1"))
    assert a1.wait_for(topics.config("a1")).retain
    a1.subscribe(topics.ack("a1"))
    a1.subscribe("xn/v1/agents/a1/rtc/down/#")
    assert hub.publish(topics.ack("a1"), b"ack") == 0
    assert hub.publish(topics.rtc("a1", "down/offer"), b"sdp") == 0
    a1.wait_for(topics.ack("a1"), b"ack")
    a1.wait_for(topics.rtc("a1", "down/offer"), b"sdp")
    hub.subscribe(f"{topics.ROOT}/hub/#")
    assert hub.publish(topics.ALERTS, b"red card") == 0
    hub.wait_for(topics.ALERTS, b"red card")
    # the hub may not pretend to be an agent
    assert hub.publish(topics.records("a1"), b"forged") == NOT_AUTHORISED


def test_will_on_own_status_is_published_and_a_forged_will_is_dropped(tb: RunningBroker) -> None:
    hub = tb.probe("hub")
    hub.subscribe("xn/v1/#")
    cases = [("own", topics.status("a1"), True), ("forged", topics.status("a2"), False)]
    for case, will_topic, published in cases:
        will = (will_topic, b"offline-" + case.encode(), 1, False)
        # Mosquitto 2.0 accepts any will topic at CONNECT; the ACL is applied when it publishes it.
        first = tb.probe("a1", client_id=f"a1-{case}", will=will, reconnect=False)
        assert first.connected
        # A second connection with the same client id takes the session over: the broker drops
        # the first one (publishing its will, if allowed) before it answers the second's CONNECT.
        second = tb.probe("a1", client_id=f"a1-{case}")
        assert second.publish(topics.records("a1"), b"sentinel-" + case.encode()) == 0
        hub.wait_for(topics.records("a1"), b"sentinel-" + case.encode())
        wills = [m for m in hub.received() if m.payload == will[1]]
        assert [m.topic for m in wills] == ([will_topic] if published else []), case
