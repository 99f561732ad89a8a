"""Timer → monitor every link on `%MONITOR_SCHEDULE%`; the run fails (and says so) if any link errored."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.telemetry import APP_LOGGER

bp = func.Blueprint()
log = logging.getLogger(APP_LOGGER)


class MonitorRunFailedError(RuntimeError):
    pass


@bp.function_name("monitor")
@bp.timer_trigger(arg_name="timer", schedule="%MONITOR_SCHEDULE%", run_on_startup=False, use_monitor=True)
async def monitor(timer: func.TimerRequest) -> None:
    from shared.lifecycle import run_monitor
    from shared.services import services_for_this_process

    report = await run_monitor(services_for_this_process())
    log.info(
        "monitor: %d links checked, %d skipped, %d errored%s",
        report.checked,
        len(report.skipped),
        len(report.errors),
        " (past due)" if timer.past_due else "",
        extra={"step": "monitor"},
    )
    if report.failed:
        raise MonitorRunFailedError(f"{len(report.errors)} link(s) errored: {', '.join(sorted(report.errors))}")
