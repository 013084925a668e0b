"""Jittered exponential backoff, shared by every loop that retries a broker or the store."""

from __future__ import annotations

import random


def backoff_delay(failures: int, base: float = 0.05, cap: float = 5.0) -> float:
    """Seconds to wait after ``failures`` failures in a row: doubling, capped, with jitter."""
    delay: float = min(cap, base * 2.0 ** min(failures, 32))
    return delay * random.uniform(0.5, 1.0)
