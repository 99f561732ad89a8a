"""Tear a link down in the safe order: EMQX's side first, then connections, PLS, NIC references, load balancer.

Pre-checks (unless forced, which is audited): EMQX deletes a PrivateLink only while it is `running`, and not
while a data integration still points at its IP. Only resources carrying this link's ownership tags are
deleted; the user's subnet and NICs only lose the references the link added.
"""

from __future__ import annotations

from functools import partial
from ipaddress import IPv4Address

from shared import desired
from shared.azure_network import OperationStillRunningError
from shared.errors import ConflictError
from shared.link_trust import deployment_api
from shared.model import Phase
from shared.provisioning import delete_private_link_service, settled, stale_nic_ids, unbind_nic
from shared.run import PlannedCall, Run
from shared.settings import RegistrationMode, SettingsError


class WaitingForEmqxError(OperationStillRunningError):
    default_code = "WaitingForEmqx"


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
    link, status = run.link, run.link.status
    emqx_sub = (link.spec.emqx.azure_subscription_id or run.settings.emqx_azure_subscription_id or "").lower()
    if run.settings.registration_mode is RegistrationMode.API:
        if status.emqx.id is None:
            return
        emqx = run.services.emqx
        deployment_id = link.spec.emqx.deployment_id
        records = await emqx.list_private_links(deployment_id)
        if any(str(r.get("privateLinkID", "")) == status.emqx.id for r in records):
            await run.mutate(
                PlannedCall(
                    "emqx", "DELETE", f"deployments/{deployment_id}/privatelinks/{status.emqx.id}", "EMQX first"
                ),
                partial(emqx.delete_private_link, deployment_id, status.emqx.id),
                None,
            )
            if not run.dry_run:
                raise WaitingForEmqxError("EMQX is removing its PrivateLink; the teardown goes on once it is gone.")
        status.emqx.id = None
        return
    if emqx_removed:
        run.audit("remove link", "emqx console", "proceed", "the caller reports EMQX's PrivateLink removed")
        return
    pls_id = link.spec.private_link_service_id
    pls = await run.services.network.get_private_link_service(pls_id)
    live = [
        c
        for c in desired.connections_of(pls or {})
        if str(((c.get("properties") or {}).get("privateEndpoint") or {}).get("id", ""))
        .lower()
        .startswith(f"/subscriptions/{emqx_sub}/")
        and ((c.get("properties") or {}).get("privateLinkServiceConnectionState") or {}).get("status")
        in ("Approved", "Pending")
    ]
    if live and not run.dry_run:
        raise WaitingForEmqxError(
            "Delete the PrivateLink in the EMQX console first (or repeat with ?emqxRemoved=true once done); "
            "the teardown goes on when EMQX's connection is gone."
        )


async def remove_azure_side(run: Run) -> None:
    spec, network = run.link.spec, run.services.network
    pls_id = spec.private_link_service_id
    pls = await settled(run, partial(network.get_private_link_service, pls_id), f"private link service {pls_id.name}")
    if pls is not None and desired.owner_of(pls) == spec.name:
        await delete_private_link_service(run, pls_id, pls)
    lb_id = spec.load_balancer_id
    lb = await settled(run, partial(network.get_load_balancer, lb_id), f"load balancer {lb_id.name}")
    nic_ids = list(dict.fromkeys([*spec.azure.backend_nic_ids, *(stale_nic_ids(lb, spec) if lb else [])]))
    for nic_id in nic_ids:
        await unbind_nic(run, nic_id)
    if lb is not None and desired.owner_of(lb) == spec.name:
        await run.mutate(
            PlannedCall("arm", "DELETE", str(lb_id), "remove the load balancer"),
            partial(network.delete_load_balancer, lb_id, run.deadline),
            None,
        )


async def remove(run: Run, *, force: bool, emqx_removed: bool) -> None:
    """Runs the whole teardown; raises OperationStillRunningError while a wait is left (the answer is 202)."""
    status = run.link.status
    if status.phase is not Phase.DELETING:
        if force:
            run.audit("remove link", run.link.name, "forced", "pre-checks skipped at the caller's request")
        else:
            await precheck(run)
        if not run.dry_run:
            status.phase = Phase.DELETING
    await remove_emqx_side(run, emqx_removed)
    await remove_azure_side(run)
    if not run.dry_run:
        status.phase = Phase.DELETED
