"""The frame every run on a stored link works in: lease, reload, deletion guard, run, save.

`open_run(services, name, purpose)` is the one way an entry point of `shared.lifecycle` runs against a stored
link. It takes the link's lease (so two runs never race on its Azure resources), reloads the link as the run it
waited for left it, refuses it while it is being deleted where that applies, yields a `RunFrame`, and saves
whatever the run did: when the body succeeds, when it stops for now, and when it fails (so the audit records of
what Azure already did are never lost).

`PURPOSES` is the one table of how each entry point's run ends at the edges:

    purpose   lease wait  refuses a link being deleted  stops for now (202, or skipped by the monitor) on
    PUT       10 s        yes                           TemporaryError
    register  10 s        yes                           OperationStillRunningError
    DELETE    10 s        no                            TemporaryError (DELETE answers 202 once removal began)
    test      10 s        no                            -
    event     10 s        no                            -
    monitor   0 s         no                            TemporaryError (and it alone sees a removed link kept
                                                        for its unpublished LinkDeleted event, to publish it)

Past the wait, `LinkBusyError` (503 LinkBusy); a link deleted during the wait, `LinkGoneError` (404), and so is a
removed link kept until its LinkDeleted event is published, for every purpose but the monitor's (which publishes
it); a link being deleted where refused, 409 LinkBeingDeleted. Any other error is saved with the run and raised.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from shared.answers import Answer, link_view
from shared.clock import Backoff, retry_until
from shared.errors import (
    AppError,
    ConflictError,
    LinkBusyError,
    LinkGoneError,
    NotFoundError,
    OperationStillRunningError,
    PreconditionFailedError,
    TemporaryError,
)
from shared.events import as_cloud_event
from shared.model import Link, Phase
from shared.names import check_link_name
from shared.run import Run, Services
from shared.telemetry import APP_LOGGER

log = logging.getLogger(APP_LOGGER)

# How long an HTTP call or an event waits for another run on the same link before answering.
BUSY_WAIT_SECONDS = 10.0
RETRY_AFTER_SECONDS = "10"
LEASE_FIRST_RETRY_SECONDS = 0.05
LEASE_MAX_RETRY_SECONDS = 0.5
SAVE_ATTEMPTS = 5


@dataclass(frozen=True)
class Purpose:
    lease_wait_seconds: float
    refuses_deletion: bool
    stops_for_now: tuple[type[TemporaryError], ...]
    # Whether it sees a removed link kept until its LinkDeleted event is published (to publish it); others: 404.
    sees_removed: bool = False


PURPOSES = {
    "PUT": Purpose(BUSY_WAIT_SECONDS, refuses_deletion=True, stops_for_now=(TemporaryError,)),
    "register": Purpose(BUSY_WAIT_SECONDS, refuses_deletion=True, stops_for_now=(OperationStillRunningError,)),
    "DELETE": Purpose(BUSY_WAIT_SECONDS, refuses_deletion=False, stops_for_now=(TemporaryError,)),
    "test": Purpose(BUSY_WAIT_SECONDS, refuses_deletion=False, stops_for_now=()),
    "event": Purpose(BUSY_WAIT_SECONDS, refuses_deletion=False, stops_for_now=()),
    "monitor": Purpose(0.0, refuses_deletion=False, stops_for_now=(TemporaryError,), sees_removed=True),
}


@dataclass
class RunFrame:
    run: Run
    link: Link  # as saved once the body is done (as the run left it, when the link is gone)
    pending: TemporaryError | None = None  # why the run stopped for now; the next run carries on

    def accepted(self) -> Answer | None:
        """The 202 of a run that stopped for now, else None."""
        return accepted(self.link, self.pending.message) if self.pending is not None else None


def accepted(link: Link, message: str) -> Answer:
    body = link_view(link) | {"message": message}
    headers = {"Operation-Location": f"/api/links/{link.name}", "Retry-After": RETRY_AFTER_SECONDS}
    return Answer(202, body, headers)


@asynccontextmanager
async def open_run(
    services: Services, name: str, purpose: str, *, actor: str | None = None, dry_run: bool = False
) -> AsyncIterator[RunFrame]:
    """Run on stored link `name` as `PURPOSES[purpose]` says; `actor` (default `purpose`) goes into the audit."""
    rules = PURPOSES[purpose]
    try:
        check_link_name(name)
    except ValueError:
        raise NotFoundError(f"Link {name} does not exist.", target="name") from None  # and never could
    async with leased(services, name, wait_seconds=rules.lease_wait_seconds) as held:
        if not held:
            raise LinkBusyError(name)
        try:
            link = await services.store.get_link(name)  # as the run this one waited for left it
        except NotFoundError as gone:
            raise LinkGoneError(f"Link {name} was deleted meanwhile.", target="name") from gone
        check_usable(link, purpose)
        frame = RunFrame(new_run(services, link, actor or purpose, dry_run=dry_run), link)
        try:
            yield frame
        except rules.stops_for_now as pending:
            frame.pending = pending
        except Exception:
            await save(frame.run)
            await publish_outbox(frame.run)
            raise
        frame.link = await save(frame.run) or frame.run.link
        if await publish_outbox(frame.run):
            frame.link = frame.run.link


def check_usable(link: Link, purpose: str) -> None:
    """What `PURPOSES[purpose]` says of a removed link (404 LinkGoneError) or one being deleted (409)."""
    rules = PURPOSES[purpose]
    if link.status.phase is Phase.DELETED and not rules.sees_removed:
        raise LinkGoneError(f"Link {link.name} was deleted.", target="name")
    if rules.refuses_deletion and link.status.phase.being_deleted:
        raise ConflictError(f"Link {link.name} is being deleted.", code="LinkBeingDeleted")


def new_run(services: Services, link: Link, actor: str, *, dry_run: bool = False) -> Run:
    return Run(services, link, services.clock.monotonic() + services.settings.provision_budget_seconds, actor, dry_run)


async def save(run: Run) -> Link | None:
    """Write the run's audits and the link's status; None when the link was removed meanwhile.

    The status is written with the link's ETag; when someone else wrote in between, it is merged onto the fresh
    record instead of losing either write.
    """
    if run.dry_run:
        return run.link
    services, link = run.services, run.link
    for record in run.audits:
        await services.store.append_audit(record)
    run.audits.clear()
    link.status.updated_at = services.clock.now()
    for _attempt in range(SAVE_ATTEMPTS):
        try:
            # A removed link is kept until its LinkDeleted event is published (the GET routes hide it).
            if link.status.phase is Phase.DELETED and not link.status.outbox:
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


async def publish_outbox(run: Run) -> bool:
    """Publish the saved link's pending events, then save it without them; whether they were published. A failure
    leaves them in the outbox for the next run (logged, never raised: the run's own outcome stands)."""
    publisher, pending = run.services.events, run.link.status.outbox
    if publisher is None or not pending or run.dry_run:
        return False
    name = run.link.name
    try:
        await publisher.publish([as_cloud_event(name, event) for event in pending])
        sent = {event.id for event in pending}
        run.link.status.outbox = [event for event in run.link.status.outbox if event.id not in sent]
        await save(run)
    except AppError as error:
        log.warning(
            "link %s: %d event(s) not published yet: %s",
            name,
            len(pending),
            error.message,
            extra={"link": name, "step": "publish"},
        )
        return False
    return True


def _merge(fresh: Link, ours: Link) -> Link:
    """Our observations onto the fresh record: its desired state wins, and so does a deletion it started."""
    status = ours.status.model_copy(deep=True)
    if fresh.status.phase.being_deleted and not status.phase.being_deleted:
        status.phase = fresh.status.phase
    if fresh.generation != ours.generation:
        status.observed_generation = min(status.observed_generation, fresh.status.observed_generation)
    return fresh.model_copy(update={"status": status})


@asynccontextmanager
async def leased(services: Services, name: str, wait_seconds: float = 0.0) -> AsyncIterator[bool]:
    """Hold link `name` for one run; yields whether it is held.

    Waits up to `wait_seconds` for another run to finish. The lease outlives a crashed holder by at most the
    provisioning budget plus `LEASE_MARGIN_SECONDS`, after which the next run takes over.
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
