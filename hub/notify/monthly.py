"""The monthly report sent to the leaders on the first working day of the month.

:func:`report_due` (pure) says which month's report is due at a moment, on the official working-day
calendar (:class:`hub.engine.calendar.WorkCalendar`, with the hub's ``DATA/calendar`` files): the
previous month's, from ``send_at`` on the first working day of the month until the month ends — a
hub that was down that morning sends it when it comes back. :class:`MonthlyReport` builds the
report with the existing report code (PDF + Excel), keeps the files under ``DATA/notify/reports``
and enqueues it, together with the ``notify_reports`` row of the month, in one transaction: once
per month, across restarts.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path

from hub.engine.calendar import WorkCalendar
from hub.engine.localtime import LOCAL_TZ
from hub.notify.config import NotifyConfig
from hub.notify.messages import report_message
from hub.notify.outbox import enqueue_in, stamp
from hub.notify.recipients import named_people, report_deliveries
from shared.errors import XiaonengError

log = logging.getLogger("xiaoneng.hub.notify")

REPORT_DIR = Path("notify") / "reports"
FORMATS = ("pdf", "xlsx")
QUIET_S = 3600.0  # a month without data or recipients is looked at again an hour later


def first_workday(calendar: WorkCalendar, year: int, month: int) -> date:
    """The first working day of the month on ``calendar`` (调休 weekend days count)."""
    day = date(year, month, 1)
    while not calendar.is_workday(day):
        day = date.fromordinal(day.toordinal() + 1)
        if day.month != month:
            raise ValueError(f"{year}-{month:02d} has no working day on this calendar")
    return day


def previous_month(day: date) -> str:
    """``YYYY-MM`` of the month before ``day``'s."""
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return f"{year}-{month:02d}"


def report_due(calendar: WorkCalendar, now: datetime, send_at: time) -> str | None:
    """The month whose report is due at ``now`` (aware), or None before it is due."""
    local = now.astimezone(LOCAL_TZ)
    first = first_workday(calendar, local.year, local.month)
    if local.date() < first or (local.date() == first and local.time() < send_at):
        return None
    return previous_month(local.date())


Renderer = Callable[[str, str | None], tuple[dict[str, object], dict[str, bytes]] | None]


def sent_months(conn: sqlite3.Connection) -> set[str]:
    """The months whose report has been enqueued."""
    return {r[0] for r in conn.execute("SELECT month FROM notify_reports")}


class MonthlyReport:
    """Checks whether the report is due and enqueues it once (see the module docstring).

    ``render(month, city)`` returns ``(totals, {fmt: bytes})`` or None when the month has no data;
    the hub's renderer reads the store with the report code (:func:`build_files`)."""

    def __init__(self, conn: sqlite3.Connection, data_dir: Path, calendar: Callable[[], WorkCalendar],
                 render: Renderer) -> None:
        self.conn = conn
        self.data_dir = data_dir
        self.calendar = calendar
        self.render = render
        self._quiet: tuple[str, float] | None = None  # a month found empty or without recipients, and when

    def check(self, config: NotifyConfig, now: datetime) -> str | None:
        """Enqueue the due report if it is not yet sent; returns the month enqueued."""
        monthly = config.monthly_report
        if not monthly.leaders and not monthly.emails:
            return None
        month = report_due(self.calendar(), now, monthly.send_time)
        if month is None or month in sent_months(self.conn):
            return None
        if self._quiet is not None and self._quiet[0] == month and now.timestamp() - self._quiet[1] < QUIET_S:
            return None
        built = self.render(month, monthly.city)
        if built is None:
            log.warning("no supervision data for the monthly report; nothing sent", extra={"month": month})
            self._quiet = (month, now.timestamp())
            return None
        totals, files = built
        folder = self.data_dir / REPORT_DIR
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for fmt, data in sorted(files.items()):
            path = folder / f"xiaoneng-report-{month}.{fmt}"
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
            paths.append(str(path))
        message = report_message(month, totals, paths, monthly.city)
        deliveries = report_deliveries(named_people(self.conn, monthly.leaders), monthly.emails, config.channels)
        if not deliveries:
            log.warning("the monthly report has no recipient: monthly_report.leaders names no enabled user and "
                        "no e-mail can be sent; run `xiaoneng-hub notify check`", extra={"month": month})
            self._quiet = (month, now.timestamp())
            return None
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM notify_reports WHERE month = ?", (month,)).fetchone() is not None:
                conn.execute("ROLLBACK")
                return None
            message_id = enqueue_in(conn, message, deliveries, now)
            conn.execute("INSERT INTO notify_reports(month, message_id, enqueued_at) VALUES (?,?,?)",
                         (month, message_id, stamp(now)))  # fmt: skip
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("monthly report enqueued", extra={"month": month, "deliveries": len(deliveries), "files": paths})
        return month


def build_files(database: Path, data_dir: Path) -> Renderer:
    """The hub's renderer: the report of a month from ``database`` as PDF and Excel bytes."""

    def render(month: str, city: str | None) -> tuple[dict[str, object], dict[str, bytes]] | None:
        from hub.reports import render as render_format
        from hub.reports.data import build_report
        from hub.supervision.service import engine_config

        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        conn.execute("PRAGMA busy_timeout=10000")
        try:
            report = build_report(conn, month, engine_config(data_dir), None, city=city)
        finally:
            conn.close()
        if report is None:
            return None
        files: dict[str, bytes] = {}
        for fmt in FORMATS:
            try:
                files[fmt] = render_format(fmt, report)
            except (XiaonengError, ImportError) as exc:  # no Chinese font, or the reports extra missing
                log.error("could not render the monthly report", extra={"month": month, "format": fmt,
                                                                        "error": str(exc)})  # fmt: skip
        if not files:
            raise XiaonengError(f"the report of {month} could not be rendered in any of {', '.join(FORMATS)}")
        return dict(report.get("totals") or {}), files

    return render
