"""The app's share of Azure Resource Manager's request budget: what ARM says is left, and when it said to wait.

ARM throttles each subscription and principal with a token bucket per kind of operation (Azure docs, "Understand
how Azure Resource Manager throttles requests": reads 250 refilled at 25 a second, writes and deletes 200 at 10 a
second) and reports what is left on every answer in `x-ms-ratelimit-remaining-subscription-reads`, `-writes` and
`-deletes` (and their `-global-` forms); an empty bucket answers 429 with `Retry-After`.

`ArmBudget.policy()` sits in the SDK's pipeline after its retry policy, so it sees every attempt:
- it notes what each answer says is left, per (subscription, kind);
- on a 429 it closes that kind for the subscription until `Retry-After` has passed, in this process and, through
  the store (`hold`), for every other instance, which learns it at the start of its monitor pass (`learn_holds`);
  the SDK's own retry waits the same Retry-After before it tries again;
- while a kind is closed it refuses the call at once (`ArmThrottledError`, 503 with the seconds left) rather than
  send it: no call reaches ARM sooner than ARM said.
The monitor asks `below_floor` before a refresh nothing waits for, and defers it while the subscription's reads are
below the share of the bucket kept for other tools (`ARM_READ_FLOOR_PERCENT`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from math import ceil
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy

from shared.clock import Clock
from shared.errors import AppError, ArmThrottledError, retry_after_delay
from shared.telemetry import APP_LOGGER

log = logging.getLogger(APP_LOGGER)

READ_BUCKET = 250
KINDS = ("reads", "writes", "deletes")
# A count older than this says little: the read bucket refills whole in ten seconds.
FRESH_SECONDS = 10.0
# ARM always sends Retry-After with a 429; without one, this long.
THROTTLED_DEFAULT_SECONDS = 30

Hold = Callable[[str, float], Awaitable[None]]
HeldUntil = Callable[[str], Awaitable[datetime | None]]


def kind_of(method: str) -> str:
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "reads"
    return "deletes" if method == "DELETE" else "writes"


def remaining_of(headers: Any, kind: str) -> int | None:
    """The fewest requests of `kind` ARM says are left, over the subscription and global counts it sent."""
    counts = [
        int(value)
        for name in (
            f"x-ms-ratelimit-remaining-subscription-{kind}",
            f"x-ms-ratelimit-remaining-subscription-global-{kind}",
        )
        if (value := headers.get(name)) is not None and str(value).isdigit()
    ]
    return min(counts) if counts else None


def hold_key(subscription_id: str, kind: str) -> str:
    return f"arm:{subscription_id.lower()}:{kind}"


class ArmBudget:
    def __init__(self, clock: Clock, *, floor_share: float, hold: Hold, held_until: HeldUntil) -> None:
        self._clock = clock
        self._floor = floor_share * READ_BUCKET
        self._hold = hold
        self._held_until = held_until
        self._remaining: dict[tuple[str, str], tuple[int, float]] = {}
        self._closed_until: dict[tuple[str, str], datetime] = {}

    def policy(self, subscription_id: str) -> AsyncHTTPPolicy[Any, Any]:
        """The pipeline policy of the client for `subscription_id`."""
        return _BudgetPolicy(self, subscription_id.lower())

    def below_floor(self, subscription_id: str) -> bool:
        """ARM said recently that fewer reads are left than the floor kept for other tools."""
        seen = self._remaining.get((subscription_id.lower(), "reads"))
        if seen is None:
            return False
        count, at = seen
        return self._clock.monotonic() - at <= FRESH_SECONDS and count < self._floor

    async def learn_holds(self, subscription_ids: Iterable[str]) -> None:
        """Close what another instance was told to wait for (one store read per subscription and kind)."""
        for subscription_id in {s.lower() for s in subscription_ids}:
            for kind in KINDS:
                until = await self._held_until(hold_key(subscription_id, kind))
                if until is not None:
                    self._close(subscription_id, kind, until)

    def check_open(self, subscription_id: str, kind: str) -> None:
        until = self._closed_until.get((subscription_id, kind))
        if until is None:
            return
        left = (until - self._clock.now()).total_seconds()
        if left <= 0:
            del self._closed_until[(subscription_id, kind)]
            return
        raise ArmThrottledError(
            f"Azure Resource Manager throttles this subscription's {kind}; the next one waits {ceil(left)} s.",
            retry_after=ceil(left),
        )

    async def note(self, subscription_id: str, kind: str, status: int, headers: Any) -> None:
        count = remaining_of(headers, kind)
        if count is not None:
            self._remaining[(subscription_id, kind)] = (count, self._clock.monotonic())
        if status != 429:
            return
        seconds = retry_after_delay(headers.get("Retry-After"))
        seconds = THROTTLED_DEFAULT_SECONDS if seconds is None else seconds
        if seconds <= 0:
            return
        self._close(subscription_id, kind, self._clock.now() + timedelta(seconds=seconds))
        try:
            await self._hold(hold_key(subscription_id, kind), seconds)
        except AppError as error:
            # The other instances learn nothing this time (they meet the 429 themselves); this call is ARM's answer.
            log.warning("ARM's wait for %s could not be shared through the store: %s", kind, error.message)

    def _close(self, subscription_id: str, kind: str, until: datetime) -> None:
        current = self._closed_until.get((subscription_id, kind))
        if current is None or until > current:
            self._closed_until[(subscription_id, kind)] = until


class _BudgetPolicy(AsyncHTTPPolicy[Any, Any]):
    def __init__(self, budget: ArmBudget, subscription_id: str) -> None:
        super().__init__()
        self._budget = budget
        self._subscription_id = subscription_id

    async def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        kind = kind_of(request.http_request.method)
        self._budget.check_open(self._subscription_id, kind)
        response = await self.next.send(request)
        http = response.http_response
        await self._budget.note(self._subscription_id, kind, http.status_code, http.headers)
        return response
