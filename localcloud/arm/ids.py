"""ARM resource ids and request paths: parsed case-insensitively, written in ARM's canonical casing.

ARM treats every path segment case-insensitively (`resourcegroups` = `resourceGroups`, `microsoft.network` =
`Microsoft.Network`) and names too; it answers with the casing of the type names it knows and the casing of the
names as they were created. `key()` gives the one lookup form of an id.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVIDER = "Microsoft.Network"

TOP_TYPES = {
    name.lower(): name
    for name in (
        "virtualNetworks",
        "networkInterfaces",
        "loadBalancers",
        "privateLinkServices",
        "privateEndpoints",
        # What the subnets and NICs of a hub-spoke network reference (one module each, registered in extras.py).
        "routeTables",
        "networkSecurityGroups",
        "applicationSecurityGroups",
        "natGateways",
        "publicIPAddresses",
        "serviceEndpointPolicies",
    )
}
CHILD_TYPES = {
    ("virtualnetworks", "subnets"): "subnets",
    ("networkinterfaces", "ipconfigurations"): "ipConfigurations",
    ("loadbalancers", "frontendipconfigurations"): "frontendIPConfigurations",
    ("loadbalancers", "backendaddresspools"): "backendAddressPools",
    ("loadbalancers", "inboundnatrules"): "inboundNatRules",
    ("loadbalancers", "loadbalancingrules"): "loadBalancingRules",
    ("loadbalancers", "probes"): "probes",
    ("loadbalancers", "networkinterfaces"): "networkInterfaces",
    ("privatelinkservices", "privateendpointconnections"): "privateEndpointConnections",
    ("privatelinkservices", "ipconfigurations"): "ipConfigurations",
    ("privateendpoints", "manualprivatelinkserviceconnections"): "manualPrivateLinkServiceConnections",
    ("privateendpoints", "privatelinkserviceconnections"): "privateLinkServiceConnections",
    ("routetables", "routes"): "routes",
    ("networksecuritygroups", "securityrules"): "securityRules",
    ("networksecuritygroups", "defaultsecurityrules"): "defaultSecurityRules",
    ("serviceendpointpolicies", "serviceendpointpolicydefinitions"): "serviceEndpointPolicyDefinitions",
}


@dataclass(frozen=True)
class ResourceId:
    """A Microsoft.Network resource (or child) id: one or two type/name pairs under a resource group."""

    subscription: str
    resource_group: str
    types: tuple[str, ...]
    names: tuple[str, ...]

    def __str__(self) -> str:
        tail = "/".join(f"{t}/{n}" for t, n in zip(self.types, self.names, strict=True))
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/{PROVIDER}/{tail}"

    @property
    def key(self) -> str:
        return str(self).lower()

    @property
    def name(self) -> str:
        return self.names[-1]

    @property
    def type(self) -> str:
        return f"{PROVIDER}/" + "/".join(self.types)

    @property
    def group_scope(self) -> str:
        return group_id(self.subscription, self.resource_group)

    @property
    def top(self) -> ResourceId:
        return ResourceId(self.subscription, self.resource_group, self.types[:1], self.names[:1])

    @property
    def parent(self) -> ResourceId | None:
        if len(self.types) < 2:
            return None
        return ResourceId(self.subscription, self.resource_group, self.types[:-1], self.names[:-1])

    def child(self, child_type: str, name: str) -> ResourceId:
        return ResourceId(self.subscription, self.resource_group, (*self.types, child_type), (*self.names, name))


def group_id(subscription: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}"


def key(resource_id: str) -> str:
    """The lookup form of any id string; ids that do not parse are only lower-cased."""
    parsed = parse_id(resource_id)
    return parsed.key if parsed else resource_id.rstrip("/").lower()


def canonical_types(segments: list[str]) -> tuple[str, ...] | None:
    """Canonical casing of a type chain such as ['loadbalancers', 'probes'], or None when not modelled."""
    if not segments or segments[0].lower() not in TOP_TYPES:
        return None
    types = [TOP_TYPES[segments[0].lower()]]
    for segment in segments[1:]:
        child = CHILD_TYPES.get((types[-1].lower(), segment.lower()))
        if child is None:
            return None
        types.append(child)
    return tuple(types)


def parse_id(resource_id: str) -> ResourceId | None:
    """A Microsoft.Network id (one or two levels), or None when it is not one."""
    parts = [p for p in resource_id.split("/") if p]
    if len(parts) < 8 or len(parts) % 2:
        return None
    if parts[0].lower() != "subscriptions" or parts[2].lower() != "resourcegroups":
        return None
    if parts[4].lower() != "providers" or parts[5].lower() != PROVIDER.lower():
        return None
    tail = parts[6:]
    types = canonical_types(tail[0::2])
    if types is None or len(types) > 2:
        return None
    return ResourceId(parts[1], parts[3], types, tuple(tail[1::2]))
