"""The supervision's writes in a thread of their own, while the engine works on the next records.

A step of the service spends about a third of its time inside SQLite (inserting case rows, their
indexes, timelines, cards). Python's ``sqlite3`` lets go of the interpreter lock while SQLite
works, so a second thread committing the previous chunk's :class:`~hub.supervision.store.Changes`
runs on another core while the service's thread feeds the next chunk to the engine.

- Writes are committed one at a time **in submission order** on the writer's own connection, each
  in one transaction with the cursor it carries, exactly as before: a crash loses or doubles
  nothing (the cursor in the database never runs ahead of the data derived before it).
- At most ``depth`` writes wait; :meth:`Writer.submit` blocks beyond that (memory stays bounded).
- :meth:`Writer.settle` waits until every submitted write has committed. The service settles at
  the end of a step that caught up, before a person's card action, and before anything that reads
  back what it wrote (see ``Feeder.stored_rows``), so after ``step()`` returns with nothing left
  the database holds everything, as before.
- What a write changed (:class:`~hub.supervision.store.Written`) waits in :meth:`Writer.take_done`
  for the service's own thread, which announces it (bus listeners and MQTT are never called from
  the writer thread).
- A write that fails for good (anything but a busy database, which ``write_one`` retries) is
  raised in the service's thread at its next submit or settle; the writes queued behind it are
  dropped (their cursor would skip its records: a restart reads them again from the stored cursor).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime

from hub.supervision.store import Changes, Written

WriteOne = Callable[[sqlite3.Connection, Changes, datetime], Written]


class Writer:
    """One thread committing :class:`Changes` in order on its own connection (see the module)."""

    def __init__(self, conn: sqlite3.Connection, write_one: WriteOne, depth: int = 2) -> None:
        self.conn = conn
        self.depth = max(1, depth)
        self._write_one = write_one
        self._cond = threading.Condition()
        self._jobs: deque[tuple[Changes, datetime]] = deque()
        self._busy = False
        self._closed = False
        self._done: list[tuple[Changes, Written]] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="xn-hub-supervision-writer", daemon=True)
        self._thread.start()

    def submit(self, changes: Changes, now: datetime) -> None:
        """Queue ``changes`` (waiting while ``depth`` writes are queued already)."""
        with self._cond:
            self._raise()
            while len(self._jobs) >= self.depth and self._error is None:
                self._cond.wait()
            self._raise()
            if self._closed:
                raise RuntimeError("the supervision writer is closed")
            self._jobs.append((changes, now))
            self._cond.notify_all()

    def settle(self) -> None:
        """Wait until every submitted write has committed (raises a failed write's error)."""
        with self._cond:
            while (self._jobs or self._busy) and self._error is None:
                self._cond.wait()
            self._raise()

    @property
    def idle(self) -> bool:
        """Nothing queued nor being written."""
        with self._cond:
            return not self._jobs and not self._busy

    def take_done(self) -> list[tuple[Changes, Written]]:
        """The committed writes not yet taken, in commit order."""
        with self._cond:
            done, self._done = self._done, []
        return done

    def close(self, timeout: float = 30.0) -> None:
        """Let the queued writes finish, stop the thread, close the connection."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.conn.close()

    def _raise(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if not self._jobs:
                    return
                changes, now = self._jobs[0]
                self._busy = True
            try:
                written = self._write_one(self.conn, changes, now)
            except BaseException as exc:  # noqa: BLE001 - handed to the service's thread
                with self._cond:
                    self._error = exc
                    self._jobs.clear()
                    self._busy = False
                    self._cond.notify_all()
                continue
            with self._cond:
                self._jobs.popleft()
                self._busy = False
                self._done.append((changes, written))
                self._cond.notify_all()
