"""Nothing lost, nothing doubled across a hub restart mid-send: the notifier runs in its own
process, is SIGKILLed while the SMTP server holds the third e-mail, and a new process resumes
the pending rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from hub.notify.recipients import Prefs, set_prefs
from hub.notify.service import NotifyService
from tests.notify.conftest import NOW, Store, channels_config
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]


def start(data: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.notify.notifier_proc", str(data)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
    proc.wait(30)
    if proc.stdout is not None:
        proc.stdout.close()


def test_restart_mid_send_resumes_pending_rows_without_duplicates(store: Store, smtp, gateway) -> None:  # type: ignore[no-untyped-def]
    sink, port = smtp
    gw, url = gateway
    store.write_config(channels_config(port, url))
    conn = store.conn()
    set_prefs(conn, "dept-a", Prefs(frozenset({"email", "sms"})), NOW)
    set_prefs(conn, "dept-b", Prefs(frozenset()), NOW)
    conn.close()
    NotifyService(store.data, render=lambda m, c: None).stop()  # first start: the feed's cursors are set
    for card in ("K1", "K2", "K3"):
        store.raise_card(card)
    sink.hold = threading.Event()
    sink.hold_from = 3  # the third e-mail hangs in DATA
    first = start(store.data)
    try:
        assert sink.holding.wait(30), "the third e-mail never reached the server"
        stop(first, signal.SIGKILL)  # the hub dies mid-send
    finally:
        stop(first, signal.SIGKILL)
    sink.hold.set()  # the server gives up on the dead client: that e-mail was not delivered
    rows = {(r["key"], r["channel"]): r["state"] for r in store.outbox()}
    assert sorted(rows.values()).count("sent") == 4 and sorted(rows.values()).count("pending") == 2
    assert rows[("card:K3:raised", "email")] == "pending" and rows[("card:K3:raised", "sms")] == "pending"
    assert len(sink.accepted) == 2 and len(gw.delivered()) == 2
    sink.hold = None
    second = start(store.data)
    try:
        wait_until(lambda: all(r["state"] == "sent" for r in store.outbox()), 30, 0.05,
                   "the pending rows were not resumed after the restart")
    finally:
        stop(second)
    ids = sink.ids()
    assert len(ids) == 3 and len(set(ids)) == 3, ids
    bodies = sorted(m.get_body(("plain",)).get_content() for m in sink.accepted)  # type: ignore[union-attr]
    assert [("C-K1" in b, "C-K2" in b, "C-K3" in b) for b in bodies] == [
        (True, False, False), (False, True, False), (False, False, True)]
    keys = [r["key"] for r in gw.delivered()]
    assert len(keys) == 3 and len(set(keys)) == 3
    assert len(store.audit("notify.sent")) == 6
