"""The supervision's implementation of the web's plug-in :class:`SupervisionQueries`.

``SupervisionProvider(service)`` answers the overview, the case board, one case, the card queue,
one card, card actions, rankings and the monthly report from the supervision tables; every method
honours the caller's department scope (``dept``: None city-wide, else only that department's
rows). Rankings and reports are cached per period and recomputed at most every
``cache_s`` seconds while the data changes (``sup_state.version``).

Card actions go through the running :class:`SupervisorService` (the engine owns the lifecycle and
the escalation clocks). Without a service (tests of the web, tools) the provider applies the
action to the stored card directly.

Field lists are documented in ``docs/supervision.md``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from hub.engine.calendar import WorkCalendar
from hub.engine.cards import Action, Card, InvalidTransition
from hub.engine.clock import Unit, due_date
from hub.engine.config import EngineConfig
from hub.engine.localtime import LOCAL_TZ, local_date
from hub.engine.scoring import Period, score_entities
from hub.reports.data import build_report
from hub.supervision.cardviews import card_detail, card_page, case_cards
from hub.supervision.caseviews import case_item, case_page, clock_view, timeline
from hub.supervision.facts import load_facts, names, ranking_rows
from hub.supervision.overview import overview_figures
from hub.supervision.rows import COLUMNS
from hub.supervision.schema import connect, ensure_schema, has_schema
from hub.supervision.service import ACTION_ALIASES, NOTE_REQUIRED, SupervisorService
from hub.supervision.store import Changes, iso, read_state, write
from hub.web.pagination import Page, PageRequest

KINDS = ("department", "window", "staff", "item")


def _now() -> datetime:
    return datetime.now(LOCAL_TZ)


class SupervisionProvider:
    """Answers the web layer from the supervision tables (see the module docstring)."""

    available = True

    def __init__(
        self,
        service: SupervisorService | None = None,
        *,
        database: str | Path | None = None,
        config: EngineConfig | None = None,
        calendar: WorkCalendar | None = None,
        clock: Callable[[], datetime] = _now,
        cache_s: float = 30.0,
        background: bool = True,
    ) -> None:
        self.service = service
        self.database = Path(database) if database is not None else (service.database if service else None)
        self._config = config
        self._calendar = calendar
        self.clock = clock
        self.cache_s = cache_s
        self.background = background
        self._cache: dict[tuple[Any, ...], tuple[str, float, Any]] = {}
        self._busy: set[tuple[Any, ...]] = set()
        self._lock = threading.Lock()

    @property
    def config(self) -> EngineConfig:
        if self._config is not None:
            return self._config
        if self.service is not None and self.service.ready.is_set():
            return self.service.config
        return EngineConfig()

    @property
    def calendar(self) -> WorkCalendar:
        if self._calendar is not None:
            return self._calendar
        if self.service is not None and self.service.ready.is_set():
            return self.service.calendar
        self._calendar = WorkCalendar()
        return self._calendar

    def _now(self) -> datetime:
        return self.clock().astimezone(LOCAL_TZ)

    # -- overview, cases -------------------------------------------------------------------------

    def overview(self, conn: sqlite3.Connection, dept: str | None) -> Mapping[str, Any]:
        """Today's figures (``accepted_today``, ``completed_today``, ``open``, ``overdue``,
        ``on_time_rate`` — of the cases completed today, None before the first —,
        ``on_time_rate_month``, ``cards_today``, ``cards_today_by_level``, ``by_status`` …)."""
        if not has_schema(conn):
            return overview_figures_empty(local_date(self._now()))
        return overview_figures(conn, dept, local_date(self._now()))

    def cases(self, conn: sqlite3.Connection, filters: Mapping[str, str], dept: str | None,
              page: PageRequest) -> Page:  # fmt: skip
        """A page of the case board (filters ``q dept item window status from to``)."""
        if not has_schema(conn):
            return Page([], page.page, page.per_page, 0)
        return case_page(conn, filters, dept, page, self.calendar, self._now())

    def case(self, conn: sqlite3.Connection, case_id: str, dept: str | None) -> Mapping[str, Any] | None:
        """One case: its board fields, ``clock``, ``timeline`` (records with hash and verification)
        and ``cards``; None if absent or out of scope."""
        if not has_schema(conn):
            return None
        values = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        if values is None:
            return None
        row = dict(zip(COLUMNS, values, strict=True))
        if dept is not None and row["dept_code"] != dept:
            return None
        now = self._now()
        out = case_item(row, self.calendar, now)
        out["clock"] = clock_view(row, self.calendar, local_date(now))
        out["timeline"] = timeline(conn, case_id)
        out["verified"] = all(e["verified"] for e in out["timeline"])
        out["cards"] = case_cards(conn, case_id, self.calendar, local_date(now))
        window = conn.execute("SELECT name FROM sup_names WHERE kind = 'window' AND code = ?",
                              (row["window_id"] or "",)).fetchone()  # fmt: skip
        out["window_name"] = window[0] if window else None
        if not out.get("dept_name") and row["dept_code"]:  # a refusal names no department: the hub knows it
            dept_row = conn.execute("SELECT name FROM sup_names WHERE kind = 'dept' AND code = ?",
                                    (row["dept_code"],)).fetchone()  # fmt: skip
            out["dept_name"] = dept_row[0] if dept_row else None
        return out

    # -- cards -----------------------------------------------------------------------------------

    def alerts(self, conn: sqlite3.Connection, filters: Mapping[str, str], dept: str | None,
               page: PageRequest) -> Page:  # fmt: skip
        """A page of cards, newest first (tabs and filters: :mod:`hub.supervision.cardviews`)."""
        if not has_schema(conn):
            return Page([], page.page, page.per_page, 0)
        return card_page(conn, filters, dept, page, self.calendar, local_date(self._now()))

    def card(self, conn: sqlite3.Connection, card_id: str, dept: str | None) -> Mapping[str, Any] | None:
        """One card with ``history``, ``actions`` (audit) and ``evidence_records``."""
        if not has_schema(conn):
            return None
        return card_detail(conn, card_id, dept, self.calendar, local_date(self._now()))

    def act(self, card_id: str, action: str, actor: str, note: str, now: datetime) -> Mapping[str, Any]:
        """Apply ``action`` (``supervise``/``notify`` 督办, ``respond``, ``appeal``, ``uphold``,
        ``withdraw``, ``rectify``, ``close``); returns the card after it (as :meth:`card`).
        Raises :class:`InvalidTransition` or :class:`LookupError`."""
        moment = now.astimezone(LOCAL_TZ)
        if self.service is not None:
            card = self.service.act(card_id, action, actor, note, moment)
        else:
            card = self._act_offline(card_id, action, actor, note, moment)
        if self.database is None:
            from hub.supervision.cardviews import card_item

            return card_item(card)
        conn = connect(self.database, readonly=True)
        try:
            return card_detail(conn, card_id, None) or {}
        finally:
            conn.close()

    def _act_offline(self, card_id: str, action: str, actor: str, note: str, now: datetime) -> Card:
        if self.database is None:
            raise LookupError("no supervision database to act on")
        name = ACTION_ALIASES.get(action, action)
        if name in NOTE_REQUIRED and not note.strip():
            raise InvalidTransition(f"{action} needs a reason in the note")
        conn = connect(self.database)
        try:
            ensure_schema(conn)
            row = conn.execute("SELECT json FROM cards WHERE card_id = ?", (card_id,)).fetchone()
            if row is None:
                raise LookupError(f"no card {card_id!r}")
            card = Card.from_json(json.loads(row[0]))
            after = card
            if name != "respond":
                try:
                    step = Action(name)
                except ValueError:
                    raise InvalidTransition(f"unknown action {action!r}") from None
                deadline = None
                if step is Action.UPHOLD:
                    days = self.config.for_case(card.decision.item_code, card.decision.dept_code).supervision_days
                    deadline = due_date(self.calendar, local_date(now), days, Unit.G).day
                after = card.apply(step, now, actor, note, deadline)
            changes = Changes()
            if after is not card:
                changes.card(after, new=False)
            changes.actions.append((card_id, action, card.state.value, after.state.value, actor, note, iso(now)))
            write(conn, changes, now)
            return after
        finally:
            conn.close()

    # -- rankings, report ------------------------------------------------------------------------

    def _cached(self, conn: sqlite3.Connection, key: tuple[Any, ...],
                make: Callable[[sqlite3.Connection], Any]) -> Any:  # fmt: skip
        """``make(conn)``, cached while the data does not change or for ``cache_s`` seconds. A
        stale value is answered at once while a background thread (its own connection) computes
        the fresh one: only the very first request of a period waits."""
        version = read_state(conn, "version")
        wall = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            fresh = hit is not None and (hit[0] == version or wall - hit[1] < self.cache_s)
            refresh = (hit is not None and not fresh and self.background and self.database is not None
                       and key not in self._busy)
            if refresh:
                self._busy.add(key)
        if hit is not None and fresh:
            return hit[2]
        if refresh:
            threading.Thread(target=self._refresh, args=(key, version, make), daemon=True,
                             name="xn-supervision-cache").start()  # fmt: skip
            return hit[2] if hit is not None else None
        value = make(conn)
        self._store(key, version, value)
        return value

    def _store(self, key: tuple[Any, ...], version: str, value: Any) -> None:
        with self._lock:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = (version, time.monotonic(), value)

    def _refresh(self, key: tuple[Any, ...], version: str, make: Callable[[sqlite3.Connection], Any]) -> None:
        assert self.database is not None
        try:
            conn = connect(self.database, readonly=True)
            try:
                self._store(key, version, make(conn))
            finally:
                conn.close()
        except Exception:  # the stale value stays; the next request tries again
            logging.getLogger("xiaoneng.hub.supervision").exception("cache refresh failed", extra={"key": key})
        finally:
            with self._lock:
                self._busy.discard(key)

    def scores(self, conn: sqlite3.Connection, period: str, kind: str) -> list[Any]:
        """Scores of every entity of ``kind`` in ``period`` (cached)."""
        parsed = Period.parse(period)

        def make(c: sqlite3.Connection) -> list[Any]:
            return score_entities(load_facts(c, parsed), kind, self.config.scoring)

        result: list[Any] = self._cached(conn, ("scores", parsed.label, kind), make)
        return result

    def rankings(self, conn: sqlite3.Connection, period: str, kind: str,
                 dept: str | None) -> Sequence[Mapping[str, Any]]:  # fmt: skip
        """Ranked rows of ``kind`` for ``period`` (``YYYY-MM`` or ``YYYY-Qn``): ``rank``, ``code``,
        ``name``, ``dept_code``, ``dept_name``, ``score`` (0–100), ``grade``, ``points``,
        ``max_points``, ``blocks``, ``deductions`` (each lost point: block, points, reason,
        ``case_ids``, ``card_ids``, ``complaint_ids``) and ``interview`` (约谈: last two periods in a
        row; departments and windows)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if not has_schema(conn):
            return []
        parsed = Period.parse(period)
        current = self.scores(conn, parsed.label, kind)
        previous = self.scores(conn, parsed.previous().label, kind) if kind in ("department", "window") else None
        return ranking_rows(current, previous, kind, names(conn, kind), names(conn, "department"), dept)

    def report(self, conn: sqlite3.Connection, month: str, dept: str | None) -> Mapping[str, Any] | None:
        """The monthly report ``YYYY-MM`` as data (``hub.reports.data``); None without data."""
        if not has_schema(conn):
            return None
        now = self._now()

        def make(c: sqlite3.Connection) -> dict[str, Any] | None:
            return build_report(c, month, self.config, dept, now)

        result: dict[str, Any] | None = self._cached(conn, ("report", month, dept), make)
        return result


def overview_figures_empty(today: Any) -> dict[str, Any]:
    """The overview before the supervision ever ran."""
    return {"date": today.isoformat(), "accepted_today": 0, "completed_today": 0, "refused_today": 0, "open": 0,
            "overdue": 0, "paused": 0, "on_time_rate": None, "on_time_rate_month": None, "accepted_month": 0,
            "completed_month": 0, "cards_today": 0, "cards_today_by_level": {}, "by_status": {}}
