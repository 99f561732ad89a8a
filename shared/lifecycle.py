"""Entry points of the life cycle, one per trigger; each returns what its adapter in functions/ answers.

put_link       PUT /api/links/{name}            desired state; provisions LB + PLS
register_link  POST /api/links/{name}/register  PLS restricted to EMQX; alias handed over
delete_link    DELETE /api/links/{name}         pre-checks, EMQX side first, then Azure
test_link      POST /api/links/{name}/test      the Redis test, now
handle_event   Event Grid                       a hint: re-read the PLS, decide its connections
run_monitor    timer                            every link, bounded concurrency

The read-only entry points (GET one link, list links) are in `shared.queries`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from shared.answers import Answer, link_view
from shared.approvals import decide_connections
from shared.arm_reading import owner_of
from shared.clock import Backoff, retry_until
from shared.errors import (
    AppError,
    ConflictError,
    InvalidRequestError,
    LinkBusyError,
    LinkGoneError,
    NotFoundError,
    PreconditionFailedError,
    TemporaryError,
    replacement_required,
)
from shared.link_trust import link_trust_problems
from shared.model import AuditRecord, Link, LinkSpec, Phase, compare_specs, parse_link_spec
from shared.names import ResourceId, check_link_name
from shared.observation import run_redis_test
from shared.provisioning import check_references
from shared.reconcile import reconcile
from shared.registration import register, registration_answer
from shared.removal import begin_removal, remove
from shared.retention import Pruned, prune
from shared.run import Run, Services, plan_json
from shared.run_frame import accepted, check_usable, new_run, open_run, save
from shared.settings import RegistrationMode
from shared.sightings import Sightings
from shared.telemetry import APP_LOGGER

log = logging.getLogger(APP_LOGGER)

APPROVAL_WAIT_SECONDS = 30.0
# How often a PUT re-reads a link whose status the app rewrote between the PUT's read and its write.
STATUS_WRITE_RETRIES = 5


async def put_link(
    services: Services, name: str, body: Any, *, dry_run: bool = False, allow_replace: bool = False
) -> Answer:
    current, link = await _desired_link(services, name, body, allow_replace=allow_replace)
    if dry_run:
        return await _plan_put(services, link)
    link = await _store_desired_link(services, current, link)
    try:
        async with open_run(services, name, "PUT") as frame:
            await reconcile(
                frame.run, full_check=True, sightings=Sightings.single(services), allow_replace=allow_replace
            )
    except LinkBusyError:
        return accepted(link, "Another run is working on this link; it carries on with this desired state.")
    except LinkGoneError:
        raise ConflictError(f"Link {name} was deleted meanwhile.", code="LinkBeingDeleted") from None
    return frame.accepted() or Answer(201 if current is None else 200, link_view(frame.link))


async def _desired_link(services: Services, name: str, body: Any, *, allow_replace: bool) -> tuple[Link | None, Link]:
    """The stored link (None if new) and the link with the desired state of `body`, once every check passed."""
    spec = parse_link_spec(name, body)
    untrusted = link_trust_problems(spec, services.settings)
    if untrusted:
        raise InvalidRequestError.from_problems(untrusted, "The link")
    try:
        current: Link | None = await services.store.get_link(name)
    except NotFoundError:
        current = None
    if current is not None:
        if current.status.phase.being_deleted:
            raise ConflictError(f"Link {name} is being deleted; PUT it again once it is gone.", code="LinkBeingDeleted")
        change = compare_specs(current.spec, spec)
        if change.replaces_private_link_service and not allow_replace:
            raise replacement_required(", ".join(change.replacing_fields), change.replacing_fields[0])
    link = current.with_spec(spec) if current is not None else Link(spec=spec)
    await check_references(new_run(services, link, "PUT (checks)"))
    return current, link


async def _plan_put(services: Services, link: Link) -> Answer:
    run = new_run(services, link, "PUT (dry run)", dry_run=True)
    await reconcile(run, full_check=True, sightings=Sightings.single(services), allow_replace=True)
    return Answer(200, {"name": link.name, "dryRun": True, "plan": plan_json(run.plan)})


async def _store_desired_link(services: Services, current: Link | None, link: Link) -> Link:
    store = services.store
    try:
        stored = await store.create_link(link) if current is None else await _store_spec(services, current, link.spec)
    except (ConflictError, PreconditionFailedError):
        raise ConflictError(
            f"Link {link.name} was changed by another request at the same time; read it and try again.",
            code="ConcurrentUpdate",
        ) from None
    await _audit_private_link_ip(services, current, link.spec)
    return stored


async def register_link(services: Services, name: str) -> Answer:
    check_usable(await services.store.get_link(name), "register")  # at once, before waiting for the lease
    async with open_run(services, name, "register") as frame:
        run = frame.run
        # A link not registered yet is registered by reconcile, as the monitor would; a registered one is checked.
        first_time = run.link.status.phase.before_registration or run.link.status.phase is Phase.REGISTERING
        await _record_registration_intent(run)
        await reconcile(run, full_check=False, sightings=Sightings.single(services))
        answer = registration_answer(run) if first_time else await register(run)
        if services.settings.registration_mode is RegistrationMode.API:
            await _await_connection(run)
    return frame.accepted() or Answer(200, answer | {"link": link_view(frame.link)})


async def _record_registration_intent(run: Run) -> None:
    """Store the wish to register before any work, so that a 202 (or a crash) at any later point is finished by
    the monitor rather than forgotten."""
    status = run.link.status
    if status.phase.before_registration and not status.registration_requested:
        status.registration_requested = True
        await save(run)


async def _store_spec(services: Services, current: Link, spec: LinkSpec) -> Link:
    """Store a new desired state over `current`, raising PreconditionFailedError only when another desired state
    (or a deletion) was stored meanwhile: the app's own status writes (monitor, events) are no conflict."""
    store = services.store
    for _attempt in range(STATUS_WRITE_RETRIES):
        try:
            return await store.update_link(current.with_spec(spec), current.etag or "")
        except PreconditionFailedError:
            try:
                fresh = await store.get_link(current.name)
            except NotFoundError:
                raise PreconditionFailedError(f"Link {current.name} was deleted meanwhile.") from None
            if (fresh.generation, fresh.spec) != (current.generation, current.spec) or fresh.status.phase.being_deleted:
                raise
            current = fresh
    raise PreconditionFailedError(f"Link {current.name} keeps changing under the request.")


async def _audit_private_link_ip(services: Services, current: Link | None, spec: LinkSpec) -> None:
    """The PrivateLink IP a console-mode link reports is where EMQX sends the Redis password: audit each change."""
    before = current.spec.emqx.private_link_ip if current is not None else None
    after = spec.emqx.private_link_ip
    if before == after:
        return
    await services.store.append_audit(
        AuditRecord(
            at=services.clock.now(),
            link=spec.name,
            actor="PUT",
            action="report PrivateLink IP",
            subject="emqx.privateLinkIp",
            decision="changed",
            reason=f"from {before or 'none'} to {after or 'none'}",
        )
    )


async def _await_connection(run: Run) -> None:
    """A short, bounded wait for EMQX's Pending connection, deciding it as soon as it shows up."""
    network, clock = run.services.network, run.services.clock
    wait_until = clock.monotonic() + min(APPROVAL_WAIT_SECONDS, max(run.remaining() - 5, 0))

    async def decided() -> bool:
        pls = await network.get_private_link_service(run.link.spec.private_link_service_id)
        states = await decide_connections(run, pls) if pls is not None else []
        return any(state.status != "Pending" for state in states)

    await retry_until(clock, decided, bool, until=wait_until, backoff=Backoff(0.5, factor=1.5, longest=3.0))


async def delete_link(
    services: Services, name: str, *, force: bool = False, emqx_removed: bool = False, dry_run: bool = False
) -> Answer:
    _check_name(name)
    try:
        async with open_run(services, name, "DELETE", dry_run=dry_run) as frame:
            if await begin_removal(frame.run, force=force):
                await save(frame.run)  # the intent first: a crash from here on leaves a link the next run tears down
            await remove(frame.run, emqx_removed=emqx_removed)
    except LinkGoneError:
        return Answer(204)
    except LinkBusyError:
        return await _delete_while_busy(services, name, dry_run=dry_run)
    if frame.pending is not None and frame.link.status.phase is not Phase.DELETING:
        raise frame.pending
    if dry_run and frame.pending is None:
        return Answer(200, {"name": name, "dryRun": True, "plan": plan_json(frame.run.plan)})
    return frame.accepted() or Answer(204)


def _check_name(name: str) -> None:
    try:
        check_link_name(name)
    except ValueError as problem:
        raise InvalidRequestError.from_problems([("name", str(problem))], "The link") from None


async def _delete_while_busy(services: Services, name: str, *, dry_run: bool) -> Answer:
    """Another run holds the link: 202 when that is its teardown, else busy."""
    try:
        link = await services.store.get_link(name)
    except NotFoundError:
        return Answer(204)
    if dry_run or link.status.phase is not Phase.DELETING:
        raise LinkBusyError(name)
    return accepted(link, "The teardown is under way.")


async def test_link(services: Services, name: str) -> Answer:
    async with open_run(services, name, "test") as frame:
        result = await run_redis_test(frame.run)
    return Answer(200, {"result": result.model_dump(mode="json", by_alias=True), "link": link_view(frame.link)})


ACCEPTED_EVENTS = frozenset(
    {
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Resources.ResourceDeleteSuccess",
        "Microsoft.Resources.ResourceActionSuccess",
        "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
    }
)


def _private_link_service_of(event_type: str, subject: str, data: dict[str, Any]) -> ResourceId | None:
    if event_type == "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated":
        subject = str((data.get("resourceInfo") or {}).get("id", subject))
    try:
        resource = ResourceId.parse(subject)
    except ValueError:
        return None
    if resource.namespace.lower() != "microsoft.network" or resource.types[0].lower() != "privatelinkservices":
        return None
    return ResourceId(
        resource.subscription_id, resource.resource_group, resource.namespace, resource.types[:1], resource.names[:1]
    )


async def _managed_link(services: Services, pls_id: ResourceId) -> tuple[Link, dict[str, Any]] | str:
    """The link owning the PLS, with the PLS as ARM has it now; else why the event is ignored."""
    pls = await services.network.get_private_link_service(pls_id)
    link_name = owner_of(pls) if pls is not None else None
    if pls is None or link_name is None:
        return "ignored: the private link service is not managed by this app"
    try:
        link = await services.store.get_link(link_name)
    except NotFoundError:
        return "ignored: no link owns this private link service"
    if link.spec.private_link_service_id != pls_id:
        return "ignored: the private link service is not the one its link names"
    return link, pls


async def handle_event(services: Services, event_id: str, event_type: str, subject: str, data: dict[str, Any]) -> str:
    """Decide the connections of the PLS an event names; returns what was done (for the log).

    Raises TemporaryError (so Event Grid retries) only when Azure or storage failed for now; any other failure
    is logged and the delivery succeeds, since a retry would fail the same way.
    """
    if event_type not in ACCEPTED_EVENTS:
        return "ignored: not an event this app handles"
    pls_id = _private_link_service_of(event_type, subject, data)
    if pls_id is None:
        return "ignored: not about a private link service"
    if not await services.store.claim_event(event_id, services.clock.now()):
        return "ignored: already handled"
    try:
        return await _decide_for_event(services, event_id, pls_id)
    except TemporaryError:
        await services.store.release_event(event_id)
        raise
    except AppError as error:
        # A retried delivery would fail the same way; the monitor's sweep decides once the cause is fixed.
        log.warning("event %s: not decided: %s", event_id, error.message, extra={"step": "approve"})
        return f"not decided: {error.message}"


async def _decide_for_event(services: Services, event_id: str, pls_id: ResourceId) -> str:
    found = await _managed_link(services, pls_id)
    if isinstance(found, str):
        return found
    link, pls = found
    async with open_run(services, link.name, "event", actor=f"event {event_id}") as frame:
        # Read again under the lease: the run this one waited for may have decided already.
        await decide_connections(frame.run, await services.network.get_private_link_service(pls_id) or pls)
    return f"decided the connections of link {link.name}"


@dataclass
class MonitorReport:
    checked: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    pruned: Pruned = field(default_factory=Pruned)

    @property
    def failed(self) -> bool:
        return bool(self.errors)


async def run_monitor(services: Services) -> MonitorReport:
    """Reconcile every link with bounded concurrency; one link's failure never stops the others."""
    report = MonitorReport()
    sightings = Sightings.listed(services)
    limit = asyncio.Semaphore(services.settings.monitor_concurrency)

    async def check(link: Link) -> None:
        async with limit:
            await _monitor_one(services, link.name, sightings, report)

    token: str | None = None
    while True:
        links, token = await services.store.list_links(100, token)
        await sightings.learn_holds(links)
        await asyncio.gather(*(check(link) for link in links))
        if token is None:
            break
    report.pruned = await prune(services)
    return report


async def _monitor_one(services: Services, name: str, sightings: Sightings, report: MonitorReport) -> None:
    try:
        async with open_run(services, name, "monitor") as frame:
            await reconcile(frame.run, full_check=False, sightings=sightings)
    except LinkBusyError:
        report.skipped[name] = "another run is working on it"
        return
    except LinkGoneError:
        return
    except AppError as error:
        report.errors[name] = error.message
        log.warning("link %s: monitor failed: %s", name, error.message, extra={"link": name})
    except Exception as error:
        report.errors[name] = f"unexpected {type(error).__name__}"
        log.exception("link %s: monitor failed", name, extra={"link": name})
    else:
        if frame.pending is not None:
            report.skipped[name] = frame.pending.message
    report.checked += 1
