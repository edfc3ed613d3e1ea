"""The supervision service: a thread in the hub process that drives the engine from the store.

It reads the stored records **in order of** ``records.id`` from its own cursor (``sup_state``),
with its own connection — the ingest thread is never slowed down; ingest's ``record.ingested``
event only wakes it up. Each step:

1. takes the next records (``chunk`` at a time), feeds them to the engine (:class:`Feeder`) and
   writes the resulting case rows, timeline links, cards and aggregates together with the new
   cursor in one short transaction (:func:`hub.supervision.store.write`);
2. ticks the engine's scheduler at the effective time (:class:`Hold`: now, unless a stream is
   delivering its backlog) until nothing is due, and refreshes the cases whose status changes at
   that moment (:class:`StatusClock`) — no rescan of open cases;
3. every few seconds: reloads the calendar if its folder changed, publishes the overview figures,
   lets go of long-completed cases.

New cards go to the bus listeners (``card.raised``) and to MQTT ``xn/v1/hub/alerts``. A person's
action on a card goes through :meth:`SupervisorService.act`, under the same lock as the steps.
"""

from __future__ import annotations

import gc
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hub.engine.calendar import WorkCalendar
from hub.engine.cards import FINAL, Action, Card, InvalidTransition
from hub.engine.clock_cli import build_calendar
from hub.engine.config import EngineConfig, load_config
from hub.engine.localtime import LOCAL_TZ, local_date
from hub.supervision.feed import SELECT_RECORDS, Feeder, RecordRow, Step
from hub.supervision.overview import overview_figures, status_counts
from hub.supervision.publish import MqttPublish, Publisher
from hub.supervision.replay import GC_THRESHOLDS, Restored, restore
from hub.supervision.schema import connect, ensure_schema, has_schema
from hub.supervision.store import Changes, Written, iso, read_state, write
from hub.supervision.timing import Hold
from hub.supervision.writer import Writer
from shared.errors import ConfigError

log = logging.getLogger("xiaoneng.hub.supervision")

CALENDAR_DIR = "calendar"
RULES_FILE = "rules.yaml"
#: UI words for engine steps, and the steps that need a reason in the note.
ACTION_ALIASES = {"supervise": "notify", "rectified": "rectify"}
NOTE_REQUIRED = frozenset({"respond", "appeal", "uphold", "withdraw"})


@dataclass(frozen=True)
class ServiceOptions:
    """Tuning of the service (defaults suit a city hub; tests shorten the waits)."""

    # records per transaction: a case's records (accepted, completed, rated) often fall in one
    # chunk, so its row is computed and written once, and fewer commits rewrite the same index
    # pages. bench/report.py (30,000 cases, 84,106 records; CPU time, shared machine): 8,400
    # records per CPU-second with 5,000, 10,000 with 20,000, 10,700 with 50,000. The service's
    # lock is held for one chunk (~2 s of a backlog; a person's card action waits that long).
    chunk: int = 20_000
    max_chunks_per_step: int = 1
    # chunks' changes waiting for the writer thread while the engine goes on (memory: a chunk's
    # changes each); the writer commits in order, so the cursor never runs ahead of the data
    writes_queued: int = 1
    poll_s: float = 1.0
    calendar_poll_s: float = 2.0
    counters_interval_s: float = 2.0
    housekeeping_s: float = 600.0
    startup_hold_s: float = 15.0  # no ticks right after a start: agents flush their outboxes first
    keep_completed_days: int = 7
    presence_replay_days: int = 2
    lag: timedelta = timedelta(minutes=10)
    quiet_s: float = 30.0
    max_hold_s: float = 600.0
    max_catch_up_s: float = 1800.0  # an agent saying "catching up" holds the time rules at most this long


def engine_config(data_dir: Path | None) -> EngineConfig:
    """``DATA/rules.yaml`` if present, else the built-in defaults (DOMAIN.md numbers)."""
    path = None if data_dir is None else data_dir / RULES_FILE
    return load_config(path) if path is not None and path.exists() else EngineConfig()


def _now() -> datetime:
    return datetime.now(LOCAL_TZ)


class SupervisorService:
    """Drives the engine from the store; see the module docstring."""

    def __init__(
        self,
        database: str | Path,
        *,
        calendar_dir: str | Path | None = None,
        config: EngineConfig | None = None,
        clock: Callable[[], datetime] = _now,
        mqtt: MqttPublish | None = None,
        options: ServiceOptions | None = None,
        catching_up: Callable[[], frozenset[str]] | None = None,
        write_turn: AbstractContextManager[Any] | None = None,
    ) -> None:
        self.database = Path(database)
        self.calendar_dir = Path(calendar_dir) if calendar_dir is not None else None
        self.options = options or ServiceOptions()
        self.clock = clock
        self.publisher = Publisher(mqtt)
        self.lock = threading.RLock()
        self.ready = threading.Event()
        self.restored: Restored | None = None
        self.counters: dict[str, int] = {"records": 0, "errors": 0, "cards": 0, "ticks": 0}
        self._config = config
        self._conn: sqlite3.Connection | None = None
        self._feeder: Feeder | None = None
        self._writer: Writer | None = None
        self._cursor = 0
        self._hold = Hold(self.options.lag, self.options.quiet_s, self.options.max_hold_s,
                          self.options.max_catch_up_s)
        self._catching_up = catching_up or frozenset
        self._write_turn: AbstractContextManager[Any] = write_turn or nullcontext()
        self._last_tick_wall = 0.0
        self.holding = False  # the last tick was held back (an agent catching up, a backlog)
        self._ticked: datetime | None = None
        self._opened = 0.0
        self._calendar_mark: object = None
        self._next_calendar = 0.0
        self._next_counters = 0.0
        self._next_housekeeping = 0.0
        self._published_version = ""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def listeners(self) -> list[Any]:
        """Bus publishers (``publish(kind, data)``) that receive the supervision's events."""
        return self.publisher.listeners

    @property
    def feeder(self) -> Feeder:
        if self._feeder is None:
            raise RuntimeError("the supervision service is not open yet")
        return self._feeder

    @property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar in use."""
        return self.feeder.calendar

    @property
    def config(self) -> EngineConfig:
        """The engine configuration in use."""
        return self.feeder.config

    def open(self) -> Restored:
        """Create the tables, build the engine and restore it from the database."""
        conn = connect(self.database)
        ensure_schema(conn)
        self._conn = conn
        config = self._config or EngineConfig()
        calendar = build_calendar(directory=self.calendar_dir) if self.calendar_dir else WorkCalendar()
        self._calendar_mark = self._calendar_fingerprint()
        feeder = Feeder(conn, config, calendar, settle=self._settle_writes)
        self._writer = Writer(connect(self.database), self._write_one, self.options.writes_queued)
        now = self.clock()
        with self.lock:
            self._feeder = feeder
            summary, step = restore(feeder, now, self.options.keep_completed_days,
                                    self.options.presence_replay_days)  # fmt: skip
            self._cursor = summary.cursor
            self._commit(step.changes, now)
            self._settle_writes()
        self._opened = self._last_tick_wall = now.timestamp()
        self.restored = summary
        self.ready.set()
        return summary

    def start(self) -> None:
        """Run in a daemon thread (restoring first, in that thread)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="xn-hub-supervision", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread and close the connection."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self.lock:
            if self._writer is not None:
                try:
                    self._settle_writes()
                except Exception:
                    log.exception("the supervision's last writes failed")
                self._writer.close(timeout)
                self._writer = None
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def wake(self, kind: str = "", data: object = None) -> None:
        """Ingest listener: new records were stored (any other event is ignored)."""
        if kind in ("", "record.ingested"):
            self._wake.set()

    def _run(self) -> None:
        try:
            if self._feeder is None:
                self.open()
        except Exception:
            log.exception("the supervision service could not start")
            return
        while not self._stop.is_set():
            try:
                more = self.step()
            except Exception:
                log.exception("supervision step failed; retrying")
                more = False
                self._stop.wait(2.0)
            if more:
                continue
            self._wake.wait(self._sleep())
            self._wake.clear()

    def _sleep(self) -> float:
        wakeup = self._feeder.sup.next_wakeup() if self._feeder else None
        if wakeup is None:
            return self.options.poll_s
        return max(0.05, min(self.options.poll_s, (wakeup - self.clock()).total_seconds()))

    # -- one step --------------------------------------------------------------------------------

    def step(self) -> bool:
        """Process available records, tick, housekeeping; True if records remain."""
        now = self.clock()
        more = False
        for _ in range(self.options.max_chunks_per_step):
            count = self._consume(now)
            more = count == self.options.chunk
            if not more:
                break
        self._tick(self.clock(), behind=more)
        wall = time.monotonic()
        if wall >= self._next_calendar:
            self._next_calendar = wall + self.options.calendar_poll_s
            self.reload_calendar()
        if wall >= self._next_counters:
            self._next_counters = wall + self.options.counters_interval_s
            self._publish_counters()
        if wall >= self._next_housekeeping:
            self._next_housekeeping = wall + self.options.housekeeping_s
            self.housekeeping()
        if not more:  # caught up: everything derived so far is in the database (and announced)
            with self.lock:  # announced under the lock, as every other write's
                self._settle_writes()
        return more

    def _consume(self, now: datetime) -> int:
        assert self._conn is not None
        try:
            rows: list[RecordRow] = self._conn.execute(
                f"{SELECT_RECORDS} WHERE id > ? ORDER BY id LIMIT ?", (self._cursor, self.options.chunk)
            ).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return 0  # the store has not created its tables yet
            raise
        if not rows:
            return 0
        wall = now.timestamp()
        with self.lock:
            feeder = self.feeder
            step = Step()
            feeder.prepare(rows, step)
            for row in rows:
                recorded = _moment(row[4])  # when the agent recorded the fact (the record's ts)
                lagging = recorded is not None and self._hold.saw((row[1], row[2]), recorded, now, wall)
                as_of = recorded if lagging and recorded is not None and recorded < now else now
                feeder.feed(row, now, step, recorded, as_of)
            step.changes.cursor = rows[-1][0]
            feeder.finish(step, local_date(now), now)
            self._cursor = rows[-1][0]
            self.counters["records"] += len(rows)
            self.counters["errors"] += len(step.changes.errors)
            self._commit(step.changes, now)
        return len(rows)

    def _tick(self, now: datetime, behind: bool = False) -> None:
        """Raise the time rules' cards. Not while stored records wait to be consumed (their facts
        may prevent a card: ticks wait for the consumption to catch up, at most ``max_hold_s``),
        and at the held time while an agent catches up (:class:`Hold`)."""
        if self._feeder is None or now.timestamp() - self._opened < self.options.startup_hold_s:
            return
        wall = now.timestamp()
        if behind and wall - self._last_tick_wall < self.options.max_hold_s:
            if not self.holding:
                self._note_holding(True)
            return
        self._last_tick_wall = wall
        held = self._hold.effective(now, wall, self._hold.catching_up(self._catching_up(), wall))
        holding = held is None or held < now
        if holding != self.holding:
            self._note_holding(holding)
        if held is None:
            return  # an agent is about to deliver its history: its facts may start anywhere
        at = held
        if self._ticked is not None and at < self._ticked:
            at = self._ticked
        self._ticked = at
        with self.lock:
            sup, step = self.feeder.sup, Step()
            while True:
                cards = sup.tick(at, limit=5000, hub_now=now)
                for card in cards:
                    self.feeder.raised(card, step)
                wakeup = sup.next_wakeup()
                if not cards and (wakeup is None or wakeup > at):
                    break
            for case_id in self.feeder.status.pop_due(at):
                step.touch(case_id)
            if not step.cases and step.changes.empty:
                return
            self.counters["ticks"] += 1
            self.feeder.finish(step, local_date(at), at)
            self._commit(step.changes, now)

    def _note_holding(self, holding: bool) -> None:
        """Keep ``sup_state.holding`` (read by the demo and ``/metrics``: history still arriving)."""
        self.holding = holding
        with self.lock:
            if self._conn is None:
                return
            try:
                with self._conn:
                    self._conn.execute("INSERT OR REPLACE INTO sup_state(key, value) VALUES ('holding', ?)",
                                       (str(int(holding)),))  # fmt: skip
            except sqlite3.OperationalError as exc:  # busy: the next tick writes it again
                self.holding = not holding
                log.warning("could not note the hold", extra={"error": str(exc)})

    def _commit(self, changes: Changes, now: datetime) -> None:
        """Hand ``changes`` to the writer thread (committed in order, each with its cursor, while
        this thread goes on; :mod:`hub.supervision.writer`), and announce what committed so far."""
        if changes.empty:
            return
        assert self._writer is not None
        if self._feeder is not None:
            self._feeder.submitted(changes)
        self._writer.submit(changes, now)
        self._announce()

    def _settle_writes(self) -> None:
        """Wait until every change handed to the writer has committed, and announce it."""
        if self._writer is not None:
            self._writer.settle()
            self._announce()

    def _write_one(self, conn: sqlite3.Connection, changes: Changes, now: datetime) -> Written:
        """The writer thread's write of ``changes`` (retrying while the database is busy)."""
        delay = 0.2
        while True:
            try:
                with self._write_turn:  # the ingest's transactions take turns with ours
                    written = write(conn, changes, now)
                break
            except sqlite3.OperationalError as exc:
                if self._stop.is_set():
                    self._written(None)
                    raise
                log.warning("supervision write failed; retrying", extra={"error": str(exc)})
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except BaseException:
                self._written(None)
                raise
        self._written(written)  # committed: never retried from here on
        return written

    def _written(self, written: Written | None) -> None:
        if self._feeder is not None:
            self._feeder.committed(written)

    def _announce(self) -> None:
        """Publish what the writer committed (in this thread: listeners never run in the writer's)."""
        assert self._writer is not None
        for _changes, written in self._writer.take_done():
            self.counters["cards"] += len(written.raised)
            # historical cards (imported history) count in their period, but reach no live listener
            self.publisher.raised([c for c in written.raised if not c.historical])
            for card in written.withdrawn:
                if card.history and card.history[-1].action is Action.RETRACT:
                    self.publisher.updated(card, Action.RETRACT.value)
            self.publisher.cases(written.status_changes)

    # -- people ----------------------------------------------------------------------------------

    def act(self, card_id: str, action: str, actor: str, note: str, now: datetime) -> Card:
        """Apply a person's action to a card: persisted, audited in ``card_actions``, announced
        on MQTT. ``respond`` records the department's answer without a state change. Raises
        :class:`InvalidTransition` (state does not allow it, or a required reason is missing)
        and :class:`LookupError` (no such card)."""
        if not self.ready.wait(30):
            raise InvalidTransition("the supervision service is still starting; try again")
        name = ACTION_ALIASES.get(action, action)
        if name == Action.RETRACT.value:
            raise InvalidTransition("retract is the hub's own action (系统撤销); people withdraw after an appeal")
        if name in NOTE_REQUIRED and not note.strip():
            raise InvalidTransition(f"{action} needs a reason in the note")
        with self.lock:
            assert self._conn is not None
            self._settle_writes()  # the card as stored, after the writes before this action
            sup = self.feeder.sup
            card = sup.cards.get(card_id) or self._stored_card(card_id)
            if name == "respond":
                if card.state in FINAL:
                    raise InvalidTransition(f"card {card_id} is {card.state}: nothing to respond to")
                after = card
            else:
                try:
                    step_action = Action(name)
                except ValueError:
                    raise InvalidTransition(f"unknown action {action!r}") from None
                if card_id not in sup.cards and card.state not in FINAL:
                    sup.restore([card])
                after = (sup.transition(card_id, step_action, now, actor, note) if card_id in sup.cards
                         else card.apply(step_action, now, actor, note))  # fmt: skip
            changes = Changes()
            if after is not card:
                changes.card(after, new=False)
            changes.actions.append((card_id, action, card.state.value, after.state.value, actor, note, iso(now)))
            if after.decision.case_id:
                self.feeder.refresh([after.decision.case_id], local_date(now), now, changes)
            self._commit(changes, now)
            self._settle_writes()  # the action is stored when act() returns
            if after.state in FINAL:
                sup.forget_card(card_id)
        self.publisher.updated(after, action, bus=False)
        return after

    def _stored_card(self, card_id: str) -> Card:
        assert self._conn is not None
        row = self._conn.execute("SELECT json FROM cards WHERE card_id = ?", (card_id,)).fetchone()
        if row is None:
            raise LookupError(f"no card {card_id!r}")
        return Card.from_json(json.loads(row[0]))

    # -- calendar, counters, memory --------------------------------------------------------------

    def _calendar_fingerprint(self) -> object:
        folder = self.calendar_dir
        if folder is None or not folder.is_dir():
            return None
        return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.glob("*.json")))

    def reload_calendar(self, force: bool = False) -> bool:
        """Switch to the calendar folder's data if it changed; True when a new calendar is in use."""
        mark = self._calendar_fingerprint()
        if not force and mark == self._calendar_mark:
            return False
        self._calendar_mark = mark
        try:
            calendar = build_calendar(directory=self.calendar_dir)
        except ConfigError as exc:
            log.error("calendar folder holds an invalid file; keeping the current calendar",
                      extra={"error": str(exc)})
            return False
        now = self.clock()
        with self.lock:
            update = self.feeder.sup.set_calendar(calendar)
            changes = Changes()
            for card in update.cards:
                changes.card(card, new=False)
            cases = [s[5:] for s in update.subjects if s.startswith("case:")]
            self.feeder.refresh(cases, local_date(now), now, changes)
            self._commit(changes, now)
        for card in update.cards:
            self.publisher.updated(card, "calendar")
        log.info("calendar reloaded", extra={"cases": len(cases), "cards": len(update.cards),
                                             "version": calendar.version})
        return True

    def _publish_counters(self) -> None:
        if not self.publisher.listeners or self._conn is None:
            return
        version = read_state(self._conn, "version")
        if version == self._published_version:
            return
        self._published_version = version
        figures = overview_figures(self._conn, None, local_date(self.clock()))
        self.publisher.bus("overview.counters", figures)

    def metrics(self) -> dict[str, Any]:
        """Figures for ``/metrics`` (read through a separate read-only connection)."""
        lag = 0.0
        if self._feeder is not None and self.lock.acquire(timeout=0.5):
            try:
                wakeup = self._feeder.sup.next_wakeup()
            finally:
                self.lock.release()
            if wakeup is not None:
                lag = max(0.0, (self.clock() - wakeup).total_seconds())
        out: dict[str, Any] = {**self.counters, "lag_s": lag, "backlog": 0, "cards_by_level": {},
                               "open_by_status": {}, "holding": int(self.holding)}  # fmt: skip
        if not self.database.exists():
            return out
        conn = connect(self.database, readonly=True)
        try:
            if has_schema(conn):
                top = conn.execute("SELECT COALESCE(MAX(id), 0) FROM records").fetchone()[0]
                out["backlog"] = max(0, int(top) - self._cursor)
                out["cards_by_level"] = {m[6:]: int(n) for m, n in conn.execute(
                    "SELECT metric, SUM(n) FROM sup_daily WHERE metric LIKE 'cards_%' GROUP BY metric")}
                out["open_by_status"] = status_counts(conn, None)
        except sqlite3.OperationalError:
            pass  # the store's tables are not there yet
        finally:
            conn.close()
        return out

    def housekeeping(self) -> int:
        """Let the engine forget cases completed more than ``keep_completed_days`` ago with nothing
        pending (they are re-read from their timeline if a record for them arrives)."""
        limit = local_date(self.clock()) - timedelta(days=self.options.keep_completed_days)
        with self.lock:
            if self._feeder is None:
                return 0
            sup = self._feeder.sup
            done = [
                cid for cid, case in sup.cases.items()
                if case.completed_at is not None and local_date(case.completed_at) < limit
                and not any(r.rectified_at is None and r.level in case.thresholds.bad_rating_levels
                            for r in case.ratings)
            ]  # fmt: skip
            for cid in done:
                sup.forget(cid)
                self._feeder.status.set(cid, None)
        return len(done)


def start_supervision(data_dir: Path, ingest: Any) -> SupervisorService:
    """Start the service of a running hub: ``DATA/hub.sqlite``, ``DATA/calendar/``,
    ``DATA/rules.yaml``; woken by the ingest's events, publishing cards through its broker link."""
    gc.set_threshold(*GC_THRESHOLDS)  # the hub process's collector (measured in hub.supervision.replay)
    service = SupervisorService(
        data_dir / "hub.sqlite", calendar_dir=data_dir / CALENDAR_DIR, config=engine_config(data_dir),
        mqtt=ingest.publish_raw, catching_up=getattr(ingest, "catching_up", None),
        write_turn=getattr(ingest, "write_turn", None),
    )
    ingest.listeners.append(service.wake)
    service.start()
    return service


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None
