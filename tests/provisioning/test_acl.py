"""The generated ACL text (its effect on the real broker is in test_broker_acl.py)."""

from __future__ import annotations

import pytest

from provisioning import acl
from shared import topics
from shared.errors import ProvisioningError


def test_agent_block_is_exactly_its_own_topics() -> None:
    assert acl.agent_rules("a1") == [
        "topic write xn/v1/agents/a1/records",
        "topic write xn/v1/agents/a1/status",
        "topic write xn/v1/agents/a1/health",
        "topic write xn/v1/agents/a1/rtc/up/#",
        "topic write xn/v1/agents/a1/audit/req",
        "topic write xn/v1/agents/a1/alert",
        "topic read xn/v1/agents/a1/ack",
        "topic read xn/v1/agents/a1/config",
        "topic read xn/v1/agents/a1/rtc/down/#",
        "topic read xn/v1/agents/a1/audit/resp",
        "topic read xn/v1/hub/checkpoint",
    ]


def test_agent_topics_match_shared_topic_names() -> None:
    rules = acl.agent_rules("a1")
    for topic in (topics.records("a1"), topics.status("a1"), topics.health("a1")):
        assert f"topic write {topic}" in rules
    for topic in (topics.audit_req("a1"), topics.alert("a1")):
        assert f"topic write {topic}" in rules
    for topic in (topics.ack("a1"), topics.config("a1"), topics.audit_resp("a1"), topics.CHECKPOINT):
        assert f"topic read {topic}" in rules
    for topic in (topics.ALL_AUDIT_REQ, topics.ALL_AGENT_ALERTS):
        assert f"topic read {topic}" in acl.hub_rules()
    assert f"topic read {topics.ALL_RECORDS}" in acl.hub_rules()
    assert f"topic readwrite {topics.ROOT}/hub/#" in acl.hub_rules()


def test_file_has_a_block_per_user_and_nothing_for_anonymous() -> None:
    text = acl.acl_file_text(["b2", "a1"], [("hub", "hub")])
    blocks = text.split("\n\n")
    assert blocks[0].startswith("#") and "topic" not in blocks[0]
    assert [b.splitlines()[0] for b in blocks[1:]] == ["user hub", "user a1", "user b2"]
    assert "user a1\n" + "\n".join(acl.agent_rules("a1")) in text


def test_duplicate_or_invalid_users_are_refused() -> None:
    with pytest.raises(ProvisioningError, match="used twice"):
        acl.acl_file_text(["hub"], [("hub", "hub")])
    with pytest.raises(ProvisioningError, match="invalid"):
        acl.acl_file_text(["a b"], [])
    with pytest.raises(ProvisioningError, match="unknown service role"):
        acl.acl_file_text([], [("x", "root")])
