"""The OpenCV detectors: Haar frontal faces, HOG people, and the downscaled gray frame.

These take numpy frames and do no I/O. What they fire on in the synthetic hall (checked by
``tests/camera/test_detect.py``): ``frontalface_default`` finds a clerk facing the camera at gains
0.4–1.3 and nothing on a clerk looking down or an empty booth; the default HOG people detector,
run on the queue region with a replicated border (people touching the region's edge are otherwise
missed) and filtered to SVM weights >= 0.5, counts 0–8 queued people exactly at 640x480. HOG needs
people at least ~100 px tall (its window is 64x128).
"""

from __future__ import annotations

from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt

from agent.camera.geometry import Rect

Frame = npt.NDArray[np.uint8]

_cv2: Any = cv2  # the stubs lack cv2.data and the HOG default detector
DOWNSCALE = 4  # the motion gate works on a frame 1/4 the size in each direction


def to_gray(frame: Frame) -> Frame:
    """A gray copy of a BGR frame (a gray frame is returned as is)."""
    if frame.ndim == 2:
        return frame
    return cast(Frame, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))


def downscale(gray: Frame, factor: int = DOWNSCALE) -> Frame:
    """The gray frame reduced ``factor`` times by area averaging (which also averages out noise)."""
    h, w = gray.shape[:2]
    size = (max(1, w // factor), max(1, h // factor))
    return cast(Frame, cv2.resize(gray, size, interpolation=cv2.INTER_AREA))


class FaceDetector:
    """OpenCV's Haar frontal-face cascade on a region of a gray frame."""

    def __init__(
        self,
        cascade: str = "haarcascade_frontalface_default.xml",
        *,
        min_size: int = 30,
        scale_factor: float = 1.15,
        min_neighbors: int = 4,
    ) -> None:
        path = cascade if "/" in cascade else _cv2.data.haarcascades + cascade
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"cannot load Haar cascade {path} (opencv-python-headless < 5?)")
        self.min_size = min_size
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors

    def faces(self, gray: Frame, region: Rect) -> list[Rect]:
        """Faces inside ``region`` of the full-size gray frame, in frame coordinates."""
        roi = region.crop(gray)
        if roi.shape[0] < self.min_size or roi.shape[1] < self.min_size:
            return []
        found = self._cascade.detectMultiScale(
            roi,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
        )
        return [Rect(region.x + int(x), region.y + int(y), int(w), int(h)) for x, y, w, h in found]


class PeopleDetector:
    """OpenCV's default HOG + linear SVM pedestrian detector, with de-duplication."""

    BORDER_Y = 32
    BORDER_X = 16

    def __init__(self, *, min_weight: float = 0.5, scale: float = 1.05) -> None:
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(_cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.min_weight = min_weight
        self.scale = scale

    def people(self, frame: Frame, region: Rect) -> list[Rect]:
        """People standing inside ``region`` of the frame, in frame coordinates, one box each."""
        roi = region.crop(frame)
        if roi.shape[0] < 64 or roi.shape[1] < 32:
            return []
        padded = cv2.copyMakeBorder(
            roi, self.BORDER_Y, self.BORDER_Y, self.BORDER_X, self.BORDER_X, cv2.BORDER_REPLICATE
        )
        rects, weights = self._hog.detectMultiScale(
            padded, winStride=(8, 8), padding=(8, 8), scale=self.scale
        )
        candidates = sorted(
            zip((tuple(int(v) for v in r) for r in rects), np.ravel(weights).tolist()),
            key=lambda pair: -pair[1],
        )
        kept: list[Rect] = []
        for (x, y, w, h), weight in candidates:
            if weight < self.min_weight:
                continue
            box = Rect(
                max(0, region.x + x - self.BORDER_X), max(0, region.y + y - self.BORDER_Y), w, h
            )
            centre = box.x + box.w / 2
            if any(abs(centre - (k.x + k.w / 2)) < 0.5 * min(box.w, k.w) for k in kept):
                continue  # the same person found again at a neighbouring scale or offset
            kept.append(box)
        return kept
