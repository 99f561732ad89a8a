"""The one reconcile step every entry point runs for a link: read, compare, do the next safe action, record.

PUT, register, the Event Grid hint, the timer and DELETE all end up here, so a run cut short anywhere is
finished by whichever comes next. `save` writes the observed status back with the link's ETag; when someone
else wrote in between, it merges onto the fresh record instead of losing either write.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.approvals import decide_connections
from shared.clock import Backoff, retry_until
from shared.errors import AppError, NotFoundError, PreconditionFailedError, TemporaryError
from shared.model import LOAD_BALANCER_SCHEMA, Link, Phase, StepOutcome
from shared.observation import ListPrivateLinks, PrivateLinkList, observe_emqx, redis_test_due, run_redis_test
from shared.provisioning import provision
from shared.registration import register
from shared.removal import remove
from shared.run import Run, Services

_AFTER_PROVISIONING = frozenset(
    {Phase.REGISTERING, Phase.AWAITING_CONSOLE, Phase.AWAITING_APPROVAL, Phase.CONNECTING, Phase.RUNNING, Phase.FAILED}
)


def new_run(services: Services, link: Link, actor: str, *, dry_run: bool = False, budget: float | None = None) -> Run:
    seconds = services.settings.provision_budget_seconds if budget is None else budget
    return Run(services, link, services.clock.monotonic() + seconds, actor, dry_run=dry_run)


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
    list_private_links: ListPrivateLinks,
    allow_replace: bool = False,
) -> None:
    """Do the next safe actions for `run.link`; raises OperationStillRunningError when the budget runs out.

    `full_check` re-reads every Azure resource (a PUT does, to repair drift); otherwise provisioning runs
    only when the desired state moved on, and a settled link costs one ARM read: its PLS.
    """
    link = run.link
    status = link.status
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
    if status.phase in _AFTER_PROVISIONING:
        await _observe(run, list_private_links, desired_changed)
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


async def _observe(run: Run, list_private_links: ListPrivateLinks, desired_changed: bool) -> None:
    link, status = run.link, run.link.status
    pls = await run.services.network.get_private_link_service(link.spec.private_link_service_id)
    if pls is None:
        note = f"private link service {link.spec.private_link_service_id.name} was deleted outside this app"
        if note not in status.drift:
            status.drift = [*status.drift, note]
        status.connections = []
    else:
        await decide_connections(run, pls)
    await observe_emqx(run, list_private_links)
    if redis_test_due(run, desired_changed=desired_changed) and not run.dry_run:
        await run_redis_test(run)


async def save(run: Run) -> Link | None:
    """Write the run's audits and the link's status; None when the link was removed meanwhile."""
    if run.dry_run:
        return run.link
    services, link = run.services, run.link
    for record in run.audits:
        await services.store.append_audit(record)
    run.audits.clear()
    link.status.updated_at = services.clock.now()
    for _attempt in range(5):
        try:
            if link.status.phase is Phase.DELETED:
                await services.store.delete_link(link.name, link.etag)
                return None
            saved = await services.store.update_link(link, link.etag or "*")
        except PreconditionFailedError:
            try:
                fresh = await services.store.get_link(link.name)
            except NotFoundError:
                return None
            link = _merge(fresh, link)
            continue
        except NotFoundError:
            return None
        run.link = saved
        return saved
    raise PreconditionFailedError(f"Link {link.name} keeps changing under the app; the next run will record it.")


def _merge(fresh: Link, ours: Link) -> Link:
    """Our observations onto the fresh record: its desired state wins, and so does a deletion it started."""
    status = ours.status.model_copy(deep=True)
    if fresh.status.phase.being_deleted and not status.phase.being_deleted:
        status.phase = fresh.status.phase
    if fresh.generation != ours.generation:
        status.observed_generation = min(status.observed_generation, fresh.status.observed_generation)
    return fresh.model_copy(update={"status": status})


LEASE_FIRST_RETRY_SECONDS = 0.05
LEASE_MAX_RETRY_SECONDS = 0.5


@asynccontextmanager
async def leased(services: Services, name: str, wait_seconds: float = 0.0) -> AsyncIterator[bool]:
    """Hold link `name` for one run (so two runs never race on its Azure resources); yields whether it is held.

    Waits up to `wait_seconds` for another run to finish. The lease outlives a crashed holder by at most the
    provisioning budget plus a margin, after which the next run takes over.
    """
    holder = uuid.uuid4().hex
    seconds = services.settings.provision_budget_seconds + services.settings.lease_margin_seconds
    clock, store = services.clock, services.store
    # Most runs hold a link for a fraction of a second (a monitor pass), so look again soon, then back off.
    held = await retry_until(
        clock,
        lambda: store.try_lease(name, holder, seconds, clock.now()),
        bool,
        until=clock.monotonic() + wait_seconds,
        backoff=Backoff(LEASE_FIRST_RETRY_SECONDS, longest=LEASE_MAX_RETRY_SECONDS),
    )
    try:
        yield held
    finally:
        if held:
            await store.release_lease(name, holder)


class PrivateLinkCache:
    """One Platform API read per deployment per run, shared by every link of that deployment."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._results: dict[str, asyncio.Task[PrivateLinkList]] = {}

    async def __call__(self, deployment_id: str) -> PrivateLinkList:
        task = self._results.get(deployment_id)
        if task is None:
            task = asyncio.ensure_future(self._read(deployment_id))
            self._results[deployment_id] = task
        return await asyncio.shield(task)

    async def _read(self, deployment_id: str) -> PrivateLinkList:
        read_at = self._services.clock.now()
        return PrivateLinkList(await self._services.emqx.list_private_links(deployment_id), read_at)
