"""The delay before the next attempt of a failed delivery (pure).

Exponential: ``base_s · 2^(attempts-1)``, capped at ``max_s``, spread by ±20 % so that many
messages failing together (the mail server was down) do not all come back in the same second.
"""

from __future__ import annotations

import random
from collections.abc import Callable

JITTER = 0.2


def retry_delay(attempts: int, base_s: float, max_s: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (``attempts`` ≥ 1)."""
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    raw = min(max_s, base_s * 2.0 ** min(attempts - 1, 60))
    spread = 1.0 + JITTER * (2.0 * rand() - 1.0)
    return min(max_s, raw * spread)
