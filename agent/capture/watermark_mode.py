"""Watermark capture for read-only access: poll each source in ``(updated_at, key)`` order.

The position per source is the ``(updated_at, key)`` of the last row captured, committed with the
events in one outbox transaction. New rows are read strictly after it (keyset paging, so a
backlog drains in batches). Because a slow transaction can commit a row whose ``updated_at`` is
already behind the watermark, the last ``overlap_seconds`` are swept again from time to time;
content de-duplication makes the re-read rows cost nothing in the outbox. A backlog (a source with
more than a batch beyond its watermark: the first start, an outage) is read as one window of all
sources and appended in event-time order (:mod:`agent.capture.backfill`). Deleted rows cannot be
seen by polling: a reconciliation every ``reconcile_seconds`` compares the keys in the source with
the keys captured so far (kept in a small side file) and reports the missing ones.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from agent.capture.backfill import BackfillSettings, BackfillState, emit_window
from agent.capture.database import SourceDb
from agent.capture.rows import base_sql, key_of, norm_key
from agent.capture.sink import EventSink
from agent.capture.trigger_mode import SchemaDrift
from agent.mapping.engine import Event, map_delete, map_row
from agent.mapping.profile import Profile, Source


def _encode(value: Any) -> dict[str, Any]:
    if isinstance(value, datetime):
        return {"ty": "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {"ty": "date", "v": value.isoformat()}
    if isinstance(value, Decimal):
        return {"ty": "decimal", "v": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"ty": "bytes", "v": bytes(value).hex()}
    return {"ty": "json", "v": value}


def _decode(raw: dict[str, Any]) -> Any:
    ty, v = raw["ty"], raw["v"]
    if ty == "datetime":
        return datetime.fromisoformat(v)
    if ty == "date":
        return date.fromisoformat(v)
    if ty == "decimal":
        return Decimal(v)
    if ty == "bytes":
        return bytes.fromhex(v)
    return v


def _minus(value: Any, seconds: int) -> Any:
    """``value`` (a time of some type) moved back by ``seconds``; unchanged if not a time."""
    if isinstance(value, datetime):
        return value - timedelta(seconds=seconds)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        shifted = moment - timedelta(seconds=seconds)
        sep = "T" if "T" in value else " "
        return shifted.isoformat(sep=sep, timespec="seconds" if "." not in value else "auto")
    return value


class KnownKeys:
    """Keys captured so far per source, for delete reconciliation (a side SQLite file)."""

    def __init__(self, path: Path | None):
        self.conn = sqlite3.connect(":memory:" if path is None else str(path))
        self.conn.execute("CREATE TABLE IF NOT EXISTS known (source TEXT, k TEXT, raw TEXT, "
                          "PRIMARY KEY (source, k))")

    def add(self, source: str, keys: list[tuple[Any, ...]]) -> None:
        self.conn.executemany("INSERT OR IGNORE INTO known VALUES (?, ?, ?)",
                              [(source, json.dumps(norm_key(k)),
                                json.dumps([_encode(v) for v in k])) for k in keys])
        self.conn.commit()

    def all(self, source: str) -> dict[tuple[str, ...], list[Any]]:
        rows = self.conn.execute("SELECT k, raw FROM known WHERE source = ?", (source,))
        return {tuple(json.loads(k)): [_decode(v) for v in json.loads(raw)] for k, raw in rows}

    def remove(self, source: str, keys: list[tuple[str, ...]]) -> None:
        self.conn.executemany("DELETE FROM known WHERE source = ? AND k = ?",
                              [(source, json.dumps(list(k))) for k in keys])
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class WatermarkCapture:
    """Capture by polling for one profile on one database connection."""

    mode = "watermark"

    def __init__(self, profile: Profile, db: SourceDb, outbox: Any, *, name: str,
                 now: Callable[[], datetime], clock: Callable[[], float] = time.monotonic,
                 keys_path: Path | None = None, backfill: BackfillSettings | None = None,
                 on_backfill: Callable[[], None] | None = None):
        self.profile, self.db, self.outbox, self.name = profile, db, outbox, name
        self.now, self.clock = now, clock
        self.settings = backfill or BackfillSettings()
        self.backfill = BackfillState(outbox, on_backfill)
        self.sink = EventSink(name)
        self.known = KnownKeys(keys_path)
        self.sources = [s for s in profile.sources.values() if profile.rules_for(s.name)]
        for source in self.sources:
            if not source.updated_at:
                raise SchemaDrift(f"source {source.name}: watermark capture needs updated_at")
        started = clock()
        self._last_sweep = {s.name: started for s in self.sources}
        self._last_reconcile = started
        self._caught_up: dict[str, bool] = {}

    def _cursor(self, source: Source) -> str:
        return f"capture:{self.name}:wm:{source.name}"

    def _map(self, source: Source, rows: list[dict[str, Any]]) -> list[Event]:
        now = self.now()
        events: list[Event] = []
        for row in rows:
            events.extend(map_row(self.profile, source.name, row, now=now))
        drift = [e.body for e in events if e.is_error and e.body["reason"] == "missing_column"]
        if drift:
            raise SchemaDrift(f"{drift[0]['table']}: {drift[0]['detail']} (profile "
                              f"{self.profile.name}, {len(drift)} row(s) held back)")
        return events

    def _order(self, source: Source) -> str:
        return ", ".join([str(source.updated_at), *source.key])

    def _read(self, source: Source, mark: list[Any] | None, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` rows of ``source`` after ``mark`` in ``(updated_at, key)`` order."""
        db = self.db
        assert source.updated_at
        cols = [source.updated_at, *source.key]
        sql = f"SELECT * FROM {base_sql(db, source)} WHERE {source.updated_at} IS NOT NULL"
        params: list[Any] = []
        if mark is not None:
            sql += (f" AND ({', '.join(cols)}) > ({', '.join(db.ph for _ in cols)})")
            params = mark
        return db.rows(f"{sql} ORDER BY {self._order(source)} LIMIT {limit}", params)

    def _mark(self, source: Source, row: dict[str, Any]) -> str:
        lower = {k.lower(): v for k, v in row.items()}
        return json.dumps([_encode(lower[c.lower()]) for c in [str(source.updated_at), *source.key]])

    def _saved_mark(self, source: Source) -> list[Any] | None:
        raw = self.outbox.cursor(self._cursor(source))
        return [_decode(v) for v in json.loads(raw)] if raw else None

    def _poll_source(self, source: Source) -> int:
        batch = self.profile.capture.batch_size
        rows = self._read(source, self._saved_mark(source), batch)
        self.db.end_read()
        self._caught_up[source.name] = len(rows) < batch
        if not rows:
            return 0
        events = self._map(source, rows)
        with self.outbox.transaction() as tx:
            self.sink.emit(tx, events)
            tx.set_cursor(self._cursor(source), self._mark(source, rows[-1]))
        self.known.add(source.name, [key_of(source, r) for r in rows])
        return len(rows)

    def _window(self) -> int:
        """A backlog: up to ``window`` rows of all sources beyond their watermarks, appended in
        event-time order; the watermarks move in the window's last transaction."""
        self.backfill.begin()
        batch = self.profile.capture.batch_size
        budget = max(self.settings.window, batch)
        events: list[Event] = []
        marks: dict[str, str] = {}
        read: dict[str, list[tuple[Any, ...]]] = {}
        for source in self.sources:
            mark = self._saved_mark(source)
            caught_up = False
            while budget > 0:
                limit = min(batch, budget)
                rows = self._read(source, mark, limit)
                budget -= len(rows)
                if rows:
                    events.extend(self._map(source, rows))
                    read.setdefault(source.name, []).extend(key_of(source, r) for r in rows)
                    marks[self._cursor(source)] = self._mark(source, rows[-1])
                    mark = [_decode(v) for v in json.loads(marks[self._cursor(source)])]
                if len(rows) < limit:
                    caught_up = True
                    break
            self._caught_up[source.name] = caught_up
        self.db.end_read()
        emit_window(self.outbox, self.sink, events, marks, self.settings.chunk)
        for name, keys in read.items():
            self.known.add(name, keys)
        self.backfill.window_done()
        return sum(len(k) for k in read.values())

    def _sweep(self, source: Source) -> int:
        """Re-read the overlap window behind the watermark (late commits)."""
        db = self.db
        raw = self.outbox.cursor(self._cursor(source))
        if not raw or not source.updated_at:
            return 0
        mark = _decode(json.loads(raw)[0])
        since = _minus(mark, self.profile.capture.overlap_seconds)
        rows = db.rows(f"SELECT * FROM {base_sql(db, source)} WHERE {source.updated_at} >= "
                       f"{db.ph} AND {source.updated_at} <= {db.ph}", [since, mark])
        db.end_read()
        if not rows:
            return 0
        events = self._map(source, rows)
        with self.outbox.transaction() as tx:
            appended = self.sink.emit(tx, events)
        self.known.add(source.name, [key_of(source, r) for r in rows])
        return appended

    def reconcile(self) -> int:
        """Report rows captured earlier that are gone from the source; returns how many."""
        reported = 0
        now = self.now()
        for source in self.sources:
            present = {norm_key(key_of(source, r)) for r in self.db.rows(
                f"SELECT {', '.join(source.key)} FROM {source.table}")}
            self.db.end_read()
            gone = {k: raw for k, raw in self.known.all(source.name).items() if k not in present}
            if not gone:
                continue
            events = [map_delete(self.profile, source.name,
                                 dict(zip(source.key, raw, strict=False)), now=now)
                      for raw in gone.values()]
            with self.outbox.transaction() as tx:
                reported += self.sink.emit(tx, events)
            self.known.remove(source.name, list(gone))
        self._last_reconcile = self.clock()
        return reported

    def poll(self) -> int:
        """One round over all sources; returns rows read (0: caught up everywhere)."""
        if self.backfill.active or not self._caught_up or not all(self._caught_up.values()):
            total = self._window()  # the first round, or a source more than a batch behind
        else:
            total = 0
            for source in self.sources:
                total += self._poll_source(source)
        if all(self._caught_up.get(s.name) for s in self.sources):
            self.backfill.live()
        now = self.clock()
        sweep_every = max(self.profile.capture.poll_ms / 1000,
                          self.profile.capture.overlap_seconds / 4)
        for source in self.sources:
            if self._caught_up.get(source.name) and now - self._last_sweep[source.name] >= \
                    sweep_every:
                self._sweep(source)
                self._last_sweep[source.name] = now
        if now - self._last_reconcile >= self.profile.capture.reconcile_seconds:
            self.reconcile()
        return total

    def backlog(self) -> tuple[int, int]:
        """Rows waiting beyond the watermarks is unknown without a scan: report 0 when caught up,
        else -1, and no age."""
        waiting = 0 if all(self._caught_up.get(s.name) for s in self.sources) else -1
        return waiting, 0
