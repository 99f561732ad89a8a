"""Timer triggers on a scaled clock (an every-second schedule fires every 50 ms) and through the admin API."""

from __future__ import annotations

import itertools
import logging
import time
from datetime import datetime

import httpx
import pytest

from localcloud.functions_host import HostKeys, ScaledClock
from tests.localcloud.functions_host.sample_app import RECORDER
from tests.localcloud.functions_host.support import StartHost, wait_for

EVERY_SECOND = "* * * * * *"


def test_a_timer_fires_on_the_schedule_its_app_setting_names(start_host: StartHost) -> None:
    with start_host({"TICK_SCHEDULE": EVERY_SECOND}, clock=ScaledClock(speed=20)):
        wait_for(lambda: len(RECORDER.ticks) >= 3)
    assert RECORDER.ticks[0].past_due is False
    # a sub-minute schedule keeps no schedule status, as in the host
    assert RECORDER.ticks[0].schedule_status == {}


def test_runs_of_a_slow_timer_never_overlap_and_late_ones_are_past_due(start_host: StartHost) -> None:
    RECORDER.tick_seconds = 0.12  # 2.4 s of the scaled clock: each run overruns the next two occurrences
    started = time.monotonic()
    with start_host({"TICK_SCHEDULE": EVERY_SECOND}, clock=ScaledClock(speed=20)):
        wait_for(lambda: len(RECORDER.ticks) >= 4)
    elapsed = time.monotonic() - started
    runs = list(RECORDER.ticks)
    for earlier, later in itertools.pairwise(runs):
        assert later.started >= earlier.ended
    assert runs[0].past_due is False
    assert all(run.past_due for run in runs[1:])
    # occurrences missed during a run are deferred once, not queued up
    assert len(runs) <= elapsed / RECORDER.tick_seconds + 1


def test_a_monitored_schedule_passes_its_status(start_host: StartHost) -> None:
    with start_host({"TICK_SCHEDULE": "0 * * * * *"}, clock=ScaledClock(speed=600)):
        wait_for(lambda: len(RECORDER.ticks) >= 2)
    first, second = RECORDER.ticks[:2]
    assert first.schedule_status["Last"] == "0001-01-01T00:00:00"  # nothing has run yet
    last, upcoming = (datetime.fromisoformat(second.schedule_status[key]) for key in ("Last", "Next"))
    assert upcoming > last
    assert (upcoming.second, upcoming.microsecond) == (0, 0)


def test_run_on_startup_runs_once_when_the_host_starts(start_host: StartHost) -> None:
    with start_host():
        wait_for(lambda: RECORDER.warmups == 1)
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
        wait_for(lambda: len(RECORDER.ticks) == 1)
    assert RECORDER.ticks[0].past_due is False
    assert any(r.getMessage().startswith("Executed 'Functions.tick' (Succeeded") for r in caplog.records)
