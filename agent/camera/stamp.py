"""A machine-readable timestamp burnt into the top rows of a frame, for latency measurement.

Text is not readable back by a program, so the stamp is a barcode: a black and a white calibration
block, 48 bits of the value (milliseconds), 8 bits of checksum, one block per bit, along the top
edge. Blocks are ``width // 64`` pixels (at least 4) so that a VP8 encoder at the usual bitrates
keeps them readable; the checksum turns a damaged stamp into ``None`` instead of a wrong number.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

VALUE_BITS = 48
CHECK_BITS = 8
BLOCKS = 2 + VALUE_BITS + CHECK_BITS


def block_size(width: int) -> int:
    """The side of one barcode block for frames ``width`` pixels wide."""
    return max(4, width // 64)


def _checksum(value: int) -> int:
    total = 0
    for shift in range(0, VALUE_BITS, 8):
        total = (total * 31 + ((value >> shift) & 0xFF)) & 0xFF
    return total ^ 0x5A


def burn(frame: npt.NDArray[np.uint8], value: int) -> None:
    """Write ``value`` (0 <= value < 2**48) into the top rows of a BGR ``frame``, in place."""
    if not 0 <= value < 1 << VALUE_BITS:
        raise ValueError(f"stamp value {value} is outside 0..2**48-1")
    size = block_size(frame.shape[1])
    if BLOCKS * size > frame.shape[1] or size > frame.shape[0]:
        raise ValueError(f"frame {frame.shape[1]}x{frame.shape[0]} is too small for a stamp")
    bits = [0, 1]
    bits += [(value >> (VALUE_BITS - 1 - i)) & 1 for i in range(VALUE_BITS)]
    check = _checksum(value)
    bits += [(check >> (CHECK_BITS - 1 - i)) & 1 for i in range(CHECK_BITS)]
    for index, bit in enumerate(bits):
        frame[0:size, index * size : (index + 1) * size] = 255 if bit else 0


def read(frame: npt.NDArray[Any]) -> int | None:
    """The value burnt by :func:`burn`, or ``None`` if there is no readable stamp."""
    size = block_size(frame.shape[1])
    if BLOCKS * size > frame.shape[1] or size > frame.shape[0]:
        return None
    gray = frame.mean(axis=2) if frame.ndim == 3 else frame.astype(np.float64)
    lo, hi = size // 4, size - size // 4
    levels = [
        float(gray[lo:hi, i * size + lo : i * size + hi].mean()) for i in range(BLOCKS)
    ]
    black, white = levels[0], levels[1]
    if white - black < 64:
        return None
    middle = (black + white) / 2
    bits = [1 if level > middle else 0 for level in levels[2:]]
    value = 0
    for bit in bits[:VALUE_BITS]:
        value = (value << 1) | bit
    check = 0
    for bit in bits[VALUE_BITS:]:
        check = (check << 1) | bit
    return value if check == _checksum(value) else None
