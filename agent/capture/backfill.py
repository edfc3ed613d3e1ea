"""Reading a backlog as history: all of a window's events in the order the facts happened.

Trigger capture reads each changed row's *current* state, and watermark capture reads table by
table: a backlog (the rows that existed before capture started, changes piled up during an outage)
would otherwise reach the hub table by table — a completed case's ``case.accepted`` and
``case.completed`` long before the 补正 row of another table that paused its clock. So when a
capture finds a backlog it reads a bounded *window* of it (``window`` changes or rows), maps all of
it, and appends the events sorted by their event time (the record ``ts``, when the fact happened),
across every table and source.

A window may be larger than one outbox transaction should be; it is appended in ``chunk``-sized
transactions and **only the last one moves the capture position**. A crash in between repeats the
whole window on restart: the events already appended are recognised by their content (see
:mod:`agent.capture.sink`) and not appended again, the rest follow in time order. Nothing is lost,
nothing doubles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.capture.sink import EventSink
from agent.mapping.engine import Event


@dataclass(frozen=True)
class BackfillSettings:
    """When a capture reads a backlog as one time-ordered window, and how big that window is.

    ``window``: changes (trigger) or rows per source (watermark) read into one window;
    ``lag_s``: pending changes older than this are a backlog even if fewer than a batch;
    ``chunk``: events per outbox transaction while a window is appended (the outbox is locked
    during a transaction: the uplink's sending and heartbeat wait, so keep it short)."""

    window: int = 200_000
    lag_s: float = 60.0
    chunk: int = 2_000

    def __post_init__(self) -> None:
        if self.window < 1 or self.chunk < 1 or self.lag_s < 0:
            raise ValueError("backfill window and chunk must be positive, lag_s not negative")


def event_time(event: Event) -> float:
    """When the fact happened, as a POSIX time (``inf`` when the ts cannot be read: last)."""
    try:
        moment = datetime.fromisoformat(event.ts)
    except (TypeError, ValueError):
        return math.inf
    if moment.tzinfo is None:
        return math.inf  # the mapping always writes an offset; an unknown zone cannot be ordered
    return moment.timestamp()


def in_time_order(events: Sequence[Event]) -> list[Event]:
    """``events`` sorted by event time; events of the same time keep their order (stable)."""
    return sorted(events, key=event_time)


def emit_window(outbox: Any, sink: EventSink, events: Sequence[Event],
                cursors: dict[str, str], chunk: int) -> int:
    """Append ``events`` in time order in transactions of at most ``chunk`` events; the last
    transaction (also when there are no events) sets ``cursors``. Returns how many were appended."""
    ordered = in_time_order(events)
    appended = 0
    starts = list(range(0, len(ordered), chunk)) or [0]
    for i, start in enumerate(starts):
        with outbox.transaction() as tx:
            appended += sink.emit(tx, ordered[start:start + chunk])
            if i == len(starts) - 1:
                for name, value in cursors.items():
                    tx.set_cursor(name, value)
    return appended


class BackfillState:
    """What a capture tells the heartbeat: reading a backlog now, and the outbox position the
    last backlog window ended at (the agent is catching up until the hub acknowledged it)."""

    def __init__(self, outbox: Any, on_start: Callable[[], None] | None = None):
        self.outbox = outbox
        self.on_start = on_start
        self.active = False
        self.upto_seq = 0
        self.windows = 0

    def begin(self) -> None:
        if not self.active:
            self.active = True
            if self.on_start is not None:
                self.on_start()  # e.g. a heartbeat now, before the first record of the window

    def window_done(self) -> None:
        self.windows += 1
        self.upto_seq = max(self.upto_seq, int(self.outbox.head_seq))

    def live(self) -> None:
        self.active = False
