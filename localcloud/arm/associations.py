"""What a hub-spoke network attaches to subnets and NICs: a subnet's network security group, route table, NAT
gateway and service endpoint policies; a NIC's network security group; an ip configuration's public IP address and
application security groups.

The subnet and NIC kinds call `subnet_links` / `nic_links` / `config_links` while validating a PUT: each
reference must name an existing resource of the right type in the same region (else 400
InvalidResourceReference), and is stored as `{"id": <canonical id>}`, the way ARM shows it back. The referenced
kinds compute their read-only back-references (an NSG's `subnets` and `networkInterfaces`, a route table's
`subnets`, a public IP's `ipConfiguration`...) from these stored references with the finders below, which read the
state's reverse indexes (index.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localcloud.arm import errors, index
from localcloud.arm.ids import key
from localcloud.arm.state import ArmState, Resource
from localcloud.arm.validation import parse_reference, reference

SUBNET_FIELDS = {
    "networkSecurityGroup": ("networkSecurityGroups",),
    "routeTable": ("routeTables",),
    "natGateway": ("natGateways",),
}
SUBNET_LIST_FIELDS = {"serviceEndpointPolicies": ("serviceEndpointPolicies",)}
NIC_FIELDS = {"networkSecurityGroup": ("networkSecurityGroups",)}
CONFIG_FIELDS = {"publicIPAddress": ("publicIPAddresses",)}
CONFIG_LIST_FIELDS = {"applicationSecurityGroups": ("applicationSecurityGroups",)}

# The body fields these functions own (the kinds leave them out of what they copy through unchecked).
SUBNET_LINK_FIELDS = (*SUBNET_FIELDS, *SUBNET_LIST_FIELDS)
NIC_LINK_FIELDS = tuple(NIC_FIELDS)
CONFIG_LINK_FIELDS = (*CONFIG_FIELDS, *CONFIG_LIST_FIELDS)

Json = dict[str, Any]


def resolve(
    state: ArmState, ref: Any, types: tuple[str, ...], *, field: str, referencing: str, location: str | None
) -> Resource:
    """The resource a `{"id"}` reference names: InvalidResourceReference when it is missing, of another type or in
    another region than `location`."""
    target = reference(ref, field)
    parsed = parse_reference(target, referencing)
    resource = state.get(parsed) if parsed.types == types else None
    if resource is None or (location is not None and resource.location != location):
        raise errors.invalid_resource_reference(target, referencing)
    return resource


def _links(
    state: ArmState,
    props: Json,
    *,
    single: Mapping[str, tuple[str, ...]],
    listed: Mapping[str, tuple[str, ...]],
    referencing: str,
    location: str | None,
) -> Json:
    stored: Json = {}
    for field, types in single.items():
        if props.get(field) is not None:
            stored[field] = {
                "id": resolve(state, props[field], types, field=field, referencing=referencing, location=location).id
            }
    for field, types in listed.items():
        value = props.get(field)
        if value is None:
            continue
        if not isinstance(value, list):
            raise errors.invalid_request_format(f"Property '{field}' must be an array of resource references.")
        ids: list[str] = []
        for item in value:
            target = resolve(state, item, types, field=field, referencing=referencing, location=location).id
            if target not in ids:
                ids.append(target)
        if ids:
            stored[field] = [{"id": target} for target in ids]
    return stored


def subnet_links(state: ArmState, props: Json, subnet_id: str, location: str | None) -> Json:
    """The stored references of a subnet (its VNet's region is `location`)."""
    return _links(
        state, props, single=SUBNET_FIELDS, listed=SUBNET_LIST_FIELDS, referencing=subnet_id, location=location
    )


def nic_links(state: ArmState, props: Json, nic_id: str, location: str | None) -> Json:
    return _links(state, props, single=NIC_FIELDS, listed={}, referencing=nic_id, location=location)


def config_links(
    state: ArmState, props: Json, config_id: str, *, location: str | None, nic_key: str, claimed: dict[str, str]
) -> Json:
    """The stored references of one NIC ip configuration. A public IP may serve one ip configuration only:
    `claimed` (public IP key -> config id) carries the ones earlier configurations of the same NIC took."""
    stored = _links(
        state, props, single=CONFIG_FIELDS, listed=CONFIG_LIST_FIELDS, referencing=config_id, location=location
    )
    public_ip = stored.get("publicIPAddress")
    if public_ip is not None:
        pip_key = key(public_ip["id"])
        holder = claimed.get(pip_key) or public_ip_holder(state, pip_key, exclude={nic_key})
        if holder is not None:
            raise public_ip_in_use(public_ip["id"], holder)
        claimed[pip_key] = config_id
    return stored


# -- back-references --------------------------------------------------------------------------------------------


def subnets_linking(state: ArmState, field: str, target_key: str) -> list[str]:
    """Ids of the subnets whose `field` names the resource `target_key`."""
    return list(state.index.payloads(index.subnet_field(field), target_key))


def nics_linking(state: ArmState, field: str, target_key: str) -> list[str]:
    """Ids of the NICs whose own `field` (networkSecurityGroup) names `target_key`."""
    return list(state.index.payloads(index.nic_field(field), target_key))


def nic_configs_linking(state: ArmState, field: str, target_key: str, exclude: set[str] | None = None) -> list[str]:
    """Ids of the NIC ip configurations whose `field` (publicIPAddress, applicationSecurityGroups) names
    `target_key`, leaving out the NICs in `exclude`."""
    return list(state.index.payloads(index.config_field(field), target_key, exclude or ()))


def public_ip_holder(state: ArmState, pip_key: str, exclude: set[str]) -> str | None:
    """What a public IP serves: a NIC ip configuration, a load balancer frontend or a NAT gateway (None: free).
    Resources whose keys are in `exclude` do not count (the one being written)."""
    for relation in (index.config_field("publicIPAddress"), index.FRONTEND_PUBLIC_IPS, index.NAT_GATEWAY_PUBLIC_IPS):
        holder: str | None = state.index.first(relation, pip_key, exclude)
        if holder is not None:
            return holder
    return None


def public_ip_in_use(pip_id: str, holder_id: str) -> errors.ArmError:
    return errors.ArmError(
        400,
        "PublicIPAddressInUse",
        f"Public IP address {pip_id} is already in use by {holder_id} and cannot be referenced by another resource.",
        details=[],
    )


def in_use(code: str, message: str) -> errors.ArmError:
    """A delete refused because something still references the resource."""
    return errors.ArmError(400, code, message, details=[])
