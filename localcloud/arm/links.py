"""Who references whom: the read-only back-references Azure shows (pool members, subnet users, PLS users of a
load balancer), read from the state's reverse indexes (index.py) rather than by scanning the stored resources.
"""

from __future__ import annotations

from typing import Any

from localcloud.arm import errors, index
from localcloud.arm.ids import key
from localcloud.arm.state import ArmState, Resource
from localcloud.arm.validation import parse_reference, reference


def nic_configs_referencing(state: ArmState, target_id: str, field: str) -> list[str]:
    """Ids of NIC ipConfigurations whose `field` (loadBalancerBackendAddressPools / loadBalancerInboundNatRules)
    lists `target_id`."""
    return state.index.payloads(index.config_field(field), key(target_id))


def subnet_users(state: ArmState, subnet_key: str) -> list[str]:
    """Ids of the ipConfigurations and load balancer frontends that sit in a subnet."""
    return [
        user_id
        for relation in (index.SUBNET_NICS, index.SUBNET_FRONTENDS)
        for user_id, _ in state.index.payloads(relation, subnet_key)
    ]


def private_endpoints_in(state: ArmState, subnet_key: str) -> list[str]:
    return list(state.index.payloads(index.SUBNET_ENDPOINTS, subnet_key))


def link_services_using(state: ArmState, lb: Resource) -> list[Resource]:
    found = (state.get(pls_id) for pls_id in state.index.payloads(index.SERVICE_BALANCERS, lb.key))
    return [pls for pls in found if pls is not None]


def nics_bound_to(state: ArmState, lb_key: str) -> list[Resource]:
    """The NICs whose ipConfigurations name a pool or inbound NAT rule of the load balancer `lb_key`."""
    found = (state.get(nic_id) for nic_id in state.index.payloads(index.NIC_BALANCERS, lb_key))
    return [nic for nic in found if nic is not None]


def resolve_subnet(state: ArmState, ref: Any, referencing: str, location: str | None) -> Resource:
    """The subnet a `{"id"}` reference names; InvalidResourceReference when missing or in another region."""
    subnet_id = reference(ref, "subnet")
    parsed = parse_reference(subnet_id, referencing)
    subnet = state.get(parsed) if parsed.types == ("virtualNetworks", "subnets") else None
    vnet = state.get(parsed.top) if subnet is not None else None
    if subnet is None or vnet is None or (location is not None and vnet.location != location):
        raise errors.invalid_resource_reference(subnet_id, referencing)
    return subnet


def resolve_lb_child(state: ArmState, ref: Any, child_type: str, referencing: str) -> str:
    """The canonical id of a load balancer child (pool, NAT rule, frontend) that a reference names."""
    child_id = reference(ref, child_type)
    parsed = parse_reference(child_id, referencing)
    lb = state.get(parsed.top) if parsed.types == ("loadBalancers", child_type) else None
    if lb is not None:
        for item in lb.properties.get(child_type, []):
            if item["name"].lower() == parsed.name.lower():
                return f"{lb.id}/{child_type}/{item['name']}"
    raise errors.invalid_resource_reference(child_id, referencing)
