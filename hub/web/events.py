"""An in-process event bus: the hub's threads publish, SSE clients (and tests) subscribe.

``publish`` never blocks and never raises for a slow reader: each subscriber has a bounded queue;
when it is full the queue is emptied and the reader receives one ``stream.resync`` event telling
the browser to reload its state, instead of silently missing events. The last
``replay`` events are kept so a reconnecting browser (``Last-Event-ID``) gets what it missed.

Event kinds used so far (``data`` is a JSON object):

- ``link.status``      ``{agent_id, online, ...}``        an agent came online or went offline
- ``link.health``      ``{agent_id, rtt_ms, outbox_depth, ...}`` a heartbeat changed link figures
- ``quarantine.added`` ``{agent_id, reason, topic}``        ingest quarantined a message
- ``record.ingested``  ``{agent_id, count}``                a batch was stored
- ``card.raised``      ``{card_id, level, dept_code, case_id, title}``
- ``card.updated``     ``{card_id, state, dept_code}``
- ``case.updated``     ``{case_id, status, dept_code}``
- ``overview.counters`` ``{key: number, ...}``              fresh figures for the overview wall
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

RESYNC = "stream.resync"
_KIND_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._")


@dataclass(frozen=True, slots=True)
class Event:
    """One published event; ``id`` increases by one per publish on a bus."""

    id: int
    kind: str
    data: Mapping[str, Any]
    at: float

    def sse(self) -> str:
        """The Server-Sent Events frame of this event."""
        payload = json.dumps(dict(self.data), ensure_ascii=False, separators=(",", ":"), default=str)
        return f"id: {self.id}\nevent: {self.kind}\ndata: {payload}\n\n"


class BusClosed(Exception):
    """Raised by :meth:`Subscription.get` once the bus is closed."""


class Subscription:
    """One reader's queue. Use as a context manager so it is always removed from the bus."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self._queue: queue.Queue[Event | None] = queue.Queue(maxsize)
        self._resync_due = False
        self._lock = threading.Lock()

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def _offer(self, event: Event) -> None:
        with self._lock:
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                # The reader fell behind: what is queued no longer adds up to a state, so drop it
                # and tell the reader to reload; events from now on are delivered after that.
                self._drain()
                self._resync_due = True
                self._queue.put_nowait(event)

    def _wake(self) -> None:
        with self._lock:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                self._drain()
                self._queue.put_nowait(None)

    def get(self, timeout: float) -> Event | None:
        """The next event, or None after ``timeout`` seconds; :class:`BusClosed` when closed."""
        with self._lock:
            if self._resync_due:
                self._resync_due = False
                return Event(self._bus.last_id, RESYNC, {"reason": "missed events"}, time.time())
        try:
            event = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if event is None:
            self._queue.put_nowait(None)  # keep the marker for any later get()
            raise BusClosed
        return event

    def close(self) -> None:
        """Stop receiving events."""
        self._bus._remove(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Thread-safe publish/subscribe of JSON-serialisable events."""

    def __init__(self, *, queue_size: int = 1000, replay: int = 1000) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._ids = itertools.count(1)
        self._last_id = 0
        self._recent: deque[Event] = deque(maxlen=replay)
        self._queue_size = queue_size
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_id(self) -> int:
        return self._last_id

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, kind: str, data: Mapping[str, Any] | None = None) -> Event | None:
        """Send ``data`` as event ``kind`` to every subscriber; None when the bus is closed.

        ``kind`` is a dotted lower-case word (``card.raised``). ``data`` must be JSON-serialisable;
        it is checked here, so a bad payload fails in the publisher, not in a browser.
        """
        if not kind or not set(kind) <= _KIND_CHARS:
            raise ValueError(f"invalid event kind {kind!r}: use lower-case dotted words")
        payload = dict(data or {})
        json.dumps(payload, default=str)
        with self._lock:
            if self._closed:
                return None
            event = Event(next(self._ids), kind, payload, time.time())
            self._last_id = event.id
            self._recent.append(event)
            # Delivered under the bus lock so every subscriber sees ids in order even when many
            # threads publish at once (_offer never blocks; subscribe() takes the locks in this order).
            for sub in self._subscribers:
                sub._offer(event)
        return event

    def subscribe(self, last_event_id: int | None = None) -> Subscription:
        """A new subscription; with ``last_event_id``, first the kept events after that id."""
        sub = Subscription(self, self._queue_size)
        with self._lock:
            if self._closed:
                sub._wake()
                return sub
            if last_event_id is not None and last_event_id < self._last_id:
                missed = [e for e in self._recent if e.id > last_event_id]
                if len(missed) > self._queue_size or not missed or missed[0].id != last_event_id + 1:
                    sub._resync_due = True  # the gap is no longer in the replay buffer
                else:
                    for event in missed:
                        sub._offer(event)
            self._subscribers.add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def close(self) -> None:
        """End every subscription (their ``get`` raises :class:`BusClosed`); publish becomes a no-op."""
        with self._lock:
            self._closed = True
            targets = list(self._subscribers)
            self._subscribers.clear()
        for sub in targets:
            sub._wake()
