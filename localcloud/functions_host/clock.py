"""Time for the timer triggers, behind a seam so tests can run schedules faster than real time.

`SystemClock` is wall-clock UTC. `ScaledClock(speed)` starts at the real time and runs `speed` times faster:
an every-second schedule fires every 50 ms at speed 20. Function durations are never scaled.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sleep_until(self, moment: datetime) -> None:
        """Return once `now()` has reached `moment`."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, moment: datetime) -> None:
        # asyncio may wake a little early (timer resolution), so check again rather than trust one sleep.
        while (remaining := (moment - self.now()).total_seconds()) > 0:  # noqa: ASYNC110 - waits for a time
            await asyncio.sleep(remaining)


class ScaledClock:
    """Virtual time that starts at `origin` (default: now) and advances `speed` times faster than real time."""

    def __init__(self, speed: float, origin: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin = origin or datetime.now(UTC)
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=(time.monotonic() - self._started) * self.speed)

    async def sleep_until(self, moment: datetime) -> None:
        while (remaining := (moment - self.now()).total_seconds()) > 0:  # noqa: ASYNC110 - waits for a time
            await asyncio.sleep(remaining / self.speed)
