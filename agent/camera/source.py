"""Camera sources (RTSP, local device, video file, synthetic) and the reader thread.

A source's ``read()`` may block for as long as the network or the driver likes, so it never runs
on the agent's own threads: a :class:`FrameReader` opens the source and reads it in a daemon thread
of its own and keeps only the latest frame. The watchdog (:mod:`agent.camera.watchdog`) looks at
what the reader delivers and, when the feed is stale or dead, abandons the reader and starts a new
one: a read stuck forever costs one idle daemon thread, never a hung agent. (OpenCV's FFmpeg
backend is also given open and read timeouts, so a stuck RTSP read ends on its own.)
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

import cv2
import numpy as np
import numpy.typing as npt

from agent.camera.synthetic import SyntheticScene
from shared.errors import XiaonengError

Frame = npt.NDArray[np.uint8]
Clock = Callable[[], float]
log = logging.getLogger(__name__)


class SourceError(XiaonengError):
    """A camera source cannot be opened or read."""


class FrameSource(Protocol):
    """What the reader thread drives. ``open``/``read``/``close`` run on the reader thread only;
    ``interrupt`` may be called from any thread to unblock a pending ``read`` where possible."""

    name: str

    def open(self) -> None: ...

    def read(self) -> Frame | None: ...

    def interrupt(self) -> None: ...

    def close(self) -> None: ...


def redact(url: str) -> str:
    """``rtsp://user:secret@host/x`` → ``rtsp://user:***@host/x`` (for logs and status)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


class CaptureSource:
    """A ``cv2.VideoCapture``: an RTSP URL, a local device (index or /dev path) or a video file."""

    def __init__(
        self,
        kind: str,
        target: str,
        *,
        fps: int = 15,
        loop: bool = True,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 2.0,
        transport: str = "tcp",
    ) -> None:
        self.kind = kind
        self.target = target
        self.name = f"{kind}:{redact(target)}"
        self.fps = fps
        self.loop = loop
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.transport = transport
        self._capture: cv2.VideoCapture | None = None
        self._stop = threading.Event()
        self._next_due = 0.0

    def open(self) -> None:
        if self.kind == "rtsp":
            # The FFmpeg backend reads its RTSP options from the environment (process-wide).
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", f"rtsp_transport;{self.transport}")
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000),
            ]
            capture = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params)
        elif self.kind == "device":
            capture = cv2.VideoCapture(int(self.target) if self.target.isdigit() else self.target)
        else:
            capture = cv2.VideoCapture(self.target)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open {self.name}")
        self._capture = capture
        self._next_due = time.monotonic()

    def read(self) -> Frame | None:
        capture = self._capture
        if capture is None:
            return None
        if self.kind == "file":
            # A file reads as fast as the disk allows: pace it to the camera's frame rate.
            delay = self._next_due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return None
            self._next_due = max(self._next_due + 1.0 / self.fps, time.monotonic() - 1.0)
        ok, frame = capture.read()
        if not ok and self.kind == "file" and self.loop and not self._stop.is_set():
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = capture.read()
        return cast(Frame, frame) if ok else None

    def interrupt(self) -> None:
        # Releasing a VideoCapture while another thread reads it is unsafe; the read timeouts
        # end a stuck RTSP read, and the reader thread releases the capture when it returns.
        self._stop.set()

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class SyntheticSource:
    """The synthetic hall, rendered in real time at ``fps`` (``t`` = seconds since ``open``)."""

    def __init__(
        self,
        scene: SyntheticScene,
        fps: int = 15,
        *,
        clock: Clock = time.time,
        stamp: bool = False,
        start_at: float = 0.0,
    ) -> None:
        self.scene = scene
        self.fps = fps
        self.clock = clock
        self.stamp = stamp
        self.start_at = start_at
        self.name = f"synthetic:{scene.windows}-windows"
        self._stop = threading.Event()
        self._opened = 0.0
        self._index = 0

    def open(self) -> None:
        self._opened = self.clock()
        self._index = 0
        self.scene.epoch = self._opened - self.start_at

    def read(self) -> Frame | None:
        due = self._opened + self._index / self.fps
        delay = due - self.clock()
        if delay > 0 and self._stop.wait(delay):
            return None
        if self._stop.is_set():
            return None
        now = self.clock()
        # Skip frames we are late for rather than falling further behind.
        self._index = max(self._index + 1, int((now - self._opened) * self.fps))
        t = self.start_at + now - self._opened
        return self.scene.render(t, stamp_ms=int(now * 1000) if self.stamp else None)

    def interrupt(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._stop.set()


@dataclass(frozen=True, slots=True)
class Delivered:
    """One frame as the reader delivered it: its number in this reader, and when it arrived."""

    seq: int
    at: float
    frame: Frame


class FrameReader:
    """Opens a source and reads it in a daemon thread; the latest frame wins.

    ``phase`` is ``"opening"``, then ``"open"`` (frames flow), and finally ``"failed"`` (``error``
    says why) or ``"stopped"``.
    """

    def __init__(self, source: FrameSource, *, clock: Clock = time.monotonic, name: str = "") -> None:
        self.source = source
        self.clock = clock
        self.phase = "opening"
        self.error: str | None = None
        self._latest: Delivered | None = None
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"camera-reader:{name or source.name}", daemon=True
        )

    def start(self) -> FrameReader:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _set_phase(self, phase: str, error: str | None = None) -> None:
        with self._cond:
            if self.phase in ("failed", "stopped"):
                return
            self.phase, self.error = phase, error
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            try:
                self.source.open()
            except Exception as exc:  # any backend failure is a failed open, reported as such
                self._set_phase("failed", f"open failed: {exc}")
                return
            if self._stopping.is_set():
                return
            self._set_phase("open")
            seq = 0
            while not self._stopping.is_set():
                try:
                    frame = self.source.read()
                except Exception as exc:
                    self._set_phase("failed", f"read error: {exc}")
                    return
                if self._stopping.is_set():
                    return
                if frame is None:
                    self._set_phase("failed", "read failed or stream ended")
                    return
                seq += 1
                with self._cond:
                    self._latest = Delivered(seq, self.clock(), frame)
                    self._cond.notify_all()
        finally:
            self._set_phase("stopped")
            try:
                self.source.close()
            except Exception:  # closing a broken backend must not kill the thread noisily
                log.debug("closing %s failed", self.source.name, exc_info=True)

    def wait_frame(self, after_seq: int, timeout: float) -> Delivered | None:
        """The latest frame if it is newer than ``after_seq``, waiting up to ``timeout`` seconds."""
        with self._cond:
            self._cond.wait_for(
                lambda: (self._latest is not None and self._latest.seq > after_seq)
                or self.phase in ("failed", "stopped"),
                timeout,
            )
            latest = self._latest
        return latest if latest is not None and latest.seq > after_seq else None

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask the thread to end and wait up to ``timeout``; False if it is stuck in the backend
        (it is a daemon thread and ends whenever the backend returns)."""
        self._stopping.set()
        try:
            self.source.interrupt()
        except Exception:
            log.debug("interrupting %s failed", self.source.name, exc_info=True)
        with self._cond:
            self._cond.notify_all()
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()
