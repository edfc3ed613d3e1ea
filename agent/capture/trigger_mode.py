"""Trigger capture: follow ``xn_capture_change`` in order and turn each change into events.

On first start the rows that already exist (the department's history) are read as a snapshot —
triggers are installed first, so nothing changed meanwhile is missed — in windows of all sources
together, appended in event-time order (:mod:`agent.capture.backfill`). After that, one
:meth:`TriggerCapture.poll` reads a batch of changes after the committed position, fetches the
current state of the changed rows (through the source's query, if any), maps them, and appends
the events *and* the new position in one outbox transaction. A crash anywhere before that commit
repeats the batch; after it, nothing is repeated. De-duplication by content (see
:mod:`agent.capture.sink`) makes a repeated batch harmless either way. A *backlog* of changes (a
full batch pending, or changes older than ``lag_s``: an agent back from an outage) is read as one
window of up to ``window`` changes and appended in event-time order across tables.

Change ids come from a sequence; on PostgreSQL and MySQL a transaction that started earlier can
commit a *lower* id later. The position is therefore "everything up to ``upto``, plus these ids
beyond it": an id missing from the sequence is waited for ``gap_timeout`` seconds (it may still
commit) before it is taken to be a rolled-back insert.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.capture.backfill import BackfillSettings, BackfillState, emit_window
from agent.capture.database import SourceDb
from agent.capture.rows import base_sql, fetch_by_keys, key_of, norm_key
from agent.capture.sink import EventSink
from agent.capture.triggers import CHANGE_TABLE
from agent.mapping.engine import Event, map_delete, map_row
from agent.mapping.profile import Profile, Source
from shared.errors import XiaonengError


class SchemaDrift(XiaonengError):
    """The source no longer has what the profile names: capture holds its position."""


@dataclass
class ChangePosition:
    """Everything up to ``upto`` is captured, and so are the ids in ``seen`` beyond it.

    Until ``snapshot_done``, the rows that existed when the triggers were installed are still
    being read, source by source in key order (``snapshot`` holds the last key per source).
    """

    upto: int = 0
    seen: set[int] = field(default_factory=set)
    snapshot: dict[str, list[Any]] = field(default_factory=dict)
    snapshot_done: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str | None) -> ChangePosition:
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(int(raw["upto"]), {int(i) for i in raw.get("seen", [])},
                   dict(raw.get("snapshot", {})), list(raw.get("snapshot_done", [])))

    def text(self) -> str:
        return json.dumps({"upto": self.upto, "seen": sorted(self.seen),
                           "snapshot": self.snapshot, "snapshot_done": self.snapshot_done},
                          default=str)

    def settle(self) -> None:
        while self.upto + 1 in self.seen:
            self.upto += 1
            self.seen.discard(self.upto)


@dataclass(frozen=True)
class Change:
    change_id: int
    table: str
    op: str
    key: list[Any]


class TriggerCapture:
    """Capture by triggers for one profile on one database connection."""

    mode = "trigger"

    def __init__(self, profile: Profile, db: SourceDb, outbox: Any, *, name: str,
                 now: Callable[[], datetime], clock: Callable[[], float] = time.monotonic,
                 gap_timeout: float = 30.0, backfill: BackfillSettings | None = None,
                 on_backfill: Callable[[], None] | None = None):
        self.profile, self.db, self.outbox, self.name = profile, db, outbox, name
        self.now, self.clock, self.gap_timeout = now, clock, gap_timeout
        self.settings = backfill or BackfillSettings()
        self.backfill = BackfillState(outbox, on_backfill)
        self.sink = EventSink(name)
        self.position_name = f"capture:{name}:changes"
        self._gaps: dict[int, float] = {}
        self._by_table: dict[str, list[Source]] = {}
        for source in profile.sources.values():
            if profile.rules_for(source.name):
                self._by_table.setdefault(source.table.lower(), []).append(source)
        self._since_purge = 0

    def position(self) -> ChangePosition:
        return ChangePosition.parse(self.outbox.cursor(self.position_name))

    def _read_changes(self, pos: ChangePosition, limit: int) -> tuple[list[Change], int]:
        """Up to ``limit`` change rows after the position (without those already seen), and how
        many rows were read."""
        db = self.db
        rows = db.rows(
            f"SELECT change_id, source_table, op, row_key FROM {CHANGE_TABLE} "
            f"WHERE change_id > {db.ph} ORDER BY change_id LIMIT {limit}",
            [pos.upto])
        out = []
        for r in rows:
            lower = {k.lower(): v for k, v in r.items()}
            cid = int(lower["change_id"])
            if cid in pos.seen:
                continue
            out.append(Change(cid, str(lower["source_table"]), str(lower["op"]).strip(),
                              json.loads(lower["row_key"])))
        return out, len(rows)

    def _advance(self, pos: ChangePosition, taken: list[Change]) -> ChangePosition:
        new = ChangePosition(pos.upto, set(pos.seen) | {c.change_id for c in taken},
                             pos.snapshot, pos.snapshot_done)
        new.settle()
        if new.seen:
            now = self.clock()
            for missing in range(new.upto + 1, max(new.seen)):
                if missing in new.seen:
                    continue
                first = self._gaps.setdefault(missing, now)
                if now - first >= self.gap_timeout or len(new.seen) > 10_000:
                    new.seen.add(missing)  # never committed: a rolled-back insert
                    self._gaps.pop(missing, None)
            new.settle()
        return new

    def _events(self, changes: list[Change]) -> list[Event]:
        wanted: dict[str, list[list[Any]]] = {}
        for change in changes:
            if change.op != "D":
                for source in self._by_table.get(change.table.lower(), []):
                    wanted.setdefault(source.name, []).append(change.key)
        rows = {name: fetch_by_keys(self.db, self.profile.sources[name], keys)
                for name, keys in wanted.items()}
        self.db.end_read()
        now = self.now()
        events: list[Event] = []
        done: set[tuple[str, tuple[str, ...]]] = set()
        for change in changes:
            for source in self._by_table.get(change.table.lower(), []):
                key = norm_key(change.key)
                if change.op == "D":
                    events.append(map_delete(self.profile, source.name,
                                             dict(zip(source.key, change.key, strict=False)),
                                             now=now))
                    done.discard((source.name, key))
                    continue
                if (source.name, key) in done:
                    continue
                done.add((source.name, key))
                row = rows.get(source.name, {}).get(key)
                if row is not None:  # None: deleted since; its D change follows
                    events.extend(map_row(self.profile, source.name, row, now=now))
        self._check_drift(events)
        return events

    def _snapshot(self, pos: ChangePosition) -> int:
        """Read a window of the pre-existing rows of every source not yet snapshotted (in key
        order per source, up to ``window`` rows in all) and append it in event-time order."""
        pending = [s for s in self.profile.sources.values()
                   if self.profile.rules_for(s.name) and s.name not in pos.snapshot_done]
        if not pending:
            return -1
        self.backfill.begin()
        db = self.db
        batch = self.profile.capture.batch_size
        budget = max(self.settings.window, batch)
        new = ChangePosition(pos.upto, pos.seen, dict(pos.snapshot), list(pos.snapshot_done))
        now = self.now()
        events: list[Event] = []
        read = 0
        for source in pending:
            while budget > 0:
                sql = f"SELECT * FROM {base_sql(db, source)}"
                after = new.snapshot.get(source.name)
                if after is not None:
                    sql += (f" WHERE ({', '.join(source.key)}) > "
                            f"({', '.join(db.ph for _ in source.key)})")
                limit = min(batch, budget)
                rows = db.rows(f"{sql} ORDER BY {', '.join(source.key)} LIMIT {limit}",
                               after or [])
                for row in rows:
                    events.extend(map_row(self.profile, source.name, row, now=now))
                read += len(rows)
                budget -= len(rows)
                if rows:
                    new.snapshot[source.name] = list(key_of(source, rows[-1]))
                if len(rows) < limit:
                    new.snapshot_done.append(source.name)
                    new.snapshot.pop(source.name, None)
                    break
            if budget <= 0:
                break
        db.end_read()
        self._check_drift(events)
        emit_window(self.outbox, self.sink, events, {self.position_name: new.text()},
                    self.settings.chunk)
        self.backfill.window_done()
        return max(read, 1)

    def _check_drift(self, events: list[Event]) -> None:
        drift = [e.body for e in events if e.is_error and e.body["reason"] == "missing_column"]
        if drift:
            first = drift[0]
            raise SchemaDrift(f"{first['table']}: {first['detail']} (profile "
                              f"{self.profile.name}, {len(drift)} row(s) held back)")

    def poll(self) -> int:
        """Capture one batch (or one backlog window); returns the number of changes (or snapshot
        rows) consumed."""
        pos = self.position()
        snapped = self._snapshot(pos)
        if snapped >= 0:
            return snapped
        batch = self.profile.capture.batch_size
        changes, read = self._read_changes(pos, batch)
        if not changes:
            self.db.end_read()
            self.backfill.live()
            new = self._advance(pos, [])
            if new != pos:
                with self.outbox.transaction() as tx:
                    tx.set_cursor(self.position_name, new.text())
            return 0
        if read >= batch or self._old(self.settings.lag_s):
            return self._window(pos)
        self.backfill.live()
        events = self._events(changes)
        new = self._advance(pos, changes)
        with self.outbox.transaction() as tx:
            self.sink.emit(tx, events)
            tx.set_cursor(self.position_name, new.text())
        self._after(new, len(changes))
        return len(changes)

    def _window(self, pos: ChangePosition) -> int:
        """A backlog: up to ``window`` changes, appended in event-time order across tables."""
        self.backfill.begin()
        changes, _ = self._read_changes(pos, max(self.settings.window,
                                                 self.profile.capture.batch_size))
        events = self._events(changes)
        new = self._advance(pos, changes)
        emit_window(self.outbox, self.sink, events, {self.position_name: new.text()},
                    self.settings.chunk)
        self.backfill.window_done()
        self._after(new, len(changes))
        return max(len(changes), 1)

    def _after(self, new: ChangePosition, consumed: int) -> None:
        self._since_purge += consumed
        if self._since_purge >= 1000:
            self.purge(new.upto)

    def _old(self, lag_s: float) -> bool:
        """Whether the oldest pending change is older than ``lag_s`` by the database's clock."""
        pos = self.position()
        rows = self.db.rows(f"SELECT MIN(changed_at) AS oldest, CURRENT_TIMESTAMP AS now "
                            f"FROM {CHANGE_TABLE} WHERE change_id > {self.db.ph}", [pos.upto])
        row = {k.lower(): v for k, v in rows[0].items()}
        return _age(row["oldest"], row["now"]) >= lag_s

    def purge(self, upto: int | None = None) -> int:
        """Delete captured changes from the change table (they are in the outbox)."""
        limit = self.position().upto if upto is None else upto
        removed = self.db.execute(f"DELETE FROM {CHANGE_TABLE} WHERE change_id <= {self.db.ph}",
                                  [limit])
        self.db.commit()
        self._since_purge = 0
        return removed

    def backlog(self) -> tuple[int, int]:
        """(changes not yet captured, age in seconds of the oldest of them) by the DB's clock."""
        pos = self.position()
        rows = self.db.rows(f"SELECT COUNT(*) AS n, MIN(changed_at) AS oldest, "
                            f"CURRENT_TIMESTAMP AS now FROM {CHANGE_TABLE} "
                            f"WHERE change_id > {self.db.ph}", [pos.upto])
        self.db.end_read()
        row = {k.lower(): v for k, v in rows[0].items()}
        count = max(0, int(row["n"] or 0) - len(pos.seen))
        if not count:
            return count, 0
        return count, int(_age(row["oldest"], row["now"]))


def _age(oldest: Any, now: Any) -> float:
    """Seconds between two times read from the database (0 when there is no oldest)."""
    if oldest is None or now is None:
        return 0.0
    if isinstance(oldest, str):
        oldest, now = datetime.fromisoformat(oldest), datetime.fromisoformat(str(now))
    if isinstance(oldest, datetime) and isinstance(now, datetime):
        if (oldest.tzinfo is None) != (now.tzinfo is None):
            oldest, now = oldest.replace(tzinfo=None), now.replace(tzinfo=None)
        return max(0.0, float((now - oldest).total_seconds()))
    return 0.0
