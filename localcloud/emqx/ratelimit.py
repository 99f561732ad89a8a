"""Per-key call budgets of the Platform API ("60 requests / 60 min"), as sliding windows on the stand-in's clock."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from localcloud.emqx.clock import Clock

HOUR = 3600.0


@dataclass(frozen=True)
class Limit:
    calls: int
    window_seconds: float = HOUR


class RateLimiter:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._calls: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, bucket: str, limit: Limit) -> int | None:
        """Count one call of `key` against `bucket`; None when admitted, else the seconds to wait (Retry-After)."""
        now = self._clock()
        with self._lock:
            calls = self._calls.setdefault((key, bucket), deque())
            while calls and calls[0] <= now - limit.window_seconds:
                calls.popleft()
            if len(calls) >= limit.calls:
                return max(1, math.ceil(calls[0] + limit.window_seconds - now))
            calls.append(now)
            return None
