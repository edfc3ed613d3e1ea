"""Prometheus families of the supervision service, computed at scrape time (``/metrics``)."""

from __future__ import annotations

from hub.supervision.service import SupervisorService
from hub.web.metrics import Family


def supervision_collector(service: SupervisorService) -> list[Family]:
    """Records consumed, backlog, scheduler lag, cards raised by level, open cases by status."""
    state = service.metrics()
    cards = Family("xiaoneng_supervision_cards_raised_total", "Cards raised since the hub was installed, by level",
                   "counter")
    for level, n in sorted(state["cards_by_level"].items()):
        cards.add(n, level=level)
    cases = Family("xiaoneng_supervision_open_cases", "Open cases by status", "gauge")
    for status, n in sorted(state["open_by_status"].items()):
        cases.add(n, status=status)
    return [
        Family("xiaoneng_supervision_records_total", "Records the supervision consumed since start", "counter").add(
            state["records"]),
        Family("xiaoneng_supervision_data_errors_total", "Records the supervision could not interpret since start",
               "counter").add(state["errors"]),
        Family("xiaoneng_supervision_backlog_records", "Stored records not yet consumed by the supervision",
               "gauge").add(state["backlog"]),
        Family("xiaoneng_scheduler_lag_seconds", "How far the oldest due time rule is behind now", "gauge").add(
            state["lag_s"]),
        cards,
        cases,
    ]
