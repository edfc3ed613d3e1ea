"""Rectangles in frame pixels: window regions, queue regions, detections."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Rect:
    """An axis-aligned rectangle ``(x, y, w, h)`` in pixels of the full frame."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        if self.x < 0 or self.y < 0 or self.w <= 0 or self.h <= 0:
            raise ValueError(f"invalid rectangle {self.as_list()}: x, y >= 0 and w, h > 0 required")

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]

    @property
    def area(self) -> int:
        return self.w * self.h

    def fits(self, width: int, height: int) -> bool:
        """True if the rectangle lies inside a ``width`` x ``height`` frame."""
        return self.x + self.w <= width and self.y + self.h <= height

    def scaled(self, factor: float) -> Rect:
        """The same rectangle in a frame resized by ``factor`` (at least 1 pixel wide and high)."""
        return Rect(
            int(self.x * factor),
            int(self.y * factor),
            max(1, round(self.w * factor)),
            max(1, round(self.h * factor)),
        )

    def crop(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """A view of ``image`` inside the rectangle (no copy)."""
        return image[self.y : self.y + self.h, self.x : self.x + self.w]

    def intersection(self, other: Rect) -> int:
        """Area of overlap with ``other``."""
        w = min(self.x + self.w, other.x + other.w) - max(self.x, other.x)
        h = min(self.y + self.h, other.y + other.h) - max(self.y, other.y)
        return max(0, w) * max(0, h)

    def center_in(self, other: Rect) -> bool:
        """True if this rectangle's centre lies inside ``other``."""
        cx = self.x + self.w / 2
        cy = self.y + self.h / 2
        return other.x <= cx < other.x + other.w and other.y <= cy < other.y + other.h
