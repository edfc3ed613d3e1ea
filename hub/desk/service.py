"""The desk: complaints and disclosure requests entered at the hub, as signed records of its own stream.

:meth:`Desk.open` makes (once) the desk's key and registers it as agent ``hub-desk``
(:mod:`hub.desk.identity`), and continues the desk's stream from the store's head
(:mod:`hub.desk.stream`). Each registration or step is checked against the records already there
(:mod:`hub.desk.steps`, :mod:`hub.desk.queries`) and appended **under the stream's lock**, so
two people registering the same step at once get one record and one refusal, never a fork. The
records then take the path of every record: the ingest decision, the store and ledger, the
supervision (clocks and cards), ``verify`` and evidence.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hub.desk import queries
from hub.desk.identity import ensure_registered, load_desk_key
from hub.desk.steps import (
    ComplaintFacts,
    DisclosureFacts,
    Refused,
    check_id,
    check_moment,
    check_text,
    complaint_step,
    disclosure_step,
)
from hub.desk.stream import BatchSink, DeskStream, Entry, Stored, new_stream_id, stored_stream
from hub.ingest import StreamHead
from provisioning.registry import Registry

DB_FILE = "hub.sqlite"


@dataclass(frozen=True, slots=True)
class NewComplaint:
    """A complaint to register. ``complaint_id`` None: the desk numbers it (``TS-YYYYMMDD-NNN``)."""

    target_dept: str
    text: str
    channel: str
    filed_at: datetime
    complaint_id: str | None = None
    target_staff: str | None = None
    case_id: str | None = None
    complainant: str | None = None


@dataclass(frozen=True, slots=True)
class NewRequest:
    """A disclosure request to register. ``request_id`` None: numbered ``GK-YYYYMMDD-NNN``."""

    dept_code: str
    text: str
    channel: str
    received_at: datetime
    request_id: str | None = None
    applicant: str | None = None


@dataclass(frozen=True, slots=True)
class Entered:
    """What the desk stored: the subject's number and the record."""

    ident: str
    record: Stored


class Desk:
    """Registrations and steps of complaints and disclosure requests (see the module docstring)."""

    def __init__(self, stream: DeskStream, clock: Callable[[], datetime]) -> None:
        self.stream = stream
        self.clock = clock

    @classmethod
    def open(cls, data_dir: Path, sink: BatchSink, head_of: Callable[[str, str], StreamHead | None],
             clock: Callable[[], datetime]) -> Desk:  # fmt: skip
        """The desk of the hub at ``data_dir``: key made and registered if new, stream continued."""
        key = load_desk_key(data_dir)
        ensure_registered(Registry(data_dir / DB_FILE), key)
        with closing(sqlite3.connect(data_dir / DB_FILE)) as conn:
            stream_id = stored_stream(conn) or new_stream_id(clock())
        return cls(DeskStream(key, sink, stream_id, head_of, clock), clock)

    # -- complaints ------------------------------------------------------------------------------

    def register_complaint(self, conn: sqlite3.Connection, new: NewComplaint, user: str) -> Entered:
        """Check and store ``complaint.filed`` (department known, time sensible, number free)."""
        with self.stream.lock:
            now = self.clock()
            _known_dept(conn, new.target_dept)
            check_moment(new.filed_at, now, None, None)
            text = check_text(new.text, "text", required=True)
            ident = new.complaint_id or _next_number(conn, "complaint", "TS", new.filed_at)
            check_id(ident, "complaint_id")
            if queries.complaint_row(conn, ident) is not None or queries.record_ids(conn, "complaint", ident):
                raise Refused("desk.error.exists", f"complaint {ident} is already registered", ident=ident)
            body: dict[str, Any] = {"complaint_id": ident, "at": new.filed_at.isoformat(),
                                    "target_dept": new.target_dept, "text": text, "channel": new.channel,
                                    "entered_by": user}  # fmt: skip
            for name in ("target_staff", "case_id"):
                if value := (getattr(new, name) or "").strip():
                    body[name] = check_id(value, name)
            if new.complainant and (who := check_text(new.complainant, "complainant", 100)):
                body["complainant"] = who
            (stored,) = self.stream.append([Entry("complaint.filed", body)])
            return Entered(ident, stored)

    def complaint_step(self, conn: sqlite3.Connection, complaint_id: str, step: str, at: datetime, user: str,
                       substantiated: bool | None = None, text: str = "") -> Entered:  # fmt: skip
        """Check and store ``complaint.<step>`` (accepted / answered / closed)."""
        with self.stream.lock:
            facts, _ = queries.complaint_facts(conn, complaint_id)
            if not facts.filed:
                raise Refused("desk.error.not_found", f"no complaint {complaint_id}", ident=complaint_id)
            body = complaint_step(facts, step, at, self.clock(), entered_by=user, substantiated=substantiated,
                                  text=text)  # fmt: skip
            (stored,) = self.stream.append([Entry(f"complaint.{step}", body)])
            return Entered(complaint_id, stored)

    # -- disclosure requests ---------------------------------------------------------------------

    def register_request(self, conn: sqlite3.Connection, new: NewRequest, user: str) -> Entered:
        """Check and store ``disclosure.received``."""
        with self.stream.lock:
            now = self.clock()
            _known_dept(conn, new.dept_code)
            check_moment(new.received_at, now, None, None)
            text = check_text(new.text, "text", required=True)
            ident = new.request_id or _next_number(conn, "disclosure", "GK", new.received_at)
            check_id(ident, "request_id")
            if queries.disclosure_row(conn, ident) is not None or queries.record_ids(conn, "disclosure", ident):
                raise Refused("desk.error.exists", f"request {ident} is already registered", ident=ident)
            body: dict[str, Any] = {"request_id": ident, "dept_code": new.dept_code, "at": new.received_at.isoformat(),
                                    "text": text, "channel": new.channel, "entered_by": user}  # fmt: skip
            if new.applicant and (who := check_text(new.applicant, "applicant", 100)):
                body["applicant"] = who
            (stored,) = self.stream.append([Entry("disclosure.received", body)])
            return Entered(ident, stored)

    def request_step(self, conn: sqlite3.Connection, request_id: str, step: str, at: datetime, user: str,
                     extension_days: int | None = None, answer_type: str | None = None) -> Entered:  # fmt: skip
        """Check and store ``disclosure.<step>``."""
        with self.stream.lock:
            facts, _ = queries.disclosure_facts(conn, request_id)
            if facts.received is None:
                raise Refused("desk.error.not_found", f"no disclosure request {request_id}", ident=request_id)
            body = disclosure_step(facts, step, at, self.clock(), entered_by=user, extension_days=extension_days,
                                   answer_type=answer_type)  # fmt: skip
            (stored,) = self.stream.append([Entry(f"disclosure.{step}", body)])
            return Entered(request_id, stored)


def _known_dept(conn: sqlite3.Connection, code: str) -> None:
    if code not in queries.dept_names(conn):
        raise Refused("desk.error.unknown_dept", f"department {code!r} is not known to the hub", dept=code)


def _next_number(conn: sqlite3.Connection, kind: str, prefix: str, on: datetime) -> str:
    """The first free ``PREFIX-YYYYMMDD-NNN`` of the day ``on``."""
    stem = f"{prefix}-{on:%Y%m%d}-"
    table, column = ("complaints", "complaint_id") if kind == "complaint" else ("disclosures", "request_id")
    taken: set[str] = set()
    if queries.has_table(conn, table):
        taken.update(str(r) for (r,) in conn.execute(f"SELECT {column} FROM {table} WHERE {column} LIKE ?",
                                                     (stem + "%",)))  # fmt: skip
    n = len(taken) + 1
    while True:
        ident = f"{stem}{n:03d}"
        if ident not in taken and not queries.record_ids(conn, kind, ident):
            return ident
        n += 1


__all__ = ["ComplaintFacts", "Desk", "DisclosureFacts", "Entered", "NewComplaint", "NewRequest", "Refused"]
