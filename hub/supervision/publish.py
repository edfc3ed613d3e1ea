"""What the supervision announces: bus events for the UI and card messages on MQTT.

Bus (``hub.web.events``; department users receive ``card.*`` / ``case.*`` of their department):

- ``card.raised``  ``{card_id, level, dept_code, case_id, title, rule, raised_at, deadline}``
- ``card.updated`` ``{card_id, state, level, dept_code, case_id, action}`` (the web publishes it
  itself after a person's action; the service publishes it when the calendar moves a deadline)
- ``case.updated`` ``{case_id, status, dept_code}`` when a case's status word changes
- ``overview.counters`` the overview figures (city-wide), at most every few seconds

MQTT ``xn/v1/hub/alerts`` (QoS 1): ``{"event": "card.raised" | "card.updated", "card": {...}}``
with the card's full JSON (``Card.to_json``), for other systems.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hub.engine.cards import Card
from hub.supervision.rows import CaseRow
from shared.topics import ALERTS

log = logging.getLogger("xiaoneng.hub.supervision")

BusPublish = Callable[[str, Mapping[str, Any]], Any]
MqttPublish = Callable[[str, bytes, int], None]
#: At most this many ``case.updated`` events per write (a backlog would flood the browsers).
MAX_CASE_EVENTS = 200


def card_event(card: Card) -> dict[str, Any]:
    """The ``card.raised`` payload."""
    d = card.decision
    return {
        "card_id": card.card_id, "level": d.level.value, "dept_code": d.dept_code, "case_id": d.case_id,
        "title": d.message, "rule": d.rule, "raised_at": card.raised_at.isoformat(),
        "deadline": card.deadline.isoformat() if card.deadline else None, "state": card.state.value,
    }  # fmt: skip


class Publisher:
    """Fans events out to the bus listeners and card messages to MQTT; never raises."""

    def __init__(self, mqtt: MqttPublish | None = None) -> None:
        self.listeners: list[BusPublish] = []
        self.mqtt = mqtt

    def bus(self, kind: str, data: Mapping[str, Any]) -> None:
        """Publish one event on every listener."""
        for listener in list(self.listeners):
            try:
                listener(kind, data)
            except Exception:
                log.exception("supervision event listener failed", extra={"kind": kind})

    def alert(self, event: str, card: Card) -> None:
        """Publish a card on ``xn/v1/hub/alerts``."""
        if self.mqtt is None:
            return
        payload = json.dumps({"event": event, "card": card.to_json()}, ensure_ascii=False).encode()
        try:
            self.mqtt(ALERTS, payload, 1)
        except Exception:
            log.exception("could not publish a card on MQTT", extra={"card": card.card_id})

    def raised(self, cards: Iterable[Card]) -> None:
        """Announce newly stored cards."""
        for card in cards:
            self.bus("card.raised", card_event(card))
            self.alert("card.raised", card)

    def updated(self, card: Card, action: str, bus: bool = True) -> None:
        """Announce a changed card (``bus=False`` when the web announces it itself)."""
        if bus:
            d = card.decision
            self.bus("card.updated", {"card_id": card.card_id, "state": card.state.value, "level": d.level.value,
                                      "dept_code": d.dept_code, "case_id": d.case_id, "action": action})
        self.alert("card.updated", card)

    def cases(self, rows: Iterable[CaseRow]) -> None:
        """Announce case status changes (bounded per call)."""
        for i, row in enumerate(rows):
            if i >= MAX_CASE_EVENTS:
                break
            self.bus("case.updated", {"case_id": row.case_id, "status": row.status, "dept_code": row.dept_code})
