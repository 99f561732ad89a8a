"""Time, behind one seam: the wall clock, the monotonic clock and sleeping, and the one back-off every loop that
waits for something uses. Tests pass their own `Clock` to `shared.services.build_services`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts: `first`, then each one `factor` times longer, at most `longest` seconds."""

    first: float
    factor: float = 2.0
    longest: float = 5.0


async def retry_until(
    clock: Clock,
    attempt: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    until: float,
    backoff: Backoff,
    first: T | None = None,
) -> T:
    """Make `attempt` until `done(result)`, or until the next wait would end past `until` (on `clock.monotonic()`);
    returns the last result, done or not, for the caller to judge. With `first`, that is the first result (a
    write's own answer, say) and the first attempt comes after the first wait."""
    delay = backoff.first
    result = await attempt() if first is None else first
    while not done(result) and clock.monotonic() + delay <= until:
        await clock.sleep(delay)
        delay = min(delay * backoff.factor, backoff.longest)
        result = await attempt()
    return result


__all__ = ["Backoff", "Clock", "SystemClock", "retry_until"]
