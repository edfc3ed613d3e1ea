"""When a history import is done, read from outside the processes (``make demo``, bench/demo.py).

Done means: every agent's last heartbeat says it is not catching up (no capture reads a backlog, its
backlog is acknowledged), no agent's outbox holds a record older than ``wait_s``, the supervision
has consumed every stored record (``sup_state.cursor``) and does not hold its time rules
(``sup_state.holding``, when the service writes it). The figures come from the hub's database, read
only.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

STANDING = "level IN ('yellow', 'red') AND state NOT IN ('appealed', 'withdrawn')"
RETRACTED = ("state = 'withdrawn' AND (SELECT a.action FROM card_actions a WHERE a.card_id = "
             "cards.card_id ORDER BY a.id DESC LIMIT 1) = 'retract'")


@dataclass(frozen=True)
class ImportState:
    """The import's progress at one moment."""

    records: int = 0
    consumed: int = 0
    cases: int = 0
    yellow: int = 0
    red: int = 0
    withdrawn: int = 0
    catching_up: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    holding: bool = False

    @property
    def backlog(self) -> int:
        """Stored records the supervision has not consumed yet."""
        return max(0, self.records - self.consumed)

    def done(self, slack: int = 50) -> bool:
        """Every agent caught up and acknowledged, the supervision consumed (all but ``slack``
        live records) and holds nothing."""
        return (self.records > 0 and not self.catching_up and not self.waiting
                and self.backlog <= slack and not self.holding)

    def line(self, seconds: float) -> str:
        return (f"历史导入完成 / history import done: {self.records} 条记录, {self.cases} 件办件, "
                f"牌 {self.yellow}/{self.red} (撤销 {self.withdrawn}) in {seconds:.0f} s")


def _one(conn: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()) -> int:
    row = conn.execute(sql, params).fetchone()
    return int(row[0] or 0) if row else 0


def outbox_waiting(path: Path, older_than: float) -> bool | None:
    """Whether the outbox at ``path`` holds a record created before ``older_than`` (POSIX time);
    None when it cannot be read yet."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        return _one(conn, "SELECT COUNT(*) FROM outbox WHERE created < ?", (older_than,)) > 0
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def read_import_state(hub_db: Path, outboxes: dict[str, Path], now: float,
                      wait_s: float = 10.0) -> ImportState:
    """The import's state (agent id → its outbox file in ``outboxes``; ``now``: POSIX time)."""
    waiting = sorted(a for a, p in outboxes.items() if outbox_waiting(p, now - wait_s) is not False)
    try:
        conn = sqlite3.connect(f"file:{hub_db}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return ImportState(waiting=waiting, catching_up=sorted(outboxes))
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"records", "agent_link", "sup_state", "cards", "cases"} <= tables:
            return ImportState(waiting=waiting, catching_up=sorted(outboxes))
        health = dict(conn.execute("SELECT agent_id, health_json FROM agent_link").fetchall())
        catching = []
        for agent in outboxes:
            try:
                flag = json.loads(health.get(agent) or "{}").get("catching_up")
            except (ValueError, AttributeError):
                flag = None
            if flag is not False:  # no heartbeat yet, or catching up
                catching.append(agent)
        state = dict(conn.execute("SELECT key, value FROM sup_state").fetchall())
        return ImportState(
            records=_one(conn, "SELECT COALESCE(MAX(id), 0) FROM records"),
            consumed=int(state.get("cursor") or 0),
            cases=_one(conn, "SELECT COUNT(*) FROM cases"),
            yellow=_one(conn, f"SELECT COUNT(*) FROM cards WHERE level = 'yellow' AND {STANDING}"),
            red=_one(conn, f"SELECT COUNT(*) FROM cards WHERE level = 'red' AND {STANDING}"),
            withdrawn=_one(conn, f"SELECT COUNT(*) FROM cards WHERE {RETRACTED}"),
            catching_up=sorted(catching), waiting=waiting,
            holding=str(state.get("holding", "0")) not in ("", "0"),
        )
    except sqlite3.Error:
        return ImportState(waiting=waiting, catching_up=sorted(outboxes))
    finally:
        conn.close()


class ImportWatch:
    """Says the import is done once its state was done at two consecutive looks."""

    def __init__(self, hub_db: Path, outboxes: dict[str, Path], started: float):
        self.hub_db, self.outboxes, self.started = hub_db, outboxes, started
        self._done_at: float | None = None
        self.finished: float | None = None
        self.state = ImportState()

    def look(self, now: float, wall: float) -> bool:
        """Read the state (``now``: a monotonic time, ``wall``: POSIX time); True once done."""
        if self.finished is not None:
            return True
        self.state = read_import_state(self.hub_db, self.outboxes, wall)
        if not self.state.done():
            self._done_at = None
            return False
        if self._done_at is None:
            self._done_at = now
            return False
        self.finished = self._done_at  # done at two looks in a row: it was done at the first
        return True

    @property
    def seconds(self) -> float:
        return 0.0 if self.finished is None else self.finished - self.started
