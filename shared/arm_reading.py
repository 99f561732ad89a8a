"""Reading what ARM returns: ownership, provisioning states, the shapes this app compares, references on NICs,
a PLS's alias and connections. Pure functions over ARM JSON; building what the app sends is `shared.desired`.
"""

from __future__ import annotations

import re
from typing import Any

from shared.model import LinkSpec
from shared.names import ResourceId

Json = dict[str, Any]

APP_TAG = "managed-by"
APP_TAG_VALUE = "emqx-azure-privatelink"
LINK_TAG = "emqx-privatelink-link"


def owner_of(resource: Json) -> str | None:
    """The link that owns `resource`, or None when this app did not create it."""
    tags = resource.get("tags") or {}
    if tags.get(APP_TAG) != APP_TAG_VALUE:
        return None
    link = tags.get(LINK_TAG)
    return str(link) if link else None


def props_of(resource: Json) -> Json:
    props: Json = resource.get("properties") or {}
    return props


def ref_id(ref: Any) -> str:
    return str((ref or {}).get("id", "")).lower()


def ref_name(ref: Any) -> str:
    return ref_id(ref).rsplit("/", 1)[-1]


def subnet_allows_private_link_service(subnet: Json) -> bool:
    return str(props_of(subnet).get("privateLinkServiceNetworkPolicies", "Enabled")).lower() == "disabled"


def subnet_prefix(subnet: Json) -> str | None:
    props = props_of(subnet)
    prefix = props.get("addressPrefix") or next(iter(props.get("addressPrefixes") or []), None)
    return str(prefix) if prefix else None


def load_balancer_shape(lb: Json) -> Json:
    props = props_of(lb)
    frontends = {}
    for fe in props.get("frontendIPConfigurations") or []:
        fp = props_of(fe)
        method = str(fp.get("privateIPAllocationMethod", "Dynamic")).lower()
        address = fp.get("privateIPAddress") if method == "static" else None
        frontends[str(fe.get("name", "")).lower()] = (ref_id(fp.get("subnet")), method, address)

    def forwarding(rule: Json) -> tuple[object, ...]:
        rp = props_of(rule)
        return (
            ref_name(rp.get("frontendIPConfiguration")),
            str(rp.get("protocol", "")).lower(),
            rp.get("frontendPort") or None,
            rp.get("frontendPortRangeStart"),
            rp.get("frontendPortRangeEnd"),
            rp.get("backendPort"),
            ref_name(rp.get("backendAddressPool")),
            ref_name(rp.get("probe")),
        )

    return {
        "sku": str((lb.get("sku") or {}).get("name", "")).lower(),
        "location": str(lb.get("location", "")).replace(" ", "").lower(),
        "owner": owner_of(lb),
        "frontends": frontends,
        "pools": sorted(str(pool.get("name", "")).lower() for pool in props.get("backendAddressPools") or []),
        "natRules": {str(r.get("name", "")).lower(): forwarding(r) for r in props.get("inboundNatRules") or []},
        "rules": {str(r.get("name", "")).lower(): forwarding(r) for r in props.get("loadBalancingRules") or []},
        "probes": {
            str(p.get("name", "")).lower(): (
                str(props_of(p).get("protocol", "")).lower(),
                props_of(p).get("port"),
                props_of(p).get("intervalInSeconds"),
            )
            for p in props.get("probes") or []
        },
    }


def frontend_address(lb: Json, spec: LinkSpec) -> str | None:
    wanted = spec.resource_names.frontend.lower()
    for fe in props_of(lb).get("frontendIPConfigurations") or []:
        if str(fe.get("name", "")).lower() == wanted:
            address = props_of(fe).get("privateIPAddress")
            return str(address) if address else None
    return None


# The provisioning states in which ARM is done with a resource, whether or not its operation succeeded.
TERMINAL_STATES = frozenset({"Succeeded", "Failed", "Canceled"})


def provisioning_state(resource: Json) -> str:
    return str(props_of(resource).get("provisioningState", "Succeeded"))


def settled(resource: Json) -> bool:
    """ARM's last operation on the resource is over (an earlier run's may still be going on otherwise)."""
    return provisioning_state(resource) in TERMINAL_STATES


def failed(resource: Json) -> bool:
    """ARM left the resource Failed (or Canceled): whatever it holds, it does not conform. Every write that
    references it fails with ReferencedResourceNotProvisioned until it is PUT again, which is how
    cloud-provider-azure repairs one (kubernetes-sigs/cloud-provider-azure azure_loadbalancer_repo.go,
    kubernetes/kubernetes#95748)."""
    return provisioning_state(resource) in ("Failed", "Canceled")


def primary_ip_configuration(nic: Json) -> Json | None:
    configs = props_of(nic).get("ipConfigurations") or []
    for config in configs:
        if props_of(config).get("primary"):
            return dict(config)
    return dict(configs[0]) if configs else None


def v1_nat_rules(lb: Json) -> list[str]:
    """Names of the load balancer's inbound NAT rules of the retired V1 kind (a frontend port, bound by NICs)."""
    return [
        str(rule.get("name", ""))
        for rule in props_of(lb).get("inboundNatRules") or []
        if props_of(rule).get("frontendPort") and not props_of(rule).get("backendAddressPool")
    ]


REFERENCE_KEYS = ("loadBalancerBackendAddressPools", "loadBalancerInboundNatRules")


def vnet_of(subnet_id: str) -> str:
    return subnet_id.split("/subnets/", 1)[0]


def nic_vnet(nic: Json) -> str | None:
    """The virtual network of the NIC's primary IP configuration."""
    primary = primary_ip_configuration(nic)
    subnet = str((props_of(primary).get("subnet") or {}).get("id", "")) if primary is not None else ""
    return vnet_of(subnet) if subnet else None


_LB_CHILD = re.compile(r"^(.*/loadBalancers/[^/]+)/(?:backendAddressPools|inboundNatRules)/[^/]+$", re.IGNORECASE)


def load_balancers_bound_to(nic: Json) -> list[str]:
    """IDs of the load balancers whose pools or NAT rules the NIC's primary IP configuration is bound to."""
    primary = primary_ip_configuration(nic)
    if primary is None:
        return []
    found: dict[str, None] = {}
    for key in REFERENCE_KEYS:
        for ref in props_of(primary).get(key) or []:
            match = _LB_CHILD.match(str(ref.get("id", "")))
            if match:
                found[match.group(1)] = None
    return list(found)


def rule_delivering(lb: Json, nic: Json, backend_port: int) -> str | None:
    """The name of a rule of `lb` (load-balancing rule, or inbound NAT rule of either kind) that delivers TCP on
    `backend_port` to the NIC's primary IP configuration without floating IP, or None."""
    primary = primary_ip_configuration(nic)
    if primary is None:
        return None
    pools = {ref_id(ref) for ref in props_of(primary).get("loadBalancerBackendAddressPools") or []}
    nat_rules = {ref_id(ref) for ref in props_of(primary).get("loadBalancerInboundNatRules") or []}
    props = props_of(lb)
    for kind in ("loadBalancingRules", "inboundNatRules"):
        for rule in props.get(kind) or []:
            rp = props_of(rule)
            reaches = ref_id(rp.get("backendAddressPool")) in pools or ref_id(rule) in nat_rules
            port = rp.get("backendPort") or rp.get("frontendPort")
            tcp = str(rp.get("protocol", "Tcp")) in ("Tcp", "All")
            if reaches and port == backend_port and tcp and not rp.get("enableFloatingIP"):
                return str(rule.get("name", ""))
    return None


def identity_shape(pls: Json) -> Json:
    """What an existing PLS cannot change: its frontends and its primary NAT IP configuration's subnet."""
    props = props_of(pls)
    return {
        "frontends": sorted(ref_id(ref) for ref in props.get("loadBalancerFrontendIpConfigurations") or []),
        "natSubnets": sorted(ref_id(props_of(c).get("subnet")) for c in props.get("ipConfigurations") or []),
    }


def settings_shape(pls: Json) -> Json:
    props = props_of(pls)
    return {
        "owner": owner_of(pls),
        "proxy": bool(props.get("enableProxyProtocol", False)),
        "visibility": sorted(s.lower() for s in (props.get("visibility") or {}).get("subscriptions") or []),
        "autoApproval": sorted(s.lower() for s in (props.get("autoApproval") or {}).get("subscriptions") or []),
    }


def alias_of(pls: Json) -> str | None:
    alias = props_of(pls).get("alias")
    return str(alias) if alias else None


def connections_of(pls: Json) -> list[Json]:
    return list(props_of(pls).get("privateEndpointConnections") or [])


def connection_endpoint_id(connection: Json) -> ResourceId | None:
    """The private endpoint on the other side of a private endpoint connection."""
    endpoint = props_of(connection).get("privateEndpoint") or {}
    try:
        return ResourceId.parse(str(endpoint.get("id", "")))
    except ValueError:
        return None


def _connection_state(connection: Json) -> Json:
    state: Json = props_of(connection).get("privateLinkServiceConnectionState") or {}
    return state


def connection_status(connection: Json) -> str:
    return str(_connection_state(connection).get("status", "Pending"))


def connection_description(connection: Json) -> str:
    return str(_connection_state(connection).get("description", ""))
