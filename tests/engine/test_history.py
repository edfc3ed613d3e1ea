"""DOMAIN.md §4 on history and late facts: what the hub raises when it learns of the past.

The hub's clock (``hub_now``: when the hub raises a card, tells the department, starts the 督办
deadline) and the time facts are judged at (``as_of``: the record's own time while a backlog is
held) are different times. These scenarios import a department's history at 2026-11-26 10:00.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta
from typing import Any

from hub.engine.cards import Card, CardState
from hub.engine.config import Level
from hub.engine.localtime import LOCAL_TZ
from hub.engine.supervision import Supervision
from tests.engine.helpers import at, d, ts

HUB_NOW = at("2026-11-26T10:00")  # a Thursday


class Import:
    """Feeds a department's history as the hub does while it holds the department: each record
    judged as of its own time, every card raised at the hub's clock."""

    def __init__(self) -> None:
        self.sup = Supervision()
        self.count = 0

    def send(self, type_: str, moment: datetime, hub_now: datetime = HUB_NOW, **body: Any) -> list[Card]:
        self.count += 1
        evidence = hashlib.sha256(f"history-{self.count}".encode()).hexdigest()
        return self.sup.ingest_record(type_, body, evidence, hub_now, moment, as_of=moment)

    def accept(self, case_id: str, when: str, limit: int = 5, statutory: int = 20) -> list[Card]:
        body = {
            "case_id": case_id, "item_code": "I1", "item_name": "食品经营许可", "dept_code": "D1",
            "dept_name": "市场监管局", "accepted_at": ts(when), "case_kind": 2,
            "promised_limit": {"value": limit, "unit": "G"},
            "statutory_limit": {"value": statutory, "unit": "G"}, "window_id": "W1", "staff_id": "S1",
        }  # fmt: skip
        return self.send("case.accepted", at(when), **body)

    def event(self, type_: str, case_id: str, when: str, **body: Any) -> list[Card]:
        return self.send(f"case.{type_}", at(when), case_id=case_id, at=ts(when), **body)

    def held_tick(self, as_of: str) -> list[Card]:
        return self.sup.tick(at(as_of), hub_now=HUB_NOW)


def test_a_late_case_from_history_is_closed_as_recorded_and_never_escalates() -> None:
    imp = Import()
    imp.accept("C1", "2026-09-01T10:00")  # due 09-08
    cards = imp.event("completed", "C1", "2026-09-15T10:00", result_code=6)
    (r2,) = cards
    assert (r2.rule, r2.state, r2.historical, r2.recorded) == ("R2", CardState.CLOSED, True, True)
    assert r2.raised_at == HUB_NOW and r2.decision.moment == at("2026-09-09")  # counts in September
    assert r2.counts and r2.deadline is None and "2026-09-15 10:00 办结" in r2.history[-1].note
    assert imp.sup.tick(at("2027-03-01")) == []  # no 督办, no escalation, ever
    assert imp.sup.take_changed() == []


def test_an_open_overdue_case_from_history_gets_a_live_card_and_its_deadline_from_today() -> None:
    imp = Import()
    imp.accept("C2", "2026-10-20T10:00", statutory=40)  # due 10-27, still open when the hub learns of it
    assert imp.held_tick("2026-10-27T12:00") == []  # the hold ticks through history: no reminder
    (r2,) = imp.held_tick("2026-10-28T12:00")
    assert (r2.rule, r2.level, r2.state, r2.historical) == ("R2", Level.YELLOW, CardState.RAISED, False)
    assert r2.raised_at == HUB_NOW
    # 督办 counts from the day the hub told the department (11-26), not from 10-28: 11-27, 11-30, 12-01
    assert r2.deadline == d("2026-12-01")
    assert imp.sup.tick(at("2026-12-01T23:59")) == []  # not escalated on arrival
    (red,) = imp.sup.tick(at("2026-12-02T00:00"))
    assert red.rule == "R3" and red.decision.escalates == r2.card_id


def test_a_reminder_is_never_raised_for_a_moment_the_hub_learned_of_too_late() -> None:
    imp = Import()
    imp.accept("C3", "2026-11-16T10:00")  # due 11-23: reminder moment 11-23 00:00
    assert imp.held_tick("2026-11-23T08:00") == []  # judged in the past: no reminder
    imp.accept("C4", "2026-11-17T10:00")  # due 11-24
    cards = imp.event("step", "C4", "2026-11-24T09:00", step_name="审核", action="通过",
                      started_at=ts("2026-11-24T09:00"))  # fmt: skip
    assert [c.rule for c in cards] == []  # caught up to the step's time: still no reminder
    # live again: a case due tomorrow gets its reminder at the moment it comes
    imp.accept("C5", "2026-11-20T10:00", limit=4)  # due 11-26 → reminder 11-26 00:00
    cards = imp.sup.tick(at("2026-11-26T00:00:30"))
    assert sorted((c.rule, c.decision.case_id) for c in cards) == [("R1", "C5"), ("R2", "C3"), ("R2", "C4")]


def test_history_in_event_time_order_raises_nothing_that_is_withdrawn() -> None:
    """Facts delivered in the order they happened (the agent's backfill), judged as of their own
    time, with the hold ticking along: no card is ever contradicted by a later record."""
    rng = random.Random(7)
    imp = Import()
    start = at("2026-08-03T09:00")
    events: list[tuple[datetime, str, str, dict[str, Any]]] = []
    for i in range(300):
        case_id = f"H{i}"
        accepted = start + timedelta(days=rng.randint(0, 100), hours=rng.randint(0, 7))
        limit = rng.choice([3, 5, 10, 20])
        events.append((accepted, "accept", case_id, {"limit": limit}))
        t = accepted + timedelta(hours=2)
        if rng.random() < 0.3:
            stop = t + timedelta(days=rng.randint(1, 10))
            events.append((t, "suspended", case_id, {"kind": 2, "reason": "专家评审"}))
            events.append((stop, "resumed", case_id, {}))
            t = stop + timedelta(hours=1)
        if rng.random() < 0.2:
            back = t + timedelta(days=rng.randint(1, 6))
            events.append((t, "supplement_requested", case_id, {"reason": "材料不全"}))
            events.append((back, "supplement_received", case_id, {}))
            t = back + timedelta(hours=1)
        done = t + timedelta(days=rng.randint(0, limit + 8), hours=rng.randint(0, 5))
        if done < HUB_NOW - timedelta(days=1):
            events.append((done, "completed", case_id, {"result_code": 6}))
    events.sort(key=lambda e: e[0])
    raised: list[Card] = []
    last_tick = start
    for moment, kind, case_id, extra in events:
        while last_tick + timedelta(hours=6) < moment:  # the held clock advances with the facts
            last_tick += timedelta(hours=6)
            raised += imp.sup.tick(last_tick, hub_now=HUB_NOW)
        when = moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")
        if kind == "accept":
            raised += imp.accept(case_id, when, limit=extra["limit"])
        else:
            raised += imp.event(kind, case_id, when, **extra)
        assert not [c for c in imp.sup.take_changed() if c.state is CardState.WITHDRAWN]
    raised += imp.sup.tick(HUB_NOW, hub_now=HUB_NOW)
    assert not [c for c in imp.sup.take_changed() if c.state is CardState.WITHDRAWN]
    overdue = [c for c in raised if c.rule == "R2"]
    assert overdue, "the scenario must contain late cases"
    assert not [c for c in raised if c.rule == "R1" and c.raised_at - c.decision.moment > timedelta(hours=1)]
    assert all(c.raised_at == HUB_NOW for c in raised)
