"""Waiting for what a test cannot be told about: poll until a condition holds, fail after a timeout.

The one way every suite polls (`eventually`, and `eventually_async` for code on an event loop). A wrapper that gives
a wait its domain meaning (`World.wait_for`, `settle`, ...) calls one of these.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

# What a poll was waiting for: a text, or a function of the last answer (called only when the wait failed).
What = str | Callable[[Any], str]


def _accepted(answer: object) -> bool:
    return bool(answer)


def _timed_out(what: What, timeout: float, answer: Any) -> AssertionError:
    if callable(what):
        return AssertionError(f"timed out after {timeout:g} s waiting for {what(answer)}")
    return AssertionError(f"timed out after {timeout:g} s waiting for {what}; last answer: {answer!r}")


def eventually(
    check: Callable[[], T],
    what: What,
    timeout: float,
    *,
    accept: Callable[[T], object] = _accepted,
    meanwhile: Callable[[], object] | None = None,
    interval: float = 0.1,
) -> T:
    """Call `check` until `accept` holds for its answer (by default: until the answer is truthy); that answer.

    Between two calls: `meanwhile()` when given (what moves things on, e.g. a monitor run), then `interval` seconds
    of sleep. Once `timeout` seconds of real time have passed, an AssertionError names `what` and the last answer.
    An exception from `check` (an assertion about an answer that must never come) ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if accept(answer):
            return answer
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, answer)
        if meanwhile is not None:
            meanwhile()
        time.sleep(interval)


async def eventually_async(
    check: Callable[[], Awaitable[T]],
    what: What,
    timeout: float,  # noqa: ASYNC109 - a deadline over many polls, each answered or failing on its own
    *,
    accept: Callable[[T], object] = _accepted,
    interval: float = 0.1,
) -> T:
    """`eventually` for a coroutine: await `check` until `accept` holds for its answer, sleeping on the loop."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await check()
        if accept(answer):
            return answer
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, answer)
        await asyncio.sleep(interval)
