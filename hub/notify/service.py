"""The notifier: a thread in the hub process that fills and empties the outbox.

Each turn it (1) reloads ``DATA/notify.yaml`` when the file changed (a bad file keeps the previous
configuration and logs why), (2) moves new cards and 督办 notices into the outbox (:mod:`feed`),
(3) at most once a minute checks whether the monthly report is due (:mod:`monthly`), (4) sends the
rows that are due, each attempt recorded and audited (:mod:`outbox`). It sleeps until the next row
is due, a poll interval passes, or :meth:`wake` is called (the supervision's ``card.raised``).

On start, pending rows — those a killed hub left — are due at once: nothing is lost.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from hub.engine.calendar import WorkCalendar
from hub.engine.clock_cli import build_calendar
from hub.notify import outbox
from hub.notify.channels import Channel, DeliveryError, EmailChannel, InboxChannel, SmsChannel
from hub.notify.config import CONFIG_FILE, load_config
from hub.notify.feed import Feed
from hub.notify.monthly import MonthlyReport, Renderer, build_files
from hub.notify.schema import connect, ensure_schema
from shared.errors import ConfigError

log = logging.getLogger("xiaoneng.hub.notify")
T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NotifyOptions:
    poll_s: float = 2.0
    report_check_s: float = 60.0
    batch: int = 50


class NotifyService:
    """See the module docstring. ``clock`` is the hub's clock (aware datetimes); ``transports``
    replaces channels by name (tests script their failures; the hub builds them from the config)."""

    def __init__(self, data_dir: Path, database: Path | None = None, *, clock: Callable[[], datetime] = _now,
                 options: NotifyOptions | None = None, render: Renderer | None = None,
                 calendar: Callable[[], WorkCalendar] | None = None,
                 transports: Mapping[str, Channel] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.database = database or self.data_dir / "hub.sqlite"
        self.clock = clock
        self.options = options or NotifyOptions()
        self.conn = connect(self.database)
        ensure_schema(self.conn)
        self.config = load_config(self.data_dir)  # a bad file stops the start: the error names the key
        self._config_mark = self._mark()
        self.feed = Feed(self.conn, lambda: self.config.channels)
        self.feed.prime()
        self.monthly = MonthlyReport(self.conn, self.data_dir, calendar or self._calendar,
                                     render or build_files(self.database, self.data_dir))  # fmt: skip
        self.transports = dict(transports or {})
        self.counters: dict[str, int] = {"sent": 0, "failed": 0, "gave_up": 0, "errors": 0}
        self._next_report_check = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_stop: Callable[[], None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="xn-notify", daemon=True)
        self._thread.start()
        log.info("notifier started", extra={"channels": sorted(self.config.channels)})

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self.on_stop is not None:
            self.on_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.conn.close()

    def wake(self, kind: str = "", data: Mapping[str, Any] | None = None) -> None:
        """A supervision listener: a new card means work (the arguments are not needed)."""
        del data
        if kind in ("", "card.raised", "card.updated"):
            self._wake.set()

    # -- the loop --------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.turn()
            except Exception:  # the loop lives on: the next turn retries (rows are durable)
                self.counters["errors"] += 1
                log.exception("notifier turn failed")
            self._wake.wait(self._sleep())
            self._wake.clear()

    def _sleep(self) -> float:
        wait = self.options.poll_s
        try:
            nxt = outbox.next_due(self.conn)
        except Exception:
            return wait
        if nxt is not None:
            wait = min(wait, max(0.0, (nxt - self.clock()).total_seconds()))
        return wait

    def turn(self) -> int:
        """One pass (the tests call it directly): config, feed, report, sends. Returns rows sent.
        A failing stage (a report that cannot be built) is logged and does not stop the others."""
        self._reload_config()
        now = self.clock()
        self._stage("feed", lambda: self.feed.step(now))
        wall = now.timestamp()
        if wall >= self._next_report_check:
            self._next_report_check = wall + self.options.report_check_s
            self._stage("monthly report", lambda: self.monthly.check(self.config, now))
        return self.send_due()

    def _stage(self, name: str, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception as exc:
            self.counters["errors"] += 1
            log.exception("notifier stage failed; the next turn tries again", extra={"stage": name,
                                                                                       "error": str(exc)})

    def send_due(self) -> int:
        """Attempt every row that is due now; returns how many were sent."""
        sent = 0
        channels = self._channels()
        down: set[str] = set()  # a channel whose server failed this pass: its other rows wait for the next
        for row in outbox.due(self.conn, self.clock(), self.options.batch):
            if self._stop.is_set():
                break
            if row.channel in down:
                continue
            channel = channels.get(row.channel)
            try:
                if channel is None:
                    raise DeliveryError(f"the {row.channel} channel is not configured in {CONFIG_FILE}")
                channel.send(row)
            except DeliveryError as exc:
                if not exc.permanent:
                    down.add(row.channel)  # a dead mail server must not hold up the inbox and SMS
                state = self._marked(partial(outbox.mark_failed, self.conn, row, exc.outcome(), self.clock(),
                                             self.config.retry))  # fmt: skip
                self.counters["gave_up" if state == "gave_up" else "failed"] += 1
                log.warning("notification not delivered", extra={"row": row.id, "channel": row.channel,
                                                                 "error": str(exc), "state": state})  # fmt: skip
                continue
            self._marked(partial(outbox.mark_sent, self.conn, row, self.clock()))
            self.counters["sent"] += 1
            sent += 1
        return sent

    def _marked(self, mark: Callable[[], T]) -> T:
        """Write an attempt's outcome, waiting out a busy database: a row that was sent must not stay
        pending because the ingest held the write lock longer than the busy timeout."""
        delay = 0.5
        while True:
            try:
                return mark()
            except sqlite3.OperationalError as exc:
                if self._stop.is_set():
                    raise
                log.warning("could not record a delivery; retrying", extra={"error": str(exc)})
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)

    def _channels(self) -> dict[str, Channel]:
        cfg = self.config
        out: dict[str, Channel] = {"inbox": InboxChannel(self.conn, self.clock)}
        if cfg.smtp is not None:
            out["email"] = EmailChannel(cfg.smtp, cfg.base_url)
        if cfg.sms is not None:
            out["sms"] = SmsChannel(cfg.sms, cfg.base_url)
        return {**out, **self.transports}

    def _calendar(self) -> WorkCalendar:
        return build_calendar(directory=self.data_dir / "calendar")

    def _mark(self) -> object:
        path = self.data_dir / CONFIG_FILE
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _reload_config(self) -> None:
        mark = self._mark()
        if mark == self._config_mark:
            return
        self._config_mark = mark
        try:
            self.config = load_config(self.data_dir)
        except ConfigError as exc:
            log.error("notify.yaml is invalid; keeping the previous settings", extra={"error": str(exc)})
            return
        log.info("notify.yaml reloaded", extra={"channels": sorted(self.config.channels)})

    def metrics(self) -> dict[str, int]:
        """Counters and outbox rows by state."""
        return {**self.counters, **{f"outbox_{k}": v for k, v in outbox.counts(self.conn).items()}}


def start_notifier(data_dir: Path, supervision: Any | None = None, **kwargs: Any) -> NotifyService:
    """Start the notifier of a hub; ``supervision`` (a SupervisorService) wakes it on new cards."""
    from hub.notify import metrics

    service = NotifyService(data_dir, **kwargs)
    if supervision is not None:
        supervision.listeners.append(service.wake)
    metrics.watch(service.database)
    service.on_stop = lambda: metrics.unwatch(service.database)
    service.start()
    return service

