"""The clock seam of the EMQX stand-in: rate-limit windows, record timestamps and life-cycle waits read it.

A base clock is any callable returning epoch seconds (`time.time`, or a test's manual clock). The stand-in
wraps it in `AdjustableClock`, which the control API (`POST /localcloud/clock`) moves forward, so that a
60-per-hour limit or a minute-long life-cycle step is crossed without waiting.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

Clock = Callable[[], float]

# How often a waiting task re-reads the clock, in real seconds: small enough that an advance is seen at once.
_TICK = 0.02


class AdjustableClock:
    """A base clock plus an offset that only grows; safe to read and advance from any thread."""

    def __init__(self, base: Clock) -> None:
        self._base = base
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._base() + self._offset

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds

    async def sleep(self, seconds: float) -> None:
        """Wait until `seconds` have passed on this clock (real time, advances, or both)."""
        deadline = self() + seconds
        # Polled, not an Event: the base clock may be moved by another thread, or not be real time at all.
        while (remaining := deadline - self()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(remaining, _TICK))
