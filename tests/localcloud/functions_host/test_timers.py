"""Timer triggers on a scaled clock (an every-second schedule fires every 50 ms) and through the admin API."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from azure.functions.timer import TimerRequest

from localcloud.functions_host import HostKeys, ScaledClock
from localcloud.functions_host.invocation import Invoker
from localcloud.functions_host.loading import IndexedFunction, TimerSpec, TriggerKind
from localcloud.functions_host.schedules import parse_schedule
from localcloud.functions_host.timers import TimerRunner
from tests.localcloud.functions_host.sample_app import RECORDER
from tests.localcloud.functions_host.support import POLL_SECONDS, WAIT_SECONDS, StartHost
from tests.waiting import eventually

EVERY_SECOND = "* * * * * *"


def test_a_timer_fires_on_the_schedule_its_app_setting_names(start_host: StartHost) -> None:
    with start_host({"TICK_SCHEDULE": EVERY_SECOND}, clock=ScaledClock(speed=20)):
        eventually(lambda: len(RECORDER.ticks) >= 3, "three ticks", WAIT_SECONDS, interval=POLL_SECONDS)
    assert RECORDER.ticks[0].past_due is False
    # a sub-minute schedule keeps no schedule status, as in the host
    assert RECORDER.ticks[0].schedule_status == {}


def test_runs_of_a_slow_timer_never_overlap_and_late_ones_are_past_due(start_host: StartHost) -> None:
    RECORDER.tick_seconds = 0.12  # 2.4 s of the scaled clock: each run overruns the next two occurrences
    started = time.monotonic()
    with start_host({"TICK_SCHEDULE": EVERY_SECOND}, clock=ScaledClock(speed=20)):
        eventually(lambda: len(RECORDER.ticks) >= 4, "four ticks", WAIT_SECONDS, interval=POLL_SECONDS)
    elapsed = time.monotonic() - started
    runs = list(RECORDER.ticks)
    for earlier, later in itertools.pairwise(runs):
        assert later.started >= earlier.ended
    assert runs[0].past_due is False
    assert all(run.past_due for run in runs[1:])
    # occurrences missed during a run are deferred once, not queued up
    assert len(runs) <= elapsed / RECORDER.tick_seconds + 1


# a local-kind DateTime as Json.NET writes it with the zone UTC: up to 7 fraction digits, no trailing zero
JSON_NET_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,6}[1-9])?\+00:00$")
MIN_VALUE = "0001-01-01T00:00:00+00:00"


def parsed(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_monitored_schedule_passes_last_next_and_last_updated_as_the_host_does(start_host: StartHost) -> None:
    with start_host({"TICK_SCHEDULE": "0 * * * * *"}, clock=ScaledClock(speed=600)):
        eventually(lambda: len(RECORDER.ticks) >= 3, "three ticks", WAIT_SECONDS, interval=POLL_SECONDS)
    first, second, third = RECORDER.ticks[:3]
    for run in (first, second, third):
        assert set(run.schedule_status) == {"Last", "Next", "LastUpdated"}
        assert all(JSON_NET_TIME.match(value) for value in run.schedule_status.values()), run.schedule_status
        assert run.past_due is False
        assert run.schedule == {"AdjustForDST": True}
    # nothing has run yet: DateTime.MinValue, and the occurrence this run is for
    assert first.schedule_status["Last"] == first.schedule_status["LastUpdated"] == MIN_VALUE
    first_due = parsed(first.schedule_status["Next"])
    assert (first_due.second, first_due.microsecond) == (0, 0)
    # then the previous run's start (at or after the occurrence it was for) and the occurrence after that
    for previous, run in ((first, second), (second, third)):
        previous_due = parsed(previous.schedule_status["Next"])
        assert run.schedule_status["LastUpdated"] == run.schedule_status["Last"]
        assert previous_due <= parsed(run.schedule_status["Last"]) < previous_due + timedelta(minutes=1)
        assert parsed(run.schedule_status["Next"]) == previous_due + timedelta(minutes=1)


def test_a_timespan_schedule_does_not_adjust_for_dst_and_keeps_its_status(start_host: StartHost) -> None:
    with start_host({"TICK_SCHEDULE": "00:01:00"}, clock=ScaledClock(speed=600)):
        eventually(lambda: len(RECORDER.ticks) >= 2, "two ticks", WAIT_SECONDS, interval=POLL_SECONDS)
    first, second = RECORDER.ticks[:2]
    assert first.schedule == {"AdjustForDST": False}  # ConstantSchedule
    assert first.schedule_status["Last"] == MIN_VALUE
    assert parsed(second.schedule_status["Next"]) == parsed(second.schedule_status["Last"]) + timedelta(minutes=1)


def test_run_on_startup_records_its_run_in_the_status_of_the_next_one() -> None:
    runs: list[TimerRequest] = []
    two_runs = asyncio.Event()

    async def on_timer(timer: TimerRequest) -> None:
        runs.append(timer)
        if len(runs) == 2:
            two_runs.set()

    function = IndexedFunction(
        name="startup",
        kind=TriggerKind.TIMER,
        user_function=on_timer,
        trigger_parameter="timer",
        wants_context=False,
        is_async=True,
        directory=".",
        timer=TimerSpec("0 * * * * *", parse_schedule("0 * * * * *", {}), run_on_startup=True, use_monitor=True),
    )

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as executor:
            runner = TimerRunner(function, ScaledClock(speed=600), Invoker(executor))
            runner.start()
            await asyncio.wait_for(two_runs.wait(), timeout=5)
            await runner.stop(grace=1)

    asyncio.run(scenario())
    startup, scheduled = runs[:2]
    assert startup.schedule_status["Last"] == MIN_VALUE
    # TimerListener.InvokeJobFunction records the startup run like any other
    startup_ran_at = parsed(scheduled.schedule_status["Last"])
    assert startup_ran_at < parsed(startup.schedule_status["Next"])
    assert scheduled.schedule_status["LastUpdated"] == scheduled.schedule_status["Last"]
    assert scheduled.schedule_status["Next"] == startup.schedule_status["Next"]


def test_run_on_startup_runs_once_when_the_host_starts(start_host: StartHost) -> None:
    with start_host():
        eventually(lambda: RECORDER.warmups == 1, "the start-up run", WAIT_SECONDS, interval=POLL_SECONDS)
    assert RECORDER.warmups == 1


def test_the_admin_api_runs_a_timer_now(
    start_host: StartHost, keys: HostKeys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="localcloud.functions_host")
    with start_host() as server, httpx.Client(base_url=server.base_url) as client:
        master = {"x-functions-key": keys.master_key}
        assert client.post("/admin/functions/tick", json={"input": ""}).status_code == 401
        assert client.post("/admin/functions/tick", params={"code": keys.function_key}, json={}).status_code == 401
        assert client.post("/admin/functions/nope", headers=master, json={"input": ""}).status_code == 404
        assert client.post("/admin/functions/tick", headers=master, content=b"not json").status_code == 400
        answer = client.post("/admin/functions/tick", headers=master, json={"input": ""})
        assert (answer.status_code, answer.content) == (202, b"")
        eventually(lambda: len(RECORDER.ticks) == 1, "the run asked for", WAIT_SECONDS, interval=POLL_SECONDS)
    [run] = RECORDER.ticks
    assert run.past_due is False
    # the status the schedule monitor stored at startup (TimerTriggerBinding.BindAsync reads it):
    # no run yet, LastUpdated the time the listener started, Next the yearly occurrence
    assert run.schedule_status["Last"] == MIN_VALUE
    assert parsed(run.schedule_status["LastUpdated"]) > datetime(2020, 1, 1, tzinfo=UTC)
    upcoming = parsed(run.schedule_status["Next"])
    assert (upcoming.month, upcoming.day, upcoming.hour, upcoming.minute, upcoming.second) == (1, 1, 0, 0, 0)
    assert any(r.getMessage().startswith("Executed 'Functions.tick' (Succeeded") for r in caplog.records)
