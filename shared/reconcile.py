"""The one reconcile step every entry point runs for a link: read, compare, do the next safe action, record.

PUT, register, the Event Grid hint, the timer and DELETE all end up here, so a run cut short anywhere is
finished by whichever comes next. The frame around a run (lease, reload, save) is `shared.run_frame`.
"""

from __future__ import annotations

import logging

from shared.approvals import decide_connections
from shared.errors import AppError, TemporaryError
from shared.events import EventType
from shared.model import LOAD_BALANCER_SCHEMA, Link, Phase, StepOutcome
from shared.observation import observe_emqx, redis_test_due, run_redis_test
from shared.provisioning import provision
from shared.registration import register
from shared.removal import remove
from shared.run import Run
from shared.sightings import Sightings
from shared.telemetry import APP_LOGGER

log = logging.getLogger(APP_LOGGER)


def needs_provisioning(link: Link) -> bool:
    status = link.status
    return (
        status.phase is Phase.PROVISIONING
        or status.observed_generation != link.generation
        or status.load_balancer_schema < LOAD_BALANCER_SCHEMA
    )


async def reconcile(
    run: Run,
    *,
    full_check: bool,
    sightings: Sightings,
    allow_replace: bool = False,
) -> None:
    """Do the next safe actions for `run.link`; raises OperationStillRunningError when the budget runs out.

    `full_check` re-reads every Azure resource (a PUT does, to repair drift); otherwise provisioning runs
    only when the desired state moved on, and a settled link costs one ARM read, its PLS (in the monitor, a share
    of one list per resource group: `shared.sightings`).
    """
    link = run.link
    status = link.status
    if status.phase is Phase.DELETED:
        return  # removed, kept only until its LinkDeleted event is published (`shared.run_frame`)
    if status.phase is Phase.DELETING:
        await remove(run, emqx_removed=False)
        return
    desired_changed = status.observed_generation != link.generation
    if full_check or needs_provisioning(link):
        await provision(run, allow_replace)
    if status.phase is Phase.REGISTERING or (
        status.registration_requested and status.phase in (Phase.PROVISIONED, Phase.FAILED)
    ):
        # A registration cut short (answered 202, or its caller gone) is finished by the next run, as all work is.
        await _finish_registration(run)
    if status.phase.handed_to_emqx or status.phase is Phase.REGISTERING:
        await _observe(run, sightings, desired_changed)
    if not run.dry_run:
        # Recorded only once the whole step went through, so a run cut short is re-checked (and Redis re-tested).
        status.observed_generation = link.generation
        status.message = None  # whatever a refused write said is over


async def _finish_registration(run: Run) -> None:
    try:
        await register(run)
    except TemporaryError:
        raise
    except AppError as error:
        # Refused for good (say, the deployment is gone): recorded once, not retried by every run; a new
        # register call tries again.
        run.link.status.registration_requested = False
        run.step("register", StepOutcome.FAILED, error.message)
        raise


async def _observe(run: Run, sightings: Sightings, desired_changed: bool) -> None:
    if sightings.defers(run):
        log.info(
            "link %s: ARM refresh deferred: the subscription's reads are below the floor kept for other tools",
            run.link.name,
            extra={"link": run.link.name, "step": "defer"},
        )
    else:
        await _observe_private_link_service(run, sightings)
    await observe_emqx(run, sightings.private_links)
    if redis_test_due(run, desired_changed=desired_changed) and not run.dry_run:
        await run_redis_test(run)


async def _observe_private_link_service(run: Run, sightings: Sightings) -> None:
    link, status = run.link, run.link.status
    pls = await sightings.private_link_service(run)
    if pls is None:
        note = f"private link service {link.spec.private_link_service_id.name} was deleted outside this app"
        if note not in status.drift:
            status.drift = [*status.drift, note]
            run.emit(EventType.DRIFT_DETECTED, note)
        status.connections = []
    else:
        await decide_connections(run, pls)
