"""Provision the Azure half of a link: subnet policy, load balancer, NIC bindings, Private Link Service.

Level-triggered: each step reads what ARM holds, compares it with what the link wants (`shared.desired`) and
writes only on a difference, so a repeated run makes no ARM write and a run cut short at any point is finished
by the next one. Resources are found by their deterministic names; one that exists without this link's
ownership tags is never changed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from ipaddress import IPv4Address

from shared import arm_reading, desired
from shared.clock import Backoff, retry_until
from shared.desired import Json
from shared.errors import (
    ConflictError,
    InvalidRequestError,
    OperationStillRunningError,
    UpstreamError,
    replacement_required,
)
from shared.model import LOAD_BALANCER_SCHEMA, AzureSpec, Forwarding, LinkSpec, Phase, check_ip_in_prefix
from shared.names import ResourceId
from shared.run import PlannedCall, Run


async def read_when_settled(run: Run, read: Callable[[], Awaitable[Json | None]], what: str) -> Json | None:
    """Read a resource until its provisioning state is terminal (an earlier run's operation may still go on)."""

    def terminal(resource: Json | None) -> bool:
        return resource is None or arm_reading.settled(resource)

    resource = await retry_until(run.services.clock, read, terminal, until=run.deadline, backoff=Backoff(0.5))
    if not terminal(resource):
        raise OperationStillRunningError(f"Azure is still working on {what}.")
    return resource


def _not_owned(spec: LinkSpec, resource: Json, what: str, target: str) -> ConflictError:
    owner = arm_reading.owner_of(resource)
    whose = f"link {owner}" if owner else "someone else (it has no ownership tags of this app)"
    return ConflictError(
        f"The {what} {resource.get('name')} already exists and belongs to {whose}; "
        f"choose another name in {target} for link {spec.name}.",
        target=target,
    )


def registered_access(run: Run) -> tuple[list[str], list[str]]:
    """The PLS visibility and auto-approval subscriptions: EMQX's, once the link is registered."""
    if run.link.status.phase in (Phase.PROVISIONING, Phase.PROVISIONED):
        return [], []
    emqx_sub = run.emqx_subscription
    if emqx_sub is None:
        return [], []
    return [emqx_sub], ([emqx_sub] if run.link.spec.azure.auto_approve else [])


async def check_references(run: Run) -> None:
    """Reads only: what the link names in Azure exists, its static frontend IP fits the subnet, and the load
    balancer and PLS it names are not someone else's.

    Runs before the desired state is stored, so bad input is refused with nothing written anywhere. A resource
    the app's identity may not read is the caller's mistake too (a resource group outside the app's role).
    """
    azure, network = run.link.spec.azure, run.services.network
    found = _Lookup()
    frontend_subnet = await found.read(
        "azure.frontendSubnetId", partial(network.get_subnet, azure.frontend_subnet_id), "subnet"
    )
    if frontend_subnet is not None:
        found.problems += _frontend_ip_problems(azure, frontend_subnet)
    if azure.nat_subnet_id is not None:
        await found.read("azure.natSubnetId", partial(network.get_subnet, azure.nat_subnet_id), "subnet")
    nics = {}
    for index, nic_id in enumerate(azure.backend_nic_ids):
        target = f"azure.backendNicIds[{index}]"
        nic = await found.read(target, partial(network.get_network_interface, nic_id), "network interface")
        if nic is not None:
            nics[target] = nic
    if frontend_subnet is not None:
        found.problems += _nic_vnet_problems(azure, nics)
    if found.problems:
        raise InvalidRequestError.from_problems(found.problems, "The link")
    await _check_ownership(run)
    await _check_backend_ports(run, nics)


class _Lookup:
    """Reads what a link names, noting each thing missing or unreadable as a problem with the field naming it."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    async def read(self, target: str, call: Callable[[], Awaitable[Json | None]], what: str) -> Json | None:
        try:
            found = await call()
        except UpstreamError as refused:
            if refused.code != "AuthorizationFailed":
                raise
            self.problems.append((target, f"this app's identity may not read that {what} (AuthorizationFailed)"))
            return None
        if found is None:
            self.problems.append((target, f"no such {what}"))
        return found


def _frontend_ip_problems(azure: AzureSpec, frontend_subnet: Json) -> list[tuple[str, str]]:
    prefix = arm_reading.subnet_prefix(frontend_subnet)
    problem = check_ip_in_prefix(str(azure.frontend_ip), prefix) if prefix and azure.frontend_ip else None
    return [("azure.frontendIp", problem)] if problem else []


def _nic_vnet_problems(azure: AzureSpec, nics: dict[str, Json]) -> list[tuple[str, str]]:
    vnet = arm_reading.vnet_of(str(azure.frontend_subnet_id))
    return [
        (target, f"the NIC is in virtual network {nic_vnet}, not the frontend's {vnet}; ARM refuses that")
        for target, nic in nics.items()
        if (nic_vnet := arm_reading.nic_vnet(nic)) and nic_vnet.lower() != vnet.lower()
    ]


async def _check_backend_ports(run: Run, nics: dict[str, Json]) -> None:
    """ARM refuses a NIC PUT that makes two rules deliver the same backend port and protocol to one IP
    configuration (RulesUseSameBackendPortProtocolAndIPConfig): find it before the first write, not at the NIC
    PUT after the load balancer was built."""
    spec, network = run.link.spec, run.services.network
    ours = str(spec.load_balancer_id).lower()
    balancers: dict[str, Json | None] = {}
    for target, nic in nics.items():
        for lb_id in arm_reading.load_balancers_bound_to(nic):
            if lb_id.lower() == ours:
                continue
            if lb_id.lower() not in balancers:
                balancers[lb_id.lower()] = await network.get_load_balancer(ResourceId.parse(lb_id))
            lb = balancers[lb_id.lower()]
            rule = arm_reading.rule_delivering(lb, nic, spec.azure.backend_port) if lb is not None else None
            if lb is not None and rule is not None:
                owner = arm_reading.owner_of(lb)
                whose = f"link {owner}'s" if owner else "the"
                raise ConflictError(
                    f"The NIC already receives backend port {spec.azure.backend_port} from rule {rule} of {whose} "
                    f"load balancer {lb_id.rsplit('/', 1)[-1]}; ARM refuses two rules on one backend port and IP "
                    "configuration (RulesUseSameBackendPortProtocolAndIPConfig). Use another backendPort or NIC.",
                    code="BackendPortInUse",
                    target=target,
                )


async def _check_ownership(run: Run) -> None:
    """The load balancer and PLS the link names are absent or its own: another link's or someone else's are a 409."""
    spec, network = run.link.spec, run.services.network
    named = (
        ("load balancer", "azure.names.loadBalancer", network.get_load_balancer, spec.load_balancer_id),
        (
            "private link service",
            "azure.names.privateLinkService",
            network.get_private_link_service,
            spec.private_link_service_id,
        ),
    )
    recorded = run.link.status.resources
    for what, target, get, resource_id in named:
        if resource_id in (recorded.load_balancer_id, recorded.private_link_service_id):
            continue  # this link built it (provisioning checks ownership again before any write)
        existing = await get(resource_id)
        if existing is not None and arm_reading.owner_of(existing) != spec.name:
            raise _not_owned(spec, existing, what, target)


async def ensure_subnets(run: Run) -> None:
    """The PLS NAT subnet must have its PLS network policy disabled (a subnet PUT replaces the whole subnet)."""
    spec, network = run.link.spec, run.services.network
    nat_id = spec.azure.nat_subnet
    nat_subnet = await network.get_subnet(nat_id)
    if nat_subnet is None:
        raise InvalidRequestError.from_problems([("azure.natSubnetId", "no such subnet")], "The link")
    if not arm_reading.subnet_allows_private_link_service(nat_subnet) or arm_reading.failed(nat_subnet):
        body = desired.subnet_with_policies_disabled(nat_subnet)
        await run.mutate(
            PlannedCall("arm", "PUT", str(nat_id), "disable privateLinkServiceNetworkPolicies for the PLS NAT IP"),
            lambda: network.put_subnet(nat_id, body, run.deadline),
            body,
        )


async def _put(
    run: Run, resource: ResourceId, body: Json, why: str, put: Callable[[ResourceId, Json, float], Awaitable[Json]]
) -> Json:
    """PUT `body` as `resource` (in a dry run, plan it and take `body` as what ARM would return)."""
    return await run.mutate(
        PlannedCall("arm", "PUT", str(resource), why), partial(put, resource, body, run.deadline), body
    )


async def ensure_load_balancer(run: Run) -> Json:
    spec, network = run.link.spec, run.services.network
    lb_id = spec.load_balancer_id
    lb = await read_when_settled(run, lambda: network.get_load_balancer(lb_id), f"load balancer {lb_id.name}")
    body = desired.load_balancer_body(spec)
    if lb is not None and arm_reading.owner_of(lb) != spec.name:
        raise _not_owned(spec, lb, "load balancer", "azure.names.loadBalancer")
    # A load balancer ARM left Failed is PUT again before anything references it (its NICs, the PLS).
    if lb is None or arm_reading.failed(lb) or not desired.load_balancer_conforms(spec, lb):
        why = "create the internal Standard load balancer" if lb is None else "bring the load balancer to the link"
        lb = await _put(run, lb_id, body, why, network.put_load_balancer)
    run.link.status.resources.load_balancer_id = lb_id
    address = arm_reading.frontend_address(lb, spec)
    if address and not run.dry_run:
        run.link.status.resources.frontend_ip = IPv4Address(address)
    return lb


async def migrate_v1_nat_rules(run: Run) -> None:
    """A link built with a V1 inbound NAT rule moves to V2 without touching its PLS: its NICs leave the V1 rule
    (ARM refuses to change a rule a NIC is bound to), then the load balancer PUT replaces the rule with V2 and the
    NICs join the pool it serves. Audited: traffic pauses between the two writes."""
    spec, network = run.link.spec, run.services.network
    if spec.azure.forwarding is not Forwarding.NAT_RULE or run.link.status.load_balancer_schema >= LOAD_BALANCER_SCHEMA:
        return
    lb = await network.get_load_balancer(spec.load_balancer_id)
    if lb is None or arm_reading.owner_of(lb) != spec.name:
        return
    retired = arm_reading.v1_nat_rules(lb)
    if not retired:
        return
    run.audit("migrate NAT rule", ", ".join(retired), "V1 -> V2", "inbound NAT rule V1 is retired on 2027-09-30")
    for nic_id in dict.fromkeys([*spec.azure.backend_nic_ids, *stale_nic_ids(lb, spec)]):
        await unbind_nic(run, nic_id)


async def ensure_nic_bindings(run: Run, lb: Json) -> None:
    """Bind every backend NIC of the link to its pool (and NAT rule); unbind NICs the link no longer names."""
    spec, network = run.link.spec, run.services.network
    for index, nic_id in enumerate(spec.azure.backend_nic_ids):
        nic = await read_when_settled(run, partial(network.get_network_interface, nic_id), f"NIC {nic_id.name}")
        if nic is None:
            raise InvalidRequestError.from_problems([(f"azure.backendNicIds[{index}]", "no such NIC")], "The link")
        bound = _nic_write(desired.nic_bound(spec, nic), nic)
        if bound is not None:
            await run.mutate(
                PlannedCall("arm", "PUT", str(nic_id), "add the NIC to the link's backend pool"),
                partial(network.put_network_interface, nic_id, bound, run.deadline),
                bound,
            )
    wanted = set(spec.azure.backend_nic_ids)
    for stale_id in stale_nic_ids(lb, spec):
        if stale_id in wanted:
            continue
        await unbind_nic(run, stale_id)


def stale_nic_ids(lb: Json, spec: LinkSpec) -> list[ResourceId]:
    """NICs whose IP configurations still reference this link's pool or NAT rules (read from the LB)."""
    found: dict[ResourceId, None] = {}
    props = lb.get("properties") or {}
    refs = [
        config
        for pool in props.get("backendAddressPools") or []
        for config in (pool.get("properties") or {}).get("backendIPConfigurations") or []
    ]
    refs += [
        (rule.get("properties") or {}).get("backendIPConfiguration")
        for rule in props.get("inboundNatRules") or []
        if (rule.get("properties") or {}).get("backendIPConfiguration")
    ]
    for ref in refs:
        text = str(ref.get("id", ""))
        nic_part = text.split("/ipConfigurations/", maxsplit=1)[0]
        try:
            found[ResourceId.parse(nic_part)] = None
        except ValueError:
            continue
    return list(found)


def _nic_write(change: Json | None, nic: Json) -> Json | None:
    """The NIC PUT to make: `change` (this link's references added or removed), or, when there is none and ARM
    left the NIC Failed, the NIC as it is, PUT back: a Failed NIC fails every write that references it
    (ReferencedResourceNotProvisioned, kubernetes/kubernetes#65025) until it is PUT again."""
    if change is not None or not arm_reading.failed(nic):
        return change
    return desired.nic_as_is(nic)


async def unbind_nic(run: Run, nic_id: ResourceId) -> None:
    network, spec = run.services.network, run.link.spec
    nic = await read_when_settled(run, lambda: network.get_network_interface(nic_id), f"NIC {nic_id.name}")
    if nic is None:
        return
    unbound = _nic_write(desired.nic_unbound(spec, nic), nic)
    if unbound is not None:
        await run.mutate(
            PlannedCall("arm", "PUT", str(nic_id), "remove the NIC from the link's backend pool / NAT rule"),
            lambda: network.put_network_interface(nic_id, unbound, run.deadline),
            unbound,
        )


async def ensure_private_link_service(run: Run, allow_replace: bool) -> Json:
    spec, network = run.link.spec, run.services.network
    pls_id = spec.private_link_service_id
    visibility, auto_approval = registered_access(run)
    body = desired.private_link_service_body(spec, visibility, auto_approval)
    pls = await read_when_settled(
        run, lambda: network.get_private_link_service(pls_id), f"private link service {pls_id.name}"
    )
    if pls is not None and arm_reading.owner_of(pls) != spec.name:
        raise _not_owned(spec, pls, "private link service", "azure.names.privateLinkService")
    if pls is not None and desired.private_link_service_needs_replacing(pls, body):
        if not allow_replace:
            raise replacement_required(f"{pls_id.name}'s load balancer frontend or NAT subnet changes", "azure")
        await delete_private_link_service(run, pls_id, pls)
        pls = None
    if pls is None or arm_reading.failed(pls) or not desired.private_link_service_conforms(pls, body):
        why = "create the Private Link Service" if pls is None else "bring the Private Link Service to the link"
        pls = await _put(run, pls_id, body, why, network.put_private_link_service)
    status = run.link.status
    status.resources.private_link_service_id = pls_id
    alias = arm_reading.alias_of(pls)
    if alias and not run.dry_run:
        status.pls_alias = alias
    return pls


async def delete_private_link_service(run: Run, pls_id: ResourceId, pls: Json) -> None:
    """Connections first (ARM refuses to delete a PLS that has any), then the PLS."""
    network = run.services.network
    for connection in await network.list_connections(pls_id):
        name = str(connection.get("name"))
        await run.mutate(
            PlannedCall("arm", "DELETE", f"{pls_id}/privateEndpointConnections/{name}", "remove the connection"),
            partial(network.delete_connection, pls_id, name, run.deadline),
            None,
        )
    if arm_reading.owner_of(pls) == run.link.spec.name:
        await run.mutate(
            PlannedCall("arm", "DELETE", str(pls_id), "remove the Private Link Service"),
            lambda: network.delete_private_link_service(pls_id, run.deadline),
            None,
        )


async def provision(run: Run, allow_replace: bool = False) -> None:
    """Bring every Azure resource of the link to its desired state; past the budget, OperationStillRunningError."""
    await ensure_subnets(run)
    # A PLS pins its frontend: replace it before the load balancer changes under it.
    existing = await run.services.network.get_private_link_service(run.link.spec.private_link_service_id)
    if existing is not None and arm_reading.owner_of(existing) == run.link.spec.name:
        visibility, auto_approval = registered_access(run)
        body = desired.private_link_service_body(run.link.spec, visibility, auto_approval)
        if desired.private_link_service_needs_replacing(existing, body):
            if not allow_replace:
                await ensure_private_link_service(run, allow_replace)  # raises the 409 with its reason
            await delete_private_link_service(run, run.link.spec.private_link_service_id, existing)
    await migrate_v1_nat_rules(run)
    lb = await ensure_load_balancer(run)
    await ensure_nic_bindings(run, lb)
    await ensure_private_link_service(run, allow_replace)
    if not run.dry_run:
        run.link.status.load_balancer_schema = LOAD_BALANCER_SCHEMA
    if run.link.status.phase is Phase.PROVISIONING and not run.dry_run:
        run.move_to(Phase.PROVISIONED, "the load balancer and the Private Link Service are in place")
