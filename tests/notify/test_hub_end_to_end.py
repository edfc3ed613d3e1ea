"""The running hub end to end: an agent reports a case three days late, the supervision raises an
R8 card, and the hub's notifier e-mails and texts the department's contact and fills the inbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.auth import connect, create_user, ensure_schema
from hub.auth.users import ensure_contact_fields, set_contact
from hub.engine.localtime import LOCAL_TZ
from hub.notify import metrics
from hub.notify.service import NotifyService
from hub.runtime import Hub, HubOptions
from hub.web.metrics import REGISTRY
from provisioning.registry import Registry
from shared.batch import sign_batch
from shared.record import ChainBuilder
from shared.topics import records
from tests.notify.conftest import FAST, PASSWORD, FakeClock, Store, channels_config
from tests.support.broker import Login, Probe
from tests.support.ports import free_port
from tests.support.wait import wait_until

pytestmark = [pytest.mark.broker]


def test_a_card_raised_in_the_running_hub_reaches_its_department(tmp_path: Path, smtp, gateway) -> None:  # type: ignore[no-untyped-def]
    sink, smtp_port = smtp
    gw, url = gateway
    data = tmp_path / "hub"
    data.mkdir()
    key = Ed25519PrivateKey.generate()
    registry = Registry(data / "hub.sqlite")
    registry.add_site("hall", "市民中心")
    agent_password = registry.add_agent("a1", "hall", key.public_key().public_bytes_raw())
    conn = connect(data / "hub.sqlite")
    ensure_schema(conn)
    create_user(conn, "zhao.d01", PASSWORD, "department", dept_code="D01", params=FAST)
    ensure_contact_fields(conn)
    set_contact(conn, "zhao.d01", "zhao@d01.example.cn", "13800000003")
    conn.close()
    (data / "notify.yaml").write_text(yaml.safe_dump(channels_config(smtp_port, url), allow_unicode=True),
                                      encoding="utf-8")
    port = free_port()
    hub = Hub(HubOptions(data_dir=data, mqtt_port=port, http_port=None))
    hub.start()
    agent = Probe("127.0.0.1", port, Login("a1", agent_password), client_id="a1")
    try:
        assert hub.notifier is not None
        agent.connect()
        now = datetime.now(LOCAL_TZ)
        body = {
            "case_id": "C1", "item_code": "I1", "item_name": "食品经营许可", "dept_code": "D01",
            "dept_name": "市场监管局", "accepted_at": (now - timedelta(days=3)).isoformat(), "case_kind": 2,
            "promised_limit": {"value": 20, "unit": "G"}, "statutory_limit": {"value": 20, "unit": "G"},
        }  # fmt: skip
        record = ChainBuilder("a1", "cases").append("case.accepted", now.isoformat(), body)
        agent.publish(records("a1"), bytes(sign_batch(key, "a1", "cases", [record], 1, now.isoformat())), qos=1)
        wait_until(lambda: sink.accepted and gw.delivered(), 30, 0.05, "the card's e-mail and SMS never arrived")
        mail = sink.accepted[0]
        assert str(mail["To"]) == "zhao@d01.example.cn" and "R8" in str(mail["Subject"])
        assert gw.delivered()[0]["body"]["mobile"] == "13800000003"
        conn = connect(data / "hub.sqlite")
        try:
            inbox = conn.execute("SELECT username FROM notify_inbox").fetchall()
            assert [r[0] for r in inbox] == ["zhao.d01"]
        finally:
            conn.close()
    finally:
        agent.close()
        hub.stop()


def test_outbox_figures_on_metrics(store: Store) -> None:
    store.raise_card("M1")  # before the notifier's first start: not sent
    notifier = NotifyService(store.data, clock=FakeClock(), render=lambda m, c: None)
    metrics.watch(store.db)
    try:
        store.raise_card("M2")
        notifier.feed.step(notifier.clock())
        text = REGISTRY.render()
        assert 'xiaoneng_notify_outbox_rows{channel="inbox",state="pending"} 2' in text
        assert "xiaoneng_notify_oldest_pending_seconds" in text
    finally:
        metrics.unwatch(store.db)
        notifier.stop()
    assert "xiaoneng_notify_outbox_rows" not in REGISTRY.render()
