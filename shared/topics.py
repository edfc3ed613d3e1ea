"""MQTT topic names (DESIGN.md §4.2). Topic root ``xn/v1/``."""

from __future__ import annotations

import re

ROOT = "xn/v1"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# What the hub subscribes to.
ALL_RECORDS = f"{ROOT}/agents/+/records"
SHARED_RECORDS = f"$share/hub/{ROOT}/agents/+/records"
ALL_STATUS = f"{ROOT}/agents/+/status"
ALL_HEALTH = f"{ROOT}/agents/+/health"
ALL_RTC_UP = f"{ROOT}/agents/+/rtc/up/#"
ALERTS = f"{ROOT}/hub/alerts"
ALL_AUDIT_REQ = f"{ROOT}/agents/+/audit/req"
ALL_AGENT_ALERTS = f"{ROOT}/agents/+/alert"
#: The hub's newest signed ledger checkpoint (retained, QoS 1); every agent may read it.
CHECKPOINT = f"{ROOT}/hub/checkpoint"


def valid_id(value: str) -> bool:
    """Agent, site and stream ids: 1-64 of ``A-Za-z0-9_.-``, not starting with a punctuation mark."""
    return bool(_ID.match(value))


def _agent(agent_id: str, leaf: str) -> str:
    if not valid_id(agent_id):
        raise ValueError(f"invalid agent id {agent_id!r}")
    return f"{ROOT}/agents/{agent_id}/{leaf}"


def records(agent_id: str) -> str:
    return _agent(agent_id, "records")


def ack(agent_id: str) -> str:
    return _agent(agent_id, "ack")


def status(agent_id: str) -> str:
    return _agent(agent_id, "status")


def health(agent_id: str) -> str:
    return _agent(agent_id, "health")


def config(agent_id: str) -> str:
    return _agent(agent_id, "config")


def rtc(agent_id: str, leaf: str) -> str:
    return _agent(agent_id, f"rtc/{leaf}")


def audit_req(agent_id: str) -> str:
    return _agent(agent_id, "audit/req")


def audit_resp(agent_id: str) -> str:
    return _agent(agent_id, "audit/resp")


def alert(agent_id: str) -> str:
    """Where an agent raises a security alert (e.g. its audit of the hub's ledger failed)."""
    return _agent(agent_id, "alert")


def agent_of(topic: str) -> str | None:
    """The agent id in ``xn/v1/agents/{id}/...``, or None for any other topic."""
    parts = topic.split("/")
    if len(parts) >= 4 and parts[0] == "xn" and parts[1] == "v1" and parts[2] == "agents":
        return parts[3] if valid_id(parts[3]) else None
    return None
