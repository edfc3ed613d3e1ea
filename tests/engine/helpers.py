"""Shared helpers of the engine tests (plain functions, no fixtures with state)."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

from hub.engine.arrangement import YearArrangement, parse_arrangement
from hub.engine.calendar import WorkCalendar
from hub.engine.cards import Card
from hub.engine.config import EngineConfig
from hub.engine.localtime import LOCAL_TZ
from hub.engine.supervision import Supervision

# A made-up 2027 arrangement for tests only (the real one is not published on this machine):
# 元旦 Fri 01-01 .. Sun 01-03 off, and an invented extra holiday Mon 01-04, with Sat 01-09 worked.
FAKE_2027 = {
    "year": 2027,
    "days": [
        {"name": "元旦", "date": "2027-01-01", "isOffDay": True},
        {"name": "元旦", "date": "2027-01-02", "isOffDay": True},
        {"name": "元旦", "date": "2027-01-03", "isOffDay": True},
        {"name": "元旦", "date": "2027-01-04", "isOffDay": True},
        {"name": "元旦", "date": "2027-01-09", "isOffDay": False},
    ],
}


def fake_2027() -> YearArrangement:
    return parse_arrangement(json.dumps(FAKE_2027), "fake-2027.json")


def d(text: str) -> date:
    return date.fromisoformat(text)


def at(text: str) -> datetime:
    """A local (Asia/Shanghai) moment from ``YYYY-MM-DD[THH:MM]``."""
    if len(text) == 10:
        text += "T00:00"
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


class Driver:
    """Feeds record bodies to a :class:`Supervision` the way the hub's ingest adapter would."""

    def __init__(self, config: EngineConfig | None = None, calendar: WorkCalendar | None = None):
        self.sup = Supervision(config, calendar)
        self.count = 0
        self.log: list[tuple[str, dict[str, Any], str, datetime, datetime | None]] = []

    def send(
        self, type_: str, now: str | None = None, reported_at: str | None = None, **body: Any
    ) -> list[Card]:
        self.count += 1
        evidence = hashlib.sha256(f"record-{self.count}".encode()).hexdigest()
        when = body.get("at") or body.get("accepted_at") or body.get("started_at")
        moment = at(now) if now else datetime.fromisoformat(when)
        reported = at(reported_at) if reported_at else None
        self.log.append((type_, body, evidence, moment, reported))
        return self.sup.ingest_record(type_, body, evidence, moment, reported)

    def accept(
        self, case_id: str = "C1", when: str = "2026-09-24T10:00", limit: int = 5,
        unit: str = "G", statutory: int | None = 20, kind: int = 2, **extra: Any,
    ) -> list[Card]:  # fmt: skip
        body: dict[str, Any] = {
            "case_id": case_id, "item_code": "I1", "item_name": "酒类批发许可证",
            "dept_code": "D1", "dept_name": "商务局", "accepted_at": ts(when), "case_kind": kind,
            "promised_limit": {"value": limit, "unit": unit}, "window_id": "W1",
            "staff_id": "S1", "fee_standard_fen": 1000,
        }  # fmt: skip
        if statutory is not None:
            body["statutory_limit"] = {"value": statutory, "unit": unit}
        body.update(extra)
        return self.send("case.accepted", **body)

    def case(self, type_: str, case_id: str = "C1", when: str = "", **body: Any) -> list[Card]:
        field = "started_at" if type_ == "case.step" else "at"
        return self.send(f"case.{type_}", case_id=case_id, **{field: ts(when)}, **body)

    def tick(self, when: str) -> list[Card]:
        return self.sup.tick(at(when))


def ts(text: str) -> str:
    """ISO-8601 with the +08:00 offset from ``YYYY-MM-DD[THH:MM]``."""
    return at(text).isoformat()


def rules_of(cards: list[Card]) -> list[str]:
    return [c.rule for c in cards]
