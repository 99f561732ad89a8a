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
    NotFoundError,
    OperationStillRunningError,
    PreconditionFailedError,
    TemporaryError,
    replacement_required,
)
from shared.link_trust import link_trust_problems
from shared.model import AuditRecord, Link, LinkSpec, Phase, compare_specs, parse_link_spec
from shared.names import ResourceId, check_link_name
from shared.observation import run_redis_test
from shared.provisioning import check_references
from shared.reconcile import PrivateLinkCache, leased, new_run, reconcile, save
from shared.registration import register, registration_answer
from shared.removal import begin_removal, remove
from shared.retention import Pruned, prune
from shared.run import Run, Services, plan_json
from shared.settings import RegistrationMode

log = logging.getLogger("emqx_privatelink")

APPROVAL_WAIT_SECONDS = 30.0
# How long an HTTP call or an event waits for another run on the same link before answering.
BUSY_WAIT_SECONDS = 10.0
RETRY_AFTER_SECONDS = "10"
# How often a PUT re-reads a link whose status the app rewrote between the PUT's read and its write.
STATUS_WRITE_RETRIES = 5


def _accepted(link: Link, message: str) -> Answer:
    body = link_view(link) | {"message": message}
    headers = {"Operation-Location": f"/api/links/{link.name}", "Retry-After": RETRY_AFTER_SECONDS}
    return Answer(202, body, headers)


async def _load(services: Services, name: str) -> Link:
    return await services.store.get_link(name)


async def put_link(
    services: Services, name: str, body: Any, *, dry_run: bool = False, allow_replace: bool = False
) -> Answer:
    spec = parse_link_spec(name, body)
    untrusted = link_trust_problems(spec, services.settings)
    if untrusted:
        raise InvalidRequestError.from_problems(untrusted, "The link")
    store = services.store
    try:
        current: Link | None = await store.get_link(name)
    except NotFoundError:
        current = None
    if current is not None and current.status.phase.being_deleted:
        raise ConflictError(f"Link {name} is being deleted; PUT it again once it is gone.", code="LinkBeingDeleted")
    if current is not None and not allow_replace:
        change = compare_specs(current.spec, spec)
        if change.replaces_private_link_service:
            raise replacement_required(", ".join(change.replacing_fields), change.replacing_fields[0])
    link = current.with_spec(spec) if current is not None else Link(spec=spec)
    await check_references(new_run(services, link, "PUT (checks)"))
    if dry_run:
        run = new_run(services, link, "PUT (dry run)", dry_run=True)
        await reconcile(run, full_check=True, list_private_links=PrivateLinkCache(services), allow_replace=True)
        return Answer(200, {"name": name, "dryRun": True, "plan": plan_json(run.plan)})
    try:
        link = await store.create_link(link) if current is None else await _store_spec(services, current, spec)
    except (ConflictError, PreconditionFailedError):
        raise ConflictError(
            f"Link {name} was changed by another request at the same time; read it and try again.",
            code="ConcurrentUpdate",
        ) from None
    await _audit_private_link_ip(services, current, spec)
    async with leased(services, name, wait_seconds=BUSY_WAIT_SECONDS) as held:
        if not held:
            return _accepted(link, "Another run is working on this link; it carries on with this desired state.")
        try:
            link = await store.get_link(name)  # as the run this one waited for left it (a registration, say)
        except NotFoundError:
            raise ConflictError(f"Link {name} was deleted meanwhile.", code="LinkBeingDeleted") from None
        _refuse_while_deleting(link)
        run = new_run(services, link, "PUT")
        try:
            await reconcile(
                run, full_check=True, list_private_links=PrivateLinkCache(services), allow_replace=allow_replace
            )
        except TemporaryError as pending:
            saved = await save(run) or run.link
            return _accepted(saved, pending.message)
        except AppError:
            await save(run)
            raise
        saved = await save(run) or run.link
    return Answer(201 if current is None else 200, link_view(saved))


async def register_link(services: Services, name: str) -> Answer:
    _refuse_while_deleting(await _load(services, name))
    async with leased(services, name, wait_seconds=BUSY_WAIT_SECONDS) as held:
        if not held:
            raise _busy(name)
        link = await _load(services, name)  # as the run this one waited for left it
        _refuse_while_deleting(link)
        run = new_run(services, link, "register")
        # A link not registered yet is registered by reconcile, as the monitor would; a registered one is checked.
        first_time = link.status.phase.before_registration or link.status.phase is Phase.REGISTERING
        try:
            await _record_registration_intent(run)
            await reconcile(run, full_check=False, list_private_links=PrivateLinkCache(services))
            answer = registration_answer(run) if first_time else await register(run)
            if services.settings.registration_mode is RegistrationMode.API:
                await _await_connection(run)
        except OperationStillRunningError as running:
            saved = await save(run) or run.link
            return _accepted(saved, running.message)
        except AppError:
            await save(run)
            raise
        saved = await save(run) or run.link
    return Answer(200, answer | {"link": link_view(saved)})


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


def _refuse_while_deleting(link: Link) -> None:
    if link.status.phase.being_deleted:
        raise ConflictError(f"Link {link.name} is being deleted.", code="LinkBeingDeleted")


def _busy(name: str) -> TemporaryError:
    return TemporaryError(f"Another run is working on link {name}; try again shortly.", code="LinkBusy", retry_after=5)


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
    try:
        check_link_name(name)
    except ValueError as problem:
        raise InvalidRequestError.from_problems([("name", str(problem))], "The link") from None
    try:
        link = await _load(services, name)
    except NotFoundError:
        return Answer(204)
    async with leased(services, name, wait_seconds=BUSY_WAIT_SECONDS) as held:
        if not held:
            if dry_run or link.status.phase is not Phase.DELETING:
                raise _busy(name)
            return _accepted(link, "The teardown is under way.")
        try:
            link = await _load(services, name)  # as the run this one waited for left it (EMQX's id, say)
        except NotFoundError:
            return Answer(204)
        run = new_run(services, link, "DELETE (dry run)" if dry_run else "DELETE", dry_run=dry_run)
        try:
            if await begin_removal(run, force=force):
                await save(run)  # the intent first: a crash from here on leaves a link the next run tears down
            await remove(run, emqx_removed=emqx_removed)
        except TemporaryError as pending:
            if run.link.status.phase is not Phase.DELETING:
                raise
            saved = await save(run) or run.link
            return _accepted(saved, pending.message)
        except AppError:
            await save(run)
            raise
        if dry_run:
            return Answer(200, {"name": name, "dryRun": True, "plan": plan_json(run.plan)})
        await save(run)
    return Answer(204)


async def test_link(services: Services, name: str) -> Answer:
    link = await _load(services, name)
    run = new_run(services, link, "test")
    result = await run_redis_test(run)
    saved = await save(run) or run.link
    return Answer(200, {"result": result.model_dump(mode="json", by_alias=True), "link": link_view(saved)})


ACCEPTED_EVENTS = frozenset(
    {
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Resources.ResourceDeleteSuccess",
        "Microsoft.Resources.ResourceActionSuccess",
        "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
    }
)
PLS_TYPE = "Microsoft.Network/privateLinkServices"


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
    store = services.store
    if not await store.claim_event(event_id, services.clock.now()):
        return "ignored: already handled"
    try:
        found = await _managed_link(services, pls_id)
        if isinstance(found, str):
            return found
        link, pls = found
        async with leased(services, link.name, wait_seconds=BUSY_WAIT_SECONDS) as held:
            if not held:
                raise _busy(link.name)
            run = new_run(services, await store.get_link(link.name), f"event {event_id}")
            try:
                await decide_connections(run, await services.network.get_private_link_service(pls_id) or pls)
            except AppError:
                await save(run)  # the decisions ARM took before the failure, with their audit records
                raise
            await save(run)
    except TemporaryError:
        await store.release_event(event_id)
        raise
    except AppError as error:
        # A retried delivery would fail the same way; the monitor's sweep decides once the cause is fixed.
        log.warning("event %s: not decided: %s", event_id, error.message, extra={"step": "approve"})
        return f"not decided: {error.message}"
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
    cache = PrivateLinkCache(services)
    limit = asyncio.Semaphore(services.settings.monitor_concurrency)

    async def check(link: Link) -> None:
        async with limit, leased(services, link.name) as held:
            if not held:
                report.skipped[link.name] = "another run is working on it"
                return
            try:
                fresh = await services.store.get_link(link.name)
            except NotFoundError:
                return
            run = new_run(services, fresh, "monitor")
            try:
                await reconcile(run, full_check=False, list_private_links=cache)
            except OperationStillRunningError as running:
                report.skipped[link.name] = running.message
            except TemporaryError as error:
                report.skipped[link.name] = error.message
            except AppError as error:
                report.errors[link.name] = error.message
                log.warning("link %s: monitor failed: %s", link.name, error.message, extra={"link": link.name})
            except Exception as error:
                report.errors[link.name] = f"unexpected {type(error).__name__}"
                log.exception("link %s: monitor failed", link.name, extra={"link": link.name})
            try:
                await save(run)
            except AppError as error:
                report.errors[link.name] = error.message
            report.checked += 1

    token: str | None = None
    while True:
        links, token = await services.store.list_links(100, token)
        await asyncio.gather(*(check(link) for link in links))
        if token is None:
            break
    report.pruned = await prune(services)
    return report
