"""The clock seam: every duration in the ARM stand-in (LROs, token lifetimes, rate-limit windows) reads a clock.

A clock is any callable returning epoch seconds; `time.time` is the real one. `ManualClock` is the one tests move
by hand, so that an LRO's progress is decided by the test, not by how fast the machine is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]


class ManualClock:
    """A clock that only moves when told to; safe to advance from another thread than the server's."""

    def __init__(self, start: float | None = None):
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
