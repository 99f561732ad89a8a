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

The argument is the `TimerRequest` the Python library decodes from the JSON the host sends: the host's
`TimerInfo` serialized by Json.NET (Azure/azure-webjobs-sdk-extensions
`src/WebJobs.Extensions/Extensions/Timers/TimerInfo.cs`; Azure/azure-functions-host
`src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs`, `ToRpcDefault`;
Azure/azure-functions-python-library `azure/functions/timer.py`, `TimerRequestConverter.decode`):

- `schedule`: `{"AdjustForDST": true}` for NCRONTAB, `false` for a TimeSpan (`CronSchedule`/`ConstantSchedule`).
- `schedule_status`: `{}` when the schedule monitor is off (`use_monitor=False`, or a schedule the host deems
  too frequent, see `schedules.monitor_disabled_by_frequency`). Otherwise `Last`, `Next`, `LastUpdated` as the
  listener holds them (`src/WebJobs.Extensions/Extensions/Timers/Listener/TimerListener.cs`): before the first
  run `Last` and `LastUpdated` are `DateTime.MinValue` and `Next` the first occurrence; after each run
  (scheduled or `run_on_startup`) `Last` and `LastUpdated` are that run's start (moved up to its scheduled
  time if it fired early) and `Next` the occurrence after it. Times are local-kind `DateTime`s as Json.NET
  writes them with the local zone UTC, e.g. `2024-05-01T12:05:00.0123456+00:00`, `0001-01-01T00:00:00+00:00`
  (JamesNK/Newtonsoft.Json `Src/Newtonsoft.Json/Utilities/DateTimeUtils.cs`, `WriteDateTimeString`).
- A run through the admin API gets the status the monitor has stored, as `TimerTriggerBinding.BindAsync` reads
  it: after a run the same as above; before any, `LastUpdated` is the time the listener started, which
  `ScheduleMonitor.CheckPastDueAsync` records
  (`src/WebJobs.Extensions/Extensions/Timers/Bindings/TimerTriggerBinding.cs`,
  `src/WebJobs.Extensions/Extensions/Timers/Scheduling/ScheduleMonitor.cs`).

The status lives in memory, so there is no past-due run at startup for occurrences missed while down.
A failing run is logged and the schedule goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from azure.functions.timer import TimerRequest

from localcloud.functions_host.clock import Clock
from localcloud.functions_host.invocation import InvocationFailedError, Invoker, no_return_value
from localcloud.functions_host.loading import IndexedFunction
from localcloud.functions_host.schedules import IntervalSchedule, Schedule, monitor_disabled_by_frequency

logger = logging.getLogger("localcloud.functions_host")

# DateTime.MinValue, as the listener's first status holds it: `default(DateTime).ToLocalTime()`
_NEVER = "0001-01-01T00:00:00+00:00"


def json_net_local_time(moment: datetime | None) -> str:
    """A local-kind `DateTime` as Json.NET writes it, the local zone being UTC; None is `DateTime.MinValue`.

    Seconds carry up to seven fraction digits (ticks), trailing zeros dropped, none when whole.
    """
    if moment is None:
        return _NEVER
    utc = moment.astimezone(UTC)
    text = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    if utc.microsecond:
        text += "." + f"{utc.microsecond * 10:07d}".rstrip("0")
    return text + "+00:00"


def schedule_status(last: datetime | None, next_due: datetime | None, updated: datetime | None) -> dict[str, str]:
    # a schedule with no further occurrence: NCrontab answers its end time, DateTime.MaxValue
    upcoming = json_net_local_time(next_due) if next_due else "9999-12-31T23:59:59.9999999+00:00"
    return {"Last": json_net_local_time(last), "Next": upcoming, "LastUpdated": json_net_local_time(updated)}


def timer_request(*, past_due: bool, schedule: Schedule, schedule_status: dict[str, str] | None = None) -> TimerRequest:
    return TimerRequest(
        past_due=past_due,
        schedule_status=dict(schedule_status) if schedule_status else None,
        schedule={"AdjustForDST": not isinstance(schedule, IntervalSchedule)},
    )


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
        self.monitored = self._spec.use_monitor and not monitor_disabled_by_frequency(self._spec.schedule)
        self._status: dict[str, str] | None = None  # the listener's ScheduleStatus
        self._stored: dict[str, str] | None = None  # what the schedule monitor has recorded

    def stored_status(self) -> dict[str, str] | None:
        """The status an admin API run gets: the monitor's record, None when the monitor is off."""
        return dict(self._stored) if self.monitored and self._stored else None

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
        next_due = schedule.next_after(started)
        logger.info(
            "Timer '%s' (schedule '%s'): next run at %s",
            self.function.name,
            self._spec.expression,
            next_due.isoformat() if next_due else "never",
        )
        self._status = schedule_status(None, next_due, None)
        self._stored = schedule_status(None, next_due, started)
        if self._spec.run_on_startup:
            fired_at = self._clock.now()
            await self._fire(past_due=False)
            next_due = self._record(fired_at)
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
            await self._fire(past_due=past_due)
            # from the firing time, moved up to the occurrence if it fired early, as the listener does;
            # occurrences that passed during the run are not queued
            next_due = self._record(max(fired_at, next_due))

    async def _fire(self, *, past_due: bool) -> None:
        status = self._status if self.monitored else None
        with contextlib.suppress(InvocationFailedError):  # logged by the invoker; the schedule goes on
            await self._invoker.invoke(
                self.function,
                lambda: timer_request(past_due=past_due, schedule=self._spec.schedule, schedule_status=status),
                no_return_value(self.function.name),
            )

    def _record(self, invoked_at: datetime) -> datetime | None:
        next_due = self._spec.schedule.next_after(invoked_at)
        self._status = schedule_status(invoked_at, next_due, invoked_at)
        self._stored = dict(self._status)
        return next_due
