"""Tear a link down in the safe order: EMQX's side first, then connections, PLS, NIC references, load balancer.

Pre-checks (unless forced, which is audited): EMQX deletes a PrivateLink only while it is `running`, and not
while a data integration still points at its IP. Only resources carrying this link's ownership tags are
deleted; the user's subnet and NICs only lose the references the link added.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from ipaddress import IPv4Address
from typing import Any

from shared import arm_reading
from shared.approvals import connection_states, decide_connections
from shared.emqx import private_link_id
from shared.errors import ConflictError, InvalidRequestError, WaitingForEmqxError
from shared.link_trust import deployment_api
from shared.model import Phase, StepOutcome
from shared.provisioning import delete_private_link_service, read_when_settled, stale_nic_ids, unbind_nic
from shared.registration import same_alias
from shared.run import PlannedCall, Run
from shared.settings import RegistrationMode, SettingsError

# The states in which EMQX deletes a PrivateLink (the api-mode contract); pending and connecting ones must settle.
REMOVABLE = frozenset({"running", "failed"})
# How long a removal keeps at EMQX (approving its connection, asking it to delete) before it gives up and says so.
TEARDOWN_PATIENCE = timedelta(hours=6)


async def precheck(run: Run) -> None:
    status, spec = run.link.status, run.link.spec.emqx
    # EMQX removes a PrivateLink only once it settled: running, or failed (e.g. its PLS vanished).
    if status.emqx.status not in (None, "running", "failed", "missing"):
        raise ConflictError(
            f"EMQX reports the PrivateLink {status.emqx.status}; EMQX removes a PrivateLink only once it is running. "
            "Repeat with ?force=true to remove it anyway.",
            code="PrivateLinkNotRunning",
        )
    ip: IPv4Address | None = status.emqx.ip or spec.private_link_ip
    if ip is None:
        return
    try:
        api = deployment_api(spec, run.settings)
    except SettingsError as error:
        raise ConflictError(
            f"Cannot check what still uses the PrivateLink: {error}. Repeat with ?force=true to remove it anyway.",
            code="InUseCheckImpossible",
        ) from None
    users = [server for server in await run.services.emqx.servers_in_use(api) if server.split(":")[0] == str(ip)]
    if users:
        raise ConflictError(
            f"EMQX data integrations still use the PrivateLink IP {ip} ({', '.join(sorted(set(users)))}); "
            "remove them first, or repeat with ?force=true.",
            code="PrivateLinkInUse",
        )


async def remove_emqx_side(run: Run, emqx_removed: bool) -> None:
    link = run.link
    # In api mode the app removes EMQX's side itself; the caller's word counts only once the app gave up on EMQX.
    gave_up = link.status.emqx_teardown_stalled
    if run.settings.registration_mode is RegistrationMode.API and not (emqx_removed and gave_up):
        await _remove_emqx_private_links(run)
        return
    if emqx_removed:
        run.audit("remove link", "emqx console", "proceed", "the caller reports EMQX's PrivateLink removed")
        return
    pls_id = link.spec.private_link_service_id
    pls = await run.services.network.get_private_link_service(pls_id)
    emqx_sub = (run.emqx_subscription or "").lower()
    live = [
        state
        for state in connection_states(pls or {})
        if state.private_endpoint_id is not None
        and state.private_endpoint_id.subscription_id.lower() == emqx_sub
        and state.status in ("Approved", "Pending")
    ]
    if live and not run.dry_run:
        raise WaitingForEmqxError(
            "Delete the PrivateLink in the EMQX console first (or repeat with ?emqxRemoved=true once done); "
            "the teardown goes on when EMQX's connection is gone."
        )


async def _our_private_links(run: Run) -> list[dict[str, Any]]:
    """EMQX's PrivateLinks of this link: the one recorded, and any to its PLS alias (created by a run that died
    before it could record the id)."""
    status, network = run.link.status, run.services.network
    alias = status.pls_alias
    if alias is None:
        pls = await network.get_private_link_service(run.link.spec.private_link_service_id)
        alias = arm_reading.alias_of(pls) if pls is not None else None
    records = await run.services.emqx.list_private_links(run.link.spec.emqx.deployment_id)
    return [
        record
        for record in records
        if (status.emqx.id and private_link_id(record) == status.emqx.id) or (alias and same_alias(record, alias))
    ]


async def _remove_emqx_private_links(run: Run) -> None:
    """Delete EMQX's PrivateLinks of the link, waiting (202) while EMQX cannot delete one yet.

    EMQX deletes a PrivateLink only once it has settled, running or failed (the api-mode contract, as the EMQX
    console does). One still pending needs its private endpoint connection approved to get there, so the
    teardown keeps approving EMQX's connection until EMQX can let go. After `TEARDOWN_PATIENCE` of waiting the
    app stops acting on EMQX, audits it, and says what the caller can do.
    """
    status, emqx = run.link.status, run.services.emqx
    deployment_id = run.link.spec.emqx.deployment_id
    if status.emqx_teardown_stalled:
        raise WaitingForEmqxError(_stalled_message(status.emqx.id))
    ours = await _our_private_links(run)
    if not ours:
        status.emqx.id, status.emqx.status = None, None
        return
    waiting_on: list[str] = []
    for record in ours:
        record_id, state = private_link_id(record) or "", str(record.get("status", ""))
        if state not in REMOVABLE:
            waiting_on.append(f"{record_id} is {state or 'in an unknown state'}")
            continue
        try:
            await run.mutate(
                PlannedCall("emqx", "DELETE", f"deployments/{deployment_id}/privatelinks/{record_id}", "EMQX first"),
                partial(emqx.delete_private_link, deployment_id, record_id),
                None,
            )
        except InvalidRequestError as refused:  # EMQX's 422: its PrivateLink moved on since the list was read
            waiting_on.append(f"EMQX refused to remove {record_id} for now ({refused.message})")
        else:
            waiting_on.append(f"EMQX is removing {record_id}")
    if run.dry_run:
        return
    if any(str(record.get("status", "")) not in REMOVABLE for record in ours):
        pls = await run.services.network.get_private_link_service(run.link.spec.private_link_service_id)
        if pls is not None:
            await decide_connections(run, pls, for_teardown=True)
    wait_for_emqx(run, "; ".join(waiting_on))


def wait_for_emqx(run: Run, why: str) -> None:
    """Raise the 202 of a teardown waiting for EMQX, saying why; past `TEARDOWN_PATIENCE`, give up (audited)."""
    status, now = run.link.status, run.services.clock.now()
    since = status.emqx_teardown_since = status.emqx_teardown_since or now
    if now - since < TEARDOWN_PATIENCE:
        status.message = f"Waiting for EMQX: {why}."
        raise WaitingForEmqxError(f"The teardown waits for EMQX: {why}.")
    status.emqx_teardown_stalled = True
    status.message = _stalled_message(status.emqx.id)
    run.audit("remove link", "emqx privatelink", "stalled", f"{why}; {status.message}")
    run.step("remove EMQX's PrivateLink", StepOutcome.FAILED, status.message)
    raise WaitingForEmqxError(status.message)


def _stalled_message(known_id: str | None) -> str:
    hours = TEARDOWN_PATIENCE.total_seconds() / 3600
    return (
        f"EMQX did not let go of its PrivateLink {known_id or '(found by the PLS alias)'} in {hours:g} hours; "
        "remove it in EMQX, then DELETE again with ?emqxRemoved=true (audited) to tear down the Azure side."
    )


async def remove_azure_side(run: Run) -> None:
    spec, network = run.link.spec, run.services.network
    pls_id = spec.private_link_service_id
    pls = await read_when_settled(
        run, partial(network.get_private_link_service, pls_id), f"private link service {pls_id.name}"
    )
    if pls is not None and arm_reading.owner_of(pls) == spec.name:
        await delete_private_link_service(run, pls_id, pls)
    lb_id = spec.load_balancer_id
    lb = await read_when_settled(run, partial(network.get_load_balancer, lb_id), f"load balancer {lb_id.name}")
    nic_ids = list(dict.fromkeys([*spec.azure.backend_nic_ids, *(stale_nic_ids(lb, spec) if lb else [])]))
    for nic_id in nic_ids:
        await unbind_nic(run, nic_id)
    if lb is not None and arm_reading.owner_of(lb) == spec.name:
        await run.mutate(
            PlannedCall("arm", "DELETE", str(lb_id), "remove the load balancer"),
            partial(network.delete_load_balancer, lb_id, run.deadline),
            None,
        )


async def begin_removal(run: Run, *, force: bool) -> bool:
    """The pre-checks (unless forced, audited), then the link is `deleting`; True when that is new and must be
    stored before anything is removed, so a crash mid-way leaves a link the next run tears down, not a link
    whose EMQX side is gone while it still says running."""
    status = run.link.status
    if status.phase is Phase.DELETING:
        return False
    if force:
        run.audit("remove link", run.link.name, "forced", "pre-checks skipped at the caller's request")
    else:
        await precheck(run)
    if run.dry_run:
        return False
    run.move_to(Phase.DELETING, "the link is being deleted")
    return True


async def remove(run: Run, *, emqx_removed: bool) -> None:
    """The teardown of a link being deleted; raises OperationStillRunningError while a wait is left (202)."""
    await remove_emqx_side(run, emqx_removed)
    await remove_azure_side(run)
    if not run.dry_run:
        run.move_to(Phase.DELETED, "everything of the link is removed")
