"""Records stored the way the hub stores them, and a supervision service driven by hand.

:class:`Feed` builds signed, chained records (``ChainBuilder`` + ``sign_batch``), lets the hub's
ingest decision accept them (``hub.ingest.decide``) and stores them with ``hub.store.Store`` —
the real path, minus the broker. :class:`Clock` is moved by the test; the service is stepped by
hand (``service.step()``), so nothing sleeps.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.engine.localtime import LOCAL_TZ
from hub.ingest import decide
from hub.store import Store
from hub.supervision.service import ServiceOptions, SupervisorService
from shared.batch import sign_batch
from shared.record import ChainBuilder, Chained

AGENT_KEY = Ed25519PrivateKey.generate()
FAST = ServiceOptions(startup_hold_s=0, calendar_poll_s=0, counters_interval_s=0, housekeeping_s=3600)


def at(text: str) -> datetime:
    """A local moment from ``YYYY-MM-DD[THH:MM]``."""
    if len(text) == 10:
        text += "T00:00"
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def ts(text: str) -> str:
    return at(text).isoformat()


class Clock:
    """A hand-moved clock."""

    def __init__(self, start: str) -> None:
        self.now = at(start)

    def __call__(self) -> datetime:
        return self.now

    def set(self, text: str) -> None:
        self.now = at(text)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Feed:
    """Stores records through the real ingest decision and store."""

    store: Store
    agent: str = "a1"
    stream: str = "cases"
    builder: ChainBuilder = field(init=False)
    pending: list[Chained] = field(default_factory=list)
    nonce: int = 0

    def __post_init__(self) -> None:
        self.builder = ChainBuilder(self.agent, self.stream)

    def add(self, type_: str, when: str, body: dict[str, Any], recorded: str | None = None) -> Chained:
        record = self.builder.append(type_, ts(recorded or when), body)
        self.pending.append(record)
        return record

    def flush(self) -> int:
        """Sign and store the pending records; returns how many."""
        if not self.pending:
            return 0
        self.nonce += 1
        sent = datetime.now(LOCAL_TZ).isoformat()
        payload = bytes(sign_batch(AGENT_KEY, self.agent, self.stream, self.pending, self.nonce, sent))
        with self.store.transaction() as st:
            d = decide(payload, self.agent, lambda a: AGENT_KEY.public_key(), st.head, st.stored_hashes,
                       datetime.now(LOCAL_TZ))
            assert d.kind == "store", d
            assert d.header is not None
            st.add_batch(d.header, d.records, sent)
        count = len(self.pending)
        self.pending = []
        return count

    # -- case events ---------------------------------------------------------------------------

    def accept(self, case_id: str, when: str, limit: int = 5, statutory: int | None = 20, dept: str = "D01",
               dept_name: str = "市场监管局", item: str = "I01", item_name: str = "食品经营许可",
               window: str = "W01", staff: str = "S01", kind: int = 2, unit: str = "G",
               recorded: str | None = None, **extra: Any) -> Chained:  # fmt: skip
        body: dict[str, Any] = {
            "case_id": case_id, "item_code": item, "item_name": item_name, "dept_code": dept,
            "dept_name": dept_name, "accepted_at": ts(when), "case_kind": kind,
            "promised_limit": {"value": limit, "unit": unit}, "window_id": window, "staff_id": staff,
            "staff_name": f"职员{staff}", "applicant_name": "张三", "fee_standard_fen": 1000,
        }  # fmt: skip
        if statutory is not None:
            body["statutory_limit"] = {"value": statutory, "unit": unit}
        body.update(extra)
        return self.add("case.accepted", when, body, recorded)

    def event(self, type_: str, case_id: str, when: str, recorded: str | None = None, **body: Any) -> Chained:
        name = "started_at" if type_ == "step" else "at"
        return self.add(f"case.{type_}", when, {"case_id": case_id, name: ts(when), **body}, recorded)

    def complete(self, case_id: str, when: str, result_code: int = 6, **body: Any) -> Chained:
        return self.event("completed", case_id, when, result_code=result_code, **body)


def service(path: Path, clock: Clock, **kw: Any) -> SupervisorService:
    """A service on ``path`` with the test clock, opened (restored) and ready to step."""
    svc = SupervisorService(path, clock=clock, options=kw.pop("options", FAST), **kw)
    svc.open()
    return svc


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the database file ``db`` (its own short connection)."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
