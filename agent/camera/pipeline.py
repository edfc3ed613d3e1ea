"""One camera end to end: source → watchdog → analytics → events, in one thread of its own.

    pipeline = CameraPipeline(profile, emit, snapshot_dir)
    pipeline.start()
    ... pipeline.status (for the heartbeat), pipeline.latest() (for the video publisher) ...
    pipeline.stop()

The pipeline thread pulls frames from a :class:`~agent.camera.watchdog.WatchedFeed` (whose reader
threads do the blocking reads), hands each frame to the frame listeners (the WebRTC publisher), and
runs the analytics at ``analysis_fps``. An exception in the analytics or in ``emit`` is logged and the
camera goes on: one bad frame must not blind a hall.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.camera.analytics import CameraAnalytics
from agent.camera.config import CameraProfile
from agent.camera.detect import Frame
from agent.camera.events import Emit
from agent.camera.snapshot import SnapshotStore
from agent.camera.source import CaptureSource, FrameSource, SyntheticSource
from agent.camera.synthetic import SceneScript, SyntheticScene, demo_script
from agent.camera.watchdog import FeedStatus, WatchedFeed

log = logging.getLogger(__name__)
Clock = Callable[[], float]
FrameListener = Callable[[Frame, float], None]


def make_source(profile: CameraProfile, *, clock: Clock = time.time) -> FrameSource:
    """The source a profile describes (a new one each call: reconnecting makes a fresh one)."""
    src = profile.source
    if src.kind == "synthetic":
        script = demo_script(src.windows) if src.script == "demo" else SceneScript()
        width, height = profile.size
        scene = SyntheticScene(width, height, src.windows, script, seed=src.seed,
                               clock_text=src.clock_text)
        return SyntheticSource(scene, profile.fps, clock=clock, stamp=src.stamp)
    return CaptureSource(
        src.kind, src.target, fps=profile.fps, loop=src.loop,
        open_timeout_s=src.open_timeout_s, read_timeout_s=src.read_timeout_s,
        transport=src.transport,
    )


class CameraPipeline:
    """Capture, watchdog and analytics of one camera, with ``start`` / ``stop``.

    ``clock`` gives epoch seconds (event times), ``monotonic`` drives the watchdog; both are
    injectable. ``source_factory`` replaces :func:`make_source` (tests use scripted sources).
    """

    def __init__(
        self,
        profile: CameraProfile,
        emit: Emit,
        snapshot_dir: Path,
        *,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
        source_factory: Callable[[], FrameSource] | None = None,
        on_status: Callable[[FeedStatus], None] | None = None,
        analytics: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        self.profile = profile
        self.emit = emit
        self.clock = clock
        self.monotonic = monotonic
        self.snapshots = SnapshotStore(Path(snapshot_dir), profile.jpeg_quality)
        self._factory = source_factory or (lambda: make_source(profile, clock=clock))
        self._on_status = on_status
        self._analytics_enabled = analytics
        self._rng = rng
        self._listeners: list[FrameListener] = []
        self._lock = threading.Lock()
        self._latest: tuple[float, Frame] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._feed: WatchedFeed | None = None
        self.analytics: CameraAnalytics | None = None
        self.frames = 0
        self.analysed = 0
        self.errors = 0

    @property
    def status(self) -> FeedStatus | None:
        """The feed's health (``None`` before ``start``)."""
        return self._feed.status if self._feed is not None else None

    def latest(self) -> tuple[float, Frame] | None:
        """The newest frame and when it arrived (epoch seconds), or ``None``."""
        with self._lock:
            return self._latest

    def add_listener(self, listener: FrameListener) -> None:
        """Call ``listener(frame, at)`` on the pipeline thread for every frame (keep it quick)."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: FrameListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def start(self) -> None:
        """Start the camera thread (once)."""
        if self._thread is not None:
            raise RuntimeError(f"camera {self.profile.camera_id} already started")
        self._feed = WatchedFeed(
            self._factory, self.profile.watchdog, clock=self.monotonic, rng=self._rng,
            on_status=self._status_changed, name=self.profile.camera_id,
        )
        if self._analytics_enabled:
            self.analytics = CameraAnalytics(self.profile, self.emit, self.snapshots,
                                             start=self.clock())
        self._thread = threading.Thread(
            target=self._run, name=f"camera:{self.profile.camera_id}", daemon=True
        )
        self._thread.start()

    def _status_changed(self, status: FeedStatus) -> None:
        log.info("camera %s feed %s: %s", self.profile.camera_id, status.state.value, status.reason)
        if self._on_status is not None:
            self._on_status(status)

    def _run(self) -> None:
        assert self._feed is not None
        period = 1.0 / self.profile.analysis_fps
        next_analysis = 0.0
        while not self._stop.is_set():
            try:
                got = self._feed.next_frame(timeout=0.1)
            except Exception:
                self.errors += 1
                log.exception("camera %s: watchdog failure", self.profile.camera_id)
                self._stop.wait(0.5)
                continue
            if got is None:
                continue
            at = self.clock()
            self.frames += 1
            with self._lock:
                self._latest = (at, got.frame)
                listeners = list(self._listeners)
            for listener in listeners:
                try:
                    listener(got.frame, at)
                except Exception:
                    self.errors += 1
                    log.exception("camera %s: frame listener failed", self.profile.camera_id)
            now = self.monotonic()
            if self.analytics is not None and now >= next_analysis:
                next_analysis = max(next_analysis + period, now - period)
                try:
                    self.analytics.process(got.frame, at)
                    self.analysed += 1
                except Exception:
                    self.errors += 1
                    log.exception("camera %s: analytics failed", self.profile.camera_id)

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the camera thread and its readers; True if every thread ended within ``timeout``."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        ended = True
        if self._thread is not None:
            self._thread.join(timeout)
            ended = not self._thread.is_alive()
        if self._feed is not None and ended:  # the feed is the pipeline thread's: close it after
            ended = self._feed.close(max(0.0, deadline - time.monotonic()))
        return ended
