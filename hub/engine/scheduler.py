"""The pure core of the time-rule scheduler: the next moment of each subject, in a heap.

Each subject (``"case:C1"``, ``"card:…"``, ``"window:W3"`` …) has at most one next moment — the
earliest moment at which one of its time rules becomes due. :meth:`Scheduler.pop_due` pops only
the subjects whose moment has come (O(k log n) for k due of n scheduled), never rescanning the
rest. Rescheduling a subject leaves its old heap entry behind as *stale* (lazy deletion: the entry
is no longer the subject's current one); the heap is rebuilt when stale entries outnumber live
ones. A subject's current entry is the very tuple in the heap (one object per scheduled subject:
a hub schedules every open case).

The scheduler decides nothing and holds no cards: the caller evaluates the popped subjects and
reschedules them. Firing is idempotent because each potential card has a deterministic key; see
:mod:`hub.engine.rules`.
"""

from __future__ import annotations

import heapq
from datetime import datetime

from hub.engine.localtime import LOCAL_TZ


class Scheduler:
    """Next moment per subject key, with lazy deletion."""

    __slots__ = ("_entries", "_heap", "_seq", "_stale")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._entries: dict[str, tuple[float, int, str]] = {}  # key -> its live heap item
        self._seq = 0
        self._stale = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def set(self, key: str, moment: datetime | None) -> None:
        """Schedule ``key`` at ``moment`` (replacing its previous moment); ``None`` unschedules."""
        old = self._entries.get(key)
        if moment is None:
            if old is not None:
                del self._entries[key]
                self._stale += 1
                self._maybe_compact()
            return
        ts = moment.timestamp()
        if old is not None:
            if old[0] == ts:
                return
            self._stale += 1
        self._seq += 1
        item = self._entries[key] = (ts, self._seq, key)
        heapq.heappush(self._heap, item)
        self._maybe_compact()

    def moment_of(self, key: str) -> datetime | None:
        """The moment ``key`` is scheduled at, if any."""
        entry = self._entries.get(key)
        return None if entry is None else datetime.fromtimestamp(entry[0], LOCAL_TZ)

    def timestamp_of(self, key: str) -> float | None:
        """The POSIX timestamp ``key`` is scheduled at, if any (no datetime is built: the engine
        asks this once per event)."""
        entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def pop_due(self, now: datetime, limit: int | None = None) -> list[str]:
        """Remove and return the keys whose moment is at or before ``now`` (earliest first),
        at most ``limit`` of them."""
        t = now.timestamp()
        heap, entries = self._heap, self._entries
        out: list[str] = []
        while heap and heap[0][0] <= t and (limit is None or len(out) < limit):
            item = heapq.heappop(heap)
            key = item[2]
            if entries.get(key) is item:
                del entries[key]
                out.append(key)
            else:
                self._stale -= 1
        return out

    def next_moment(self) -> datetime | None:
        """The earliest scheduled moment (for the adapter's sleep), dropping stale heads."""
        heap, entries = self._heap, self._entries
        while heap:
            item = heap[0]
            if entries.get(item[2]) is item:
                return datetime.fromtimestamp(item[0], LOCAL_TZ)
            heapq.heappop(heap)
            self._stale -= 1
        return None

    def _maybe_compact(self) -> None:
        if self._stale > 1024 and self._stale > 2 * len(self._entries):
            self._heap = list(self._entries.values())
            heapq.heapify(self._heap)
            self._stale = 0
