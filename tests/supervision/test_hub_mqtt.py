"""The running hub end to end: an agent publishes a batch, a card comes out on xn/v1/hub/alerts."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.engine.localtime import LOCAL_TZ
from hub.runtime import Hub, HubOptions
from provisioning.registry import Registry
from shared.batch import sign_batch
from shared.record import ChainBuilder
from shared.topics import ALERTS, records
from tests.support.broker import Login, Probe
from tests.support.ports import free_port
from tests.support.wait import wait_until

pytestmark = [pytest.mark.broker]


def test_a_late_reported_record_raises_a_card_published_on_mqtt(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    data.mkdir()
    key = Ed25519PrivateKey.generate()
    registry = Registry(data / "hub.sqlite")
    registry.add_site("hall", "市民中心")
    agent_password = registry.add_agent("a1", "hall", key.public_key().public_bytes_raw())
    watcher_password = registry.set_service_user("watcher")
    port = free_port()
    hub = Hub(HubOptions(data_dir=data, mqtt_port=port, http_port=None))
    hub.start()
    watcher = Probe("127.0.0.1", port, Login("watcher", watcher_password))
    agent = Probe("127.0.0.1", port, Login("a1", agent_password), client_id="a1")
    try:
        watcher.connect()
        watcher.subscribe(ALERTS)
        agent.connect()
        now = datetime.now(LOCAL_TZ)
        happened = (now - timedelta(days=3)).isoformat()
        body = {
            "case_id": "C1", "item_code": "I1", "item_name": "食品经营许可", "dept_code": "D01",
            "dept_name": "市场监管局", "accepted_at": happened, "case_kind": 2,
            "promised_limit": {"value": 20, "unit": "G"}, "statutory_limit": {"value": 20, "unit": "G"},
        }  # fmt: skip
        record = ChainBuilder("a1", "cases").append("case.accepted", now.isoformat(), body)  # reported 3 days late
        agent.publish(records("a1"), bytes(sign_batch(key, "a1", "cases", [record], 1, now.isoformat())), qos=1)
        message = watcher.wait_for(ALERTS, timeout=20)
        alert = json.loads(message.payload)
        assert alert["event"] == "card.raised"
        assert (alert["card"]["rule"], alert["card"]["case_id"], alert["card"]["dept_code"]) == ("R8", "C1", "D01")
        assert alert["card"]["evidence"] == [record.hash.hex()]

        def stored() -> list[tuple[str, str]]:
            conn = sqlite3.connect(data / "hub.sqlite")
            try:
                return conn.execute("SELECT case_id, status FROM cases").fetchall()
            finally:
                conn.close()

        assert wait_until(stored, 10) == [("C1", "normal")]
    finally:
        agent.close()
        watcher.close()
        hub.stop()
