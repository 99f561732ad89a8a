"""Virtual networks and subnets. A subnet PUT replaces the subnet; a VNet PUT replaces its subnet list too."""

from __future__ import annotations

import ipaddress
from typing import Any

from localcloud.arm import errors
from localcloud.arm.associations import SUBNET_LINK_FIELDS, subnet_links
from localcloud.arm.engine import Change, Kind, envelope
from localcloud.arm.ids import ResourceId
from localcloud.arm.links import private_endpoints_in, subnet_users
from localcloud.arm.protocol import Context, Timing
from localcloud.arm.state import ArmState, Resource
from localcloud.arm.validation import enum, location_of, named_items, without

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_SUBNET_READ_ONLY = (
    "ipConfigurations",
    "ipConfigurationProfiles",
    "privateEndpoints",
    "resourceNavigationLinks",
    "serviceAssociationLinks",
    "purpose",
    "addressPrefixes",
)


def _network(prefix: Any, owner_id: str) -> Network:
    try:
        return ipaddress.ip_network(str(prefix), strict=True)
    except ValueError as exc:
        raise errors.invalid_address_prefix(str(prefix), owner_id) from exc


def subnet_properties(
    subnet_id: ResourceId,
    props: dict[str, Any],
    vnet_networks: list[Network],
    siblings: dict[str, Network],
    *,
    state: ArmState,
    location: str | None,
) -> dict[str, Any]:
    """The stored form of a subnet, checked against its VNet's address space and its sibling subnets; its NSG,
    route table, NAT gateway and service endpoint policies must exist in the VNet's region (associations.py)."""
    prefix = props.get("addressPrefix") or next(iter(props.get("addressPrefixes") or []), None)
    if not prefix:
        raise errors.invalid_request_format(f"Subnet {subnet_id} must have an addressPrefix.")
    network = _network(prefix, str(subnet_id))
    vnet_name = subnet_id.names[0]
    if not any(network.version == v.version and network.subnet_of(v) for v in vnet_networks):  # type: ignore[arg-type]
        raise errors.subnet_outside_vnet(subnet_id.name, vnet_name)
    for sibling in siblings.values():
        if network.overlaps(sibling):  # type: ignore[arg-type]
            raise errors.subnets_overlap(subnet_id.name, vnet_name)
    stored: dict[str, Any] = {
        "addressPrefix": str(network),
        "delegations": props.get("delegations") or [],
        "privateEndpointNetworkPolicies": enum(
            props.get("privateEndpointNetworkPolicies"),
            ("Enabled", "Disabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled"),
            "privateEndpointNetworkPolicies",
            default="Disabled",
        ),
        "privateLinkServiceNetworkPolicies": enum(
            props.get("privateLinkServiceNetworkPolicies"),
            ("Enabled", "Disabled"),
            "privateLinkServiceNetworkPolicies",
            default="Enabled",
        ),
    }
    stored.update(subnet_links(state, props, str(subnet_id), location))
    for name, value in without(props, *_SUBNET_READ_ONLY, *SUBNET_LINK_FIELDS).items():
        stored.setdefault(name, value)
    return stored


def vnet_networks(vnet: Resource) -> list[Network]:
    return [ipaddress.ip_network(p) for p in vnet.properties["addressSpace"]["addressPrefixes"]]


class Subnets(Kind):
    types = ("virtualNetworks", "subnets")
    timing = Timing(put=2, delete=8, retry_after=3, notify=False)

    def prepare(self, ctx: Context, rid: ResourceId, existing: Resource | None, body: dict[str, Any]) -> Change:
        vnet = ctx.state.get(rid.top)
        assert vnet is not None
        siblings = {
            s.key: ipaddress.ip_network(s.properties["addressPrefix"])
            for s in ctx.state.children(vnet, "subnets")
            if s.key != rid.key
        }
        props = subnet_properties(
            rid, body.get("properties") or {}, vnet_networks(vnet), siblings, state=ctx.state, location=vnet.location
        )
        return Change(properties=props, location=None)

    def render(self, state: ArmState, resource: Resource) -> dict[str, Any]:
        props = dict(resource.properties)
        users = subnet_users(state, resource.key)
        if users:
            props["ipConfigurations"] = [{"id": u} for u in users]
        endpoints = private_endpoints_in(state, resource.key)
        if endpoints:
            props["privateEndpoints"] = [{"id": pe} for pe in endpoints]
        return envelope(resource, props, tracked=False)

    def check_delete(self, ctx: Context, resource: Resource) -> None:
        users = subnet_users(ctx.state, resource.key)
        if users:
            raise errors.subnet_in_use(resource.rid.name, users[0])


class VirtualNetworks(Kind):
    types = ("virtualNetworks",)
    timing = Timing(put=2, delete=8, retry_after=3, notify=True)

    def __init__(self, subnets: Subnets):
        self._subnets = subnets

    def prepare(self, ctx: Context, rid: ResourceId, existing: Resource | None, body: dict[str, Any]) -> Change:
        location = location_of(body)
        props = body.get("properties") or {}
        prefixes = (props.get("addressSpace") or {}).get("addressPrefixes")
        if not prefixes or not isinstance(prefixes, list):
            raise errors.invalid_request_format(f"Virtual network {rid} must have addressSpace.addressPrefixes.")
        networks = [_network(p, str(rid)) for p in prefixes]
        planned: dict[str, tuple[ResourceId, dict[str, Any]]] = {}
        claimed: dict[str, Network] = {}
        for item in named_items(props.get("subnets"), "subnets"):
            subnet_id = rid.child("subnets", item["name"])
            stored = subnet_properties(
                subnet_id, item.get("properties") or {}, networks, claimed, state=ctx.state, location=location
            )
            claimed[subnet_id.key] = ipaddress.ip_network(stored["addressPrefix"])
            planned[subnet_id.key] = (subnet_id, stored)
        current = ctx.state.children(existing, "subnets") if existing else []
        removed = [s for s in current if s.key not in planned]
        for subnet in removed:
            self._subnets.check_delete(ctx, subnet)

        def apply(vnet: Resource) -> None:
            for subnet in removed:
                ctx.state.drop(subnet)
            for subnet_key, (subnet_id, stored) in planned.items():
                subnet = ctx.state.get(subnet_key) or Resource(rid=subnet_id, location=None, properties={})
                subnet.properties = stored
                subnet.state = "Updating"
                subnet.touch()
                ctx.state.put(subnet)

        def complete(vnet: Resource) -> None:
            for subnet in ctx.state.children(vnet, "subnets"):
                subnet.state = "Succeeded"

        stored_props = without(props, "subnets", "addressSpace", "resourceGuid")
        stored_props = {"addressSpace": {"addressPrefixes": [str(n) for n in networks]}, **stored_props}
        return Change(properties=stored_props, location=location, tags=body.get("tags"), apply=apply, complete=complete)

    def render(self, state: ArmState, resource: Resource) -> dict[str, Any]:
        props: dict[str, Any] = {"resourceGuid": resource.resource_guid, **resource.properties}
        props["subnets"] = [self._subnets.render(state, s) for s in state.children(resource, "subnets")]
        props.setdefault("virtualNetworkPeerings", [])
        props.setdefault("enableDdosProtection", False)
        return envelope(resource, props)

    def check_delete(self, ctx: Context, resource: Resource) -> None:
        for subnet in ctx.state.children(resource, "subnets"):
            self._subnets.check_delete(ctx, subnet)

    def deleted(self, ctx: Context, resource: Resource) -> None:
        for subnet in ctx.state.children(resource, "subnets"):
            ctx.state.drop(subnet)
