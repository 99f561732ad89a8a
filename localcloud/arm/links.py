"""Who references whom: the read-only back-references Azure shows (pool members, subnet users, PLS users of a
load balancer) computed from the stored resources.
"""

from __future__ import annotations

from typing import Any

from localcloud.arm import errors
from localcloud.arm.ids import key
from localcloud.arm.state import ArmState, Resource
from localcloud.arm.validation import parse_reference, reference


def nic_configs_referencing(state: ArmState, target_id: str, field: str) -> list[str]:
    """Ids of NIC ipConfigurations whose `field` (loadBalancerBackendAddressPools / loadBalancerInboundNatRules)
    lists `target_id`."""
    wanted = key(target_id)
    found = []
    for nic in state.of_type("networkInterfaces"):
        for config in nic.properties.get("ipConfigurations", []):
            if any(key(ref["id"]) == wanted for ref in config["properties"].get(field, [])):
                found.append(f"{nic.id}/ipConfigurations/{config['name']}")
    return found


def subnet_users(state: ArmState, subnet_key: str) -> list[str]:
    """Ids of the ipConfigurations and load balancer frontends that sit in a subnet."""
    users = []
    for nic in state.of_type("networkInterfaces"):
        for config in nic.properties.get("ipConfigurations", []):
            if key(config["properties"]["subnet"]["id"]) == subnet_key:
                users.append(f"{nic.id}/ipConfigurations/{config['name']}")
    for lb in state.of_type("loadBalancers"):
        for frontend in lb.properties.get("frontendIPConfigurations", []):
            subnet = frontend["properties"].get("subnet")
            if subnet and key(subnet["id"]) == subnet_key:
                users.append(f"{lb.id}/frontendIPConfigurations/{frontend['name']}")
    return users


def private_endpoints_in(state: ArmState, subnet_key: str) -> list[str]:
    return [pe.id for pe in state.of_type("privateEndpoints") if key(pe.properties["subnet"]["id"]) == subnet_key]


def link_services_using(state: ArmState, lb: Resource) -> list[Resource]:
    prefix = lb.key + "/frontendipconfigurations/"
    return [
        pls
        for pls in state.of_type("privateLinkServices")
        if any(
            key(ref["id"]).startswith(prefix) for ref in pls.properties.get("loadBalancerFrontendIpConfigurations", [])
        )
    ]


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
