"""Sources: a real video file through cv2.VideoCapture, failures, the reader thread."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from agent.camera.source import CaptureSource, FrameReader, SourceError, SyntheticSource, redact
from agent.camera.synthetic import SyntheticScene


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "hall.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (320, 240))
    assert writer.isOpened()
    scene = SyntheticScene(320, 240, windows=2)
    for k in range(6):
        writer.write(scene.render(k / 15))
    writer.release()
    return path


def test_file_source_reads_paced_and_loops(clip: Path) -> None:
    source = CaptureSource("file", str(clip), fps=100, loop=True)
    source.open()
    try:
        frames = [source.read() for _ in range(15)]  # more than the 6 frames of the file
    finally:
        source.close()
    assert all(f is not None and f.shape == (240, 320, 3) for f in frames)


def test_file_source_without_loop_ends(clip: Path) -> None:
    source = CaptureSource("file", str(clip), fps=100, loop=False)
    source.open()
    try:
        frames = [source.read() for _ in range(8)]
    finally:
        source.close()
    assert frames[5] is not None and frames[6] is None


def test_unopenable_sources(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot open file:"):
        CaptureSource("file", str(tmp_path / "missing.mp4")).open()
    source = CaptureSource("rtsp", "rtsp://admin:secret@127.0.0.1:9/none", open_timeout_s=1.0)
    assert "secret" not in source.name
    with pytest.raises(SourceError, match=r"cannot open rtsp:rtsp://admin:\*\*\*@127\.0\.0\.1:9/none"):
        source.open()


def test_redact() -> None:
    assert redact("rtsp://u:p@h/x") == "rtsp://u:***@h/x"
    assert redact("rtsp://h:554/x") == "rtsp://h:554/x"


class Stuck:
    """A source whose read blocks until the test lets it go, ignoring interrupt()."""

    name = "stuck"

    def __init__(self) -> None:
        self.go = threading.Event()
        self.closed = False

    def open(self) -> None:
        pass

    def read(self) -> npt.NDArray[np.uint8] | None:
        self.go.wait(10)
        return None

    def interrupt(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_a_stuck_read_never_blocks_the_caller() -> None:
    source = Stuck()
    reader = FrameReader(source).start()
    assert reader.wait_frame(0, 0.2) is None  # returns on time although read() hangs
    assert not reader.stop(timeout=0.1)  # still stuck in the "driver": left as a daemon
    source.go.set()
    reader._thread.join(2)
    assert not reader.alive and source.closed  # and it cleans up once the driver returns


def test_reader_reports_open_failures_and_delivers_latest() -> None:
    class Broken(Stuck):
        def open(self) -> None:
            raise SourceError("connection refused")

    reader = FrameReader(Broken()).start()
    reader.wait_frame(0, 1.0)
    assert reader.phase == "failed" and reader.error == "open failed: connection refused"
    assert reader.stop()

    synthetic = SyntheticSource(SyntheticScene(), fps=30)
    reader = FrameReader(synthetic).start()
    try:
        first = reader.wait_frame(0, 2.0)
        assert first is not None and reader.phase == "open"
        second = reader.wait_frame(first.seq, 2.0)
        assert second is not None and second.seq > first.seq
    finally:
        assert reader.stop()
