"""When time rules may fire: the event-time hold, and the heap of case status changes.

**Hold.** A time rule decides from the absence of a record ("not completed by the due date").
While a stream is delivering its backlog (an agent back after an outage, a first import of
history), the record that would prevent a card may still be on its way: ticking at wall-clock time
would raise cards the data contradicts a few seconds later. :class:`Hold` keeps, per stream, the
recording time (``ts``) of the last record processed; a stream *lags* while it keeps delivering
records older than ``lag``. Ticks then run at the oldest lagging stream's time instead of now
(never backwards, and no stream holds the clock longer than ``max_hold``: a source with a wrong
clock cannot stop supervision). A quiet stream holds nothing: an offline department does not
hide its overdue cases.

**Agents catching up.** An agent also *says* when it is reading a backfill or delivering a backlog
(its heartbeat's ``catching_up``). While it does, its streams hold the clock even when they pause
(the agent reads its database between deliveries) and an agent that has not delivered a record yet
stops ticks altogether — its facts may start anywhere in the past. Bounded by ``max_catch_up_s``:
an agent that never finishes cannot stop supervision.

**Status heap.** A case's status changes by itself at midnights (reminder date, the day after the
due dates). :class:`StatusClock` keeps the next such moment per open case in a heap with lazy
deletion, so the service touches only the cases whose moment came — never a rescan.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(slots=True)
class _Stream:
    last_ts: datetime
    last_wall: float
    lagging_since: float | None


class Hold:
    """The event-time hold of the scheduler (see the module docstring)."""

    def __init__(self, lag: timedelta = timedelta(minutes=10), quiet_s: float = 30.0,
                 max_hold_s: float = 600.0, max_catch_up_s: float = 1800.0) -> None:  # fmt: skip
        self.lag = lag
        self.quiet_s = quiet_s
        self.max_hold_s = max_hold_s
        self.max_catch_up_s = max_catch_up_s
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._catching_since: dict[str, float] = {}

    def saw(self, stream: tuple[str, str], ts: datetime, now: datetime, wall: float) -> bool:
        """Note a processed record; True when its stream is catching up (the record is old)."""
        lagging = ts < now - self.lag
        state = self._streams.get(stream)
        if state is None:
            state = self._streams[stream] = _Stream(ts, wall, wall if lagging else None)
        else:
            state.last_ts, state.last_wall = max(state.last_ts, ts), wall
            if not lagging:
                state.lagging_since = None
            elif state.lagging_since is None:
                state.lagging_since = wall
        return lagging

    def catching_up(self, agents: frozenset[str], wall: float) -> frozenset[str]:
        """Note the agents that say they are catching up; returns those that still hold (not
        past ``max_catch_up_s``)."""
        for agent in list(self._catching_since):
            if agent not in agents:
                del self._catching_since[agent]
        for agent in agents:
            self._catching_since.setdefault(agent, wall)
        return frozenset(a for a, since in self._catching_since.items() if wall - since <= self.max_catch_up_s)

    def effective(self, now: datetime, wall: float,
                  catching: frozenset[str] = frozenset()) -> datetime | None:  # fmt: skip
        """The time ticks may run at: now, or the oldest catching-up stream's time; None while an
        agent that says it is catching up has delivered nothing yet (do not tick)."""
        at = now
        seen: set[str] = set()
        for (agent, _stream), state in self._streams.items():
            seen.add(agent)
            if agent in catching:
                at = min(at, state.last_ts)  # said so: hold even while its stream pauses
                continue
            since = state.lagging_since
            if since is None or wall - state.last_wall > self.quiet_s or wall - since > self.max_hold_s:
                continue
            if state.last_ts < now - self.lag:
                at = min(at, state.last_ts)
        if catching - seen:
            return None
        return at

    def holding(self, now: datetime, wall: float, catching: frozenset[str] = frozenset()) -> bool:
        """Whether some stream (or an agent catching up) holds the clock back right now."""
        at = self.effective(now, wall, catching)
        return at is None or at < now


class StatusClock:
    """Next status-change moment per case, in a heap with lazy deletion."""

    __slots__ = ("_heap", "_moments")

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, str]] = []
        self._moments: dict[str, datetime] = {}

    def __len__(self) -> int:
        return len(self._moments)

    def set(self, case_id: str, moment: datetime | None) -> None:
        """Schedule ``case_id`` at ``moment`` (None: nothing scheduled)."""
        if moment is None:
            self._moments.pop(case_id, None)
            return
        if self._moments.get(case_id) == moment:
            return
        self._moments[case_id] = moment
        heapq.heappush(self._heap, (moment, case_id))
        if len(self._heap) > 2 * len(self._moments) + 1024:
            self._heap = [(m, c) for c, m in self._moments.items()]
            heapq.heapify(self._heap)

    def pop_due(self, now: datetime, limit: int = 10_000) -> list[str]:
        """Cases whose moment is at or before ``now`` (removed; the caller reschedules them)."""
        out: list[str] = []
        heap = self._heap
        while heap and heap[0][0] <= now and len(out) < limit:
            moment, case_id = heapq.heappop(heap)
            if self._moments.get(case_id) == moment:
                del self._moments[case_id]
                out.append(case_id)
        return out
