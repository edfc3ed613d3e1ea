"""hub.broker.MosquittoBroker against the real binary: start, fail, kill, restart, supervise."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest

from hub.broker import MosquittoBroker
from shared import topics
from shared.errors import ConfigError
from tests.support.broker import start_test_broker
from tests.support.ports import free_port
from tests.support.wait import wait_until

pytestmark = pytest.mark.broker


def _broker(tmp_path: Path, port: int, **options: object) -> MosquittoBroker:
    (tmp_path / "passwd").write_text("")
    (tmp_path / "acl").write_text("")
    return MosquittoBroker(
        tmp_path / "data",
        port=port,
        password_file=tmp_path / "passwd",
        acl_file=tmp_path / "acl",
        **options,  # type: ignore[arg-type]
    )


def test_config_text(tmp_path: Path) -> None:
    broker = _broker(
        tmp_path, 12345, autosave_interval=3, extra_config=["max_inflight_messages 50"]
    )
    lines = broker.config_text().splitlines()
    for expected in (
        "listener 12345 127.0.0.1",
        "allow_anonymous false",
        "per_listener_settings false",
        f"password_file {tmp_path / 'passwd'}",
        f"acl_file {tmp_path / 'acl'}",
        "persistence true",
        f"persistence_location {tmp_path / 'data' / 'broker'}/",
        "autosave_interval 3",
        "max_queued_messages 100000",
        "max_packet_size 4259840",
        f"pid_file {tmp_path / 'data' / 'broker' / 'mosquitto.pid'}",
        f"log_dest file {tmp_path / 'data' / 'broker' / 'mosquitto.log'}",
        "max_inflight_messages 50",
    ):
        assert expected in lines
    assert ("user root" in lines) == (os.geteuid() == 0)
    assert "persistence false" in _broker(tmp_path, 1, persistence=False).config_text()
    with pytest.raises(ConfigError, match="pick a free port"):
        _broker(tmp_path, 0)


def test_start_reports_the_broker_output_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = _broker(tmp_path, port)
        with pytest.raises(
            ConfigError, match=f"(?s)exited with status .* on 127.0.0.1:{port}.*in use"
        ):
            broker.start()
    assert not broker.running and broker.pid is None
    broker.stop()  # harmless


def test_missing_executable_is_explained(tmp_path: Path) -> None:
    broker = _broker(tmp_path, free_port(), executable="/nonexistent/mosquitto")
    with pytest.raises(ConfigError, match="not found; install it"):
        broker.start()


def test_start_stop_pid_file_and_reload(tmp_path: Path) -> None:
    with _broker(tmp_path, free_port()) as broker:
        pid = broker.pid
        assert pid is not None and broker.running
        assert int(broker.pid_file.read_text()) == pid
        with pytest.raises(ConfigError, match="already running"):
            broker.start()
        broker.reload()
        wait_until(lambda: "Reloading config" in broker.log_file.read_text(), message="no reload")
        assert broker.pid == pid
    assert not broker.running and not broker.pid_file.exists()
    broker.stop()  # twice is fine
    with pytest.raises(ConfigError, match="not running"):
        broker.reload()


@pytest.mark.slow
def test_persistent_session_survives_sigkill_and_restart_on_the_same_port(tmp_path: Path) -> None:
    with start_test_broker(tmp_path, agents=("a1",), autosave_interval=1) as tb:
        port = tb.port
        hub = tb.probe("hub", client_id="hub-ingest-1", clean_start=False, reconnect=False)
        assert hub.subscribe(topics.ALL_RECORDS)[0].value == 1
        hub.close()
        # SIGKILL loses what changed since the last autosave: wait for a save after the SUBACK.
        db = tb.broker.persistence_file
        saved_before = db.stat().st_mtime_ns if db.exists() else 0
        wait_until(
            lambda: db.exists() and db.stat().st_mtime_ns != saved_before,
            timeout=10,
            message="broker never autosaved",
        )
        tb.kill()
        assert not tb.broker.running
        tb.start()
        assert tb.port == port
        a1 = tb.probe("a1")
        # 0, not 16 ("no matching subscribers"): the hub's offline session is back
        assert a1.publish(topics.records("a1"), b"queued while hub offline") == 0
        hub = tb.probe("hub", client_id="hub-ingest-1", clean_start=False)
        assert hub.session_present
        hub.wait_for(topics.records("a1"), b"queued while hub offline")


@pytest.mark.slow
def test_queued_messages_survive_a_clean_restart(tmp_path: Path) -> None:
    with start_test_broker(tmp_path, agents=("a1",)) as tb:  # default autosave: stop() saves
        hub = tb.probe("hub", client_id="hub-ingest-1", clean_start=False, reconnect=False)
        hub.subscribe(topics.ALL_RECORDS)
        hub.close()
        a1 = tb.probe("a1", reconnect=False)
        for i in range(5):
            assert a1.publish(topics.records("a1"), b"%d" % i) == 0
        a1.close()
        tb.restart()
        hub = tb.probe("hub", client_id="hub-ingest-1", clean_start=False)
        wait_until(lambda: len(hub.received()) == 5, message="queued messages lost on restart")
        assert [m.payload for m in hub.received()] == [b"%d" % i for i in range(5)]


@pytest.mark.slow
def test_supervisor_restarts_a_crashed_broker_and_stops_cleanly(tmp_path: Path) -> None:
    with start_test_broker(tmp_path, agents=("a1",), supervise=True) as tb:
        first = tb.broker.pid
        tb.kill()
        wait_until(lambda: tb.broker.restarts == 1 and tb.broker.running, message="not restarted")
        assert tb.broker.pid != first
        a1 = tb.probe("a1")
        assert a1.publish(topics.records("a1"), b"after restart") in (0, 16)
    # the fixture checks that the supervisor thread and the broker are gone


@pytest.mark.slow
def test_supervisor_keeps_retrying_while_the_port_is_taken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="hub.broker")
    with start_test_broker(tmp_path, agents=(), supervise=True) as tb:
        tb.kill()
        with socket.socket() as squatter:  # taken before the first restart (backoff >= 0.5 s)
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind((tb.host, tb.port))
            squatter.listen()
            wait_until(lambda: "restart failed" in caplog.text, message="no failed restart")
            assert tb.broker.restarts == 0 and not tb.broker.running
        wait_until(lambda: tb.broker.restarts == 1, timeout=15, message="no restart after release")
        assert tb.probe("hub").connected
