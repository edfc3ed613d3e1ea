"""The pure core of the time-rule scheduler: the next moment of each subject, in buckets per moment.

Each subject (``"case:C1"``, ``"card:…"``, ``"window:W3"`` …) has at most one next moment — the
earliest moment at which one of its time rules becomes due. Subjects due at the same moment share
one *bucket* (most moments are midnights: a million open cases fall due on a few hundred of them),
and a heap holds the distinct moments. :meth:`Scheduler.pop_due` takes whole buckets whose moment
has come (O(k + b log b) for k due subjects in b buckets), never rescanning the rest.

A hub schedules every open case, so a subject costs only its entry in two dictionaries (its key
to its bucket, and the bucket's own entry): no tuple, float or counter per subject, nothing the
cyclic garbage collector has to track or walk when a tick reschedules a thousand cases. A bucket
emptied by rescheduling leaves its moment in the heap (lazy deletion); the heap is rebuilt when
such stale moments outnumber the live ones.

The scheduler decides nothing and holds no cards: the caller evaluates the popped subjects and
reschedules them. Firing is idempotent because each potential card has a deterministic key; see
:mod:`hub.engine.rules`.
"""

from __future__ import annotations

import heapq
from datetime import datetime

from hub.engine.localtime import LOCAL_TZ


class _Bucket:
    """The subjects due at one moment, in the order they were scheduled."""

    __slots__ = ("keys", "ts")

    def __init__(self, ts: float) -> None:
        self.ts = ts
        self.keys: dict[str, None] = {}


class Scheduler:
    """Next moment per subject key, subjects bucketed by moment."""

    __slots__ = ("_at", "_buckets", "_heap")

    def __init__(self) -> None:
        self._at: dict[str, _Bucket] = {}  # key -> the bucket of its moment
        self._buckets: dict[float, _Bucket] = {}  # POSIX timestamp -> its (non-empty) bucket
        self._heap: list[float] = []  # moments with a bucket; some may be stale (bucket gone)

    def __len__(self) -> int:
        return len(self._at)

    def __contains__(self, key: object) -> bool:
        return key in self._at

    def set(self, key: str, moment: datetime | None) -> None:
        """Schedule ``key`` at ``moment`` (replacing its previous moment); ``None`` unschedules."""
        old = self._at.get(key)
        if moment is None:
            if old is not None:
                del self._at[key]
                self._leave(old, key)
            return
        ts = moment.timestamp()
        if old is not None:
            if old.ts == ts:
                return
            self._leave(old, key)
        bucket = self._buckets.get(ts)
        if bucket is None:
            bucket = self._buckets[ts] = _Bucket(ts)
            heapq.heappush(self._heap, ts)
            self._maybe_compact()
        bucket.keys[key] = None
        self._at[key] = bucket

    def _leave(self, bucket: _Bucket, key: str) -> None:
        del bucket.keys[key]
        if not bucket.keys:
            del self._buckets[bucket.ts]  # its moment stays in the heap, stale

    def moment_of(self, key: str) -> datetime | None:
        """The moment ``key`` is scheduled at, if any."""
        bucket = self._at.get(key)
        return None if bucket is None else datetime.fromtimestamp(bucket.ts, LOCAL_TZ)

    def timestamp_of(self, key: str) -> float | None:
        """The POSIX timestamp ``key`` is scheduled at, if any (no datetime is built: the engine
        asks this once per event)."""
        bucket = self._at.get(key)
        return None if bucket is None else bucket.ts

    def pop_due(self, now: datetime, limit: int | None = None) -> list[str]:
        """Remove and return the keys whose moment is at or before ``now`` (earliest first, in
        scheduling order within a moment), at most ``limit`` of them."""
        t = now.timestamp()
        heap, buckets, at = self._heap, self._buckets, self._at
        out: list[str] = []
        while heap and heap[0] <= t and (limit is None or len(out) < limit):
            bucket = buckets.get(heap[0])
            if bucket is None:  # stale: emptied by rescheduling
                heapq.heappop(heap)
                continue
            keys = bucket.keys
            if limit is None or len(keys) <= limit - len(out):
                taken = list(keys)
                del buckets[bucket.ts]
                heapq.heappop(heap)
            else:
                taken = []
                for key in keys:
                    taken.append(key)
                    if len(taken) == limit - len(out):
                        break
                for key in taken:
                    del keys[key]
            for key in taken:
                del at[key]
            out += taken
        return out

    def next_moment(self) -> datetime | None:
        """The earliest scheduled moment (for the adapter's sleep), dropping stale heads."""
        heap, buckets = self._heap, self._buckets
        while heap:
            if heap[0] in buckets:
                return datetime.fromtimestamp(heap[0], LOCAL_TZ)
            heapq.heappop(heap)
        return None

    def _maybe_compact(self) -> None:
        if len(self._heap) > 1024 + 2 * len(self._buckets):
            self._heap = list(self._buckets)
            heapq.heapify(self._heap)
