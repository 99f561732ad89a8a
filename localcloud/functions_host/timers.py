"""Timer triggers, run the way the host's `TimerListener` runs them.

One loop per timer function waits for the next occurrence on the injected clock, runs the function and only
then computes the following occurrence from the time it fired. So runs of one function never overlap: an
occurrence that comes while a run is still going is deferred, and when the run ends one catch-up run starts
at once (`past_due=True`); further occurrences missed during that same run are dropped, not queued. Runs
that start on time, the `run_on_startup` run and runs requested through the admin API have `past_due=False`.
(The admin API calls the function directly, as the host does, so it is not serialised with scheduled runs.)
The host's own listener sets `IsPastDue` only at startup, when its schedule monitor finds an occurrence missed
while the app was down; a catch-up run after an overrun is reported past due here, so code must not rely on
`past_due` being True or False for correctness.

`schedule_status` (`Last`, `Next`, `LastUpdated`) is filled in when the monitor is on (`use_monitor` not False
and the schedule not sub-minute), as the host does; it lives in memory, so no past-due run at startup.
A failing run is logged and the schedule goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from azure.functions.timer import TimerRequest

from localcloud.functions_host.clock import Clock
from localcloud.functions_host.invocation import InvocationFailedError, Invoker, no_return_value
from localcloud.functions_host.loading import IndexedFunction
from localcloud.functions_host.schedules import is_sub_minute

logger = logging.getLogger("localcloud.functions_host")

_DEFAULT_SCHEDULE = {"AdjustForDST": True}


def timer_request(*, past_due: bool, schedule_status: dict[str, str] | None = None) -> TimerRequest:
    return TimerRequest(past_due=past_due, schedule_status=schedule_status, schedule=dict(_DEFAULT_SCHEDULE))


class TimerRunner:
    def __init__(self, function: IndexedFunction, clock: Clock, invoker: Invoker) -> None:
        assert function.timer is not None
        self.function = function
        self._spec = function.timer
        self._clock = clock
        self._invoker = invoker
        self._task: asyncio.Task[None] | None = None
        self._waiting = False
        self._stopping = False
        self._status: dict[str, str] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"timer-{self.function.name}")

    async def stop(self, grace: float) -> None:
        """Stop scheduling; a run in progress may finish within `grace` seconds before it is cancelled."""
        self._stopping = True
        if self._task is None:
            return
        if self._waiting:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(self._task, grace)

    async def _run(self) -> None:
        schedule = self._spec.schedule
        started = self._clock.now()
        monitored = self._spec.use_monitor and not is_sub_minute(schedule, started)
        next_due = schedule.next_after(started)
        logger.info(
            "Timer '%s' (schedule '%s'): next run at %s",
            self.function.name,
            self._spec.expression,
            next_due.isoformat() if next_due else "never",
        )
        if monitored:
            self._record(last=None, next_due=next_due, now=started)
        if self._spec.run_on_startup:
            await self._fire(past_due=False, monitored=monitored)
        while not self._stopping:
            if next_due is None:
                self._waiting = True
                await asyncio.Event().wait()  # a schedule with no future occurrence: wait to be cancelled
                return
            past_due = self._clock.now() >= next_due
            if not past_due:
                self._waiting = True
                await self._clock.sleep_until(next_due)
                self._waiting = False
            fired_at = self._clock.now()
            await self._fire(past_due=past_due, monitored=monitored)
            # computed from the firing time, after the run: occurrences that passed during the run are not queued
            next_due = schedule.next_after(max(fired_at, next_due))
            if monitored:
                self._record(last=fired_at, next_due=next_due, now=fired_at)

    async def _fire(self, *, past_due: bool, monitored: bool) -> None:
        status = dict(self._status) if monitored and self._status else None
        with contextlib.suppress(InvocationFailedError):  # logged by the invoker; the schedule goes on
            await self._invoker.invoke(
                self.function,
                lambda: timer_request(past_due=past_due, schedule_status=status),
                no_return_value(self.function.name),
            )

    def _record(self, *, last: datetime | None, next_due: datetime | None, now: datetime) -> None:
        never = datetime.min.isoformat()
        self._status = {
            "Last": last.isoformat() if last else never,
            "Next": next_due.isoformat() if next_due else never,
            "LastUpdated": now.isoformat() if last else never,
        }
