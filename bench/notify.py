"""Benchmark of the notification outbox (issue 13, item 2).

    python bench/notify.py --cards 2000 --json

A hub database with ``--contacts`` department users of one department (each with e-mail and a phone),
``--cards`` new cards written as the supervision writes them, a real SMTP server (aiosmtpd) and a real
HTTP SMS gateway (http.server) on free ports of 127.0.0.1. Prints one JSON object:

- ``feed_cards_per_s``: cards turned into messages and outbox rows (one transaction per feed step);
- ``rows``: outbox rows made (cards × contacts × 3 channels);
- ``rows_sent_per_s``: rows delivered per second by the notifier's sender (``send_due``: each row
  sent, then marked and audited in its own transaction);
- ``inbox_send_ms`` / ``email_send_ms`` / ``sms_send_ms``: mean time of one delivery on each channel
  (one SMTP connection per e-mail, one HTTP request per SMS);
- ``backlog_s``: wall time from the first card to the last row sent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.auth import connect, create_user, ensure_schema  # noqa: E402
from hub.auth.passwords import ScryptParams  # noqa: E402
from hub.auth.users import set_contact  # noqa: E402
from hub.notify.channels import Channel, EmailChannel, InboxChannel, SmsChannel  # noqa: E402
from hub.notify.outbox import OutboxRow  # noqa: E402
from hub.notify.schema import ensure_schema as ensure_notify  # noqa: E402
from hub.notify.service import NotifyOptions, NotifyService  # noqa: E402
from hub.supervision.schema import connect as sup_connect  # noqa: E402
from hub.supervision.schema import ensure_schema as ensure_sup  # noqa: E402
from tests.notify.servers import sms_gateway, smtp_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--contacts", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, smtp_server() as (sink, smtp_port), sms_gateway() as (gw, url):
        data = Path(tmp)
        db = data / "hub.sqlite"
        conn = sup_connect(db)
        ensure_sup(conn)
        conn.close()
        conn = connect(db)
        ensure_schema(conn)
        ensure_notify(conn)
        for i in range(args.contacts):
            create_user(conn, f"d{i}", "benchmark password", "department", dept_code="D01",
                        params=ScryptParams(n=2**8, r=8, p=1))
            set_contact(conn, f"d{i}", f"d{i}@d01.example.cn", f"1380000{i:04d}")
        conn.close()
        (data / "notify.yaml").write_text(
            f"smtp: {{host: 127.0.0.1, port: {smtp_port}, starttls: false, sender: xn@hub.example.cn}}\n"
            f"sms: {{url: '{url}', body: {{mobile: '{{phone}}', content: '{{text}}'}}}}\n", encoding="utf-8")
        notifier = NotifyService(data, render=lambda m, c: None, options=NotifyOptions(batch=500))
        conn = sup_connect(db)
        conn.execute("BEGIN")
        now = "2026-11-26T10:00:00+08:00"
        conn.executemany(
            "INSERT INTO cards(card_id, key, rule, level, state, subject, case_id, dept_code, title, raised_at, "
            "deadline, evidence, json, updated_at) VALUES (?, ?, 'R2', 'yellow', 'raised', ?, ?, 'D01', "
            "'办件超过承诺时限仍未办结', ?, '2026-12-01', '[]', '{}', ?)",
            [(f"K{i}", f"R2|case:C{i}", f"case:C{i}", f"C{i}", now, now) for i in range(args.cards)])
        conn.execute("COMMIT")
        conn.close()
        started = time.perf_counter()
        while notifier.feed.step(notifier.clock()):
            pass
        fed = time.perf_counter() - started
        cfg = notifier.config
        assert cfg.smtp is not None and cfg.sms is not None
        timed = {name: Timed(channel) for name, channel in (
            ("inbox", InboxChannel(notifier.conn, notifier.clock)), ("email", EmailChannel(cfg.smtp)),
            ("sms", SmsChannel(cfg.sms)))}
        notifier.transports = dict(timed)
        t0 = time.perf_counter()
        sent = 0
        while True:
            n = notifier.send_due()
            if not n:
                break
            sent += n
        sending = time.perf_counter() - t0
        total = time.perf_counter() - started
        notifier.stop()
        assert timed["email"].count == len(sink.accepted) and timed["sms"].count == len(gw.delivered())
        result = {
            "cards": args.cards, "contacts": args.contacts, "rows": sent,
            "feed_cards_per_s": round(args.cards / fed),
            "rows_sent_per_s": round(sent / sending),
            **{f"{name}_send_ms": round(1000 * t.seconds / max(1, t.count), 2) for name, t in timed.items()},
            "backlog_s": round(total, 2),
        }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


class Timed:
    """A channel with the time its sends took (the marking and auditing are outside it)."""

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.count = 0

    def send(self, row: OutboxRow) -> None:
        t0 = time.perf_counter()
        self.inner.send(row)
        self.seconds += time.perf_counter() - t0
        self.count += 1


if __name__ == "__main__":
    main()
