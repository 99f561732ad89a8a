"""The Azure resources a link wants, as ARM JSON bodies, and whether what ARM holds already conforms (reading
ARM's answers is `shared.arm_reading`).

Pure functions only. Conformance compares a *shape*: the few properties this app decides, normalised the way
Azure compares them (names and IDs ignore case). The same `shape` function reads the body we would send and
the resource ARM returns, so "no change needed" means exactly "a PUT would not change anything we own" — and
a repeated identical PUT of a link makes no ARM write.

Ownership: every resource the app creates carries `OWNER_TAGS`; a resource without them is never changed or
deleted. Subnets and the backend NICs are the user's: the app only flips the subnet's PLS network policy and
adds or removes its own pool / NAT rule references on the NICs.
"""

from __future__ import annotations

from typing import Any

from shared.arm_reading import (
    APP_TAG,
    APP_TAG_VALUE,
    LINK_TAG,
    REFERENCE_KEYS,
    identity_shape,
    load_balancer_shape,
    primary_ip_configuration,
    props_of,
    ref_id,
    settings_shape,
)
from shared.model import PROBE_INTERVAL_SECONDS, Forwarding, LinkSpec
from shared.names import ResourceId

Json = dict[str, Any]


def owner_tags(link_name: str) -> dict[str, str]:
    return {APP_TAG: APP_TAG_VALUE, LINK_TAG: link_name}


# -- child IDs -------------------------------------------------------------------------------------------------


def frontend_id(spec: LinkSpec) -> ResourceId:
    return spec.load_balancer_id.child("frontendIPConfigurations", spec.resource_names.frontend)


def pool_id(spec: LinkSpec) -> ResourceId:
    return spec.load_balancer_id.child("backendAddressPools", spec.resource_names.backend_pool)


def probe_id(spec: LinkSpec) -> ResourceId:
    return spec.load_balancer_id.child("probes", spec.resource_names.probe)


# -- subnet ----------------------------------------------------------------------------------------------------


def subnet_with_policies_disabled(subnet: Json) -> Json:
    """The whole subnet back (a subnet PUT replaces it), with only the PLS network policy changed."""
    properties = _writable(props_of(subnet))
    properties["privateLinkServiceNetworkPolicies"] = "Disabled"
    return {"name": subnet.get("name"), "properties": properties}


# -- load balancer ---------------------------------------------------------------------------------------------


def load_balancer_body(spec: LinkSpec) -> Json:
    azure, names = spec.azure, spec.resource_names
    frontend: Json = {"subnet": {"id": str(azure.frontend_subnet_id)}}
    if azure.frontend_ip is not None:
        frontend |= {"privateIPAllocationMethod": "Static", "privateIPAddress": str(azure.frontend_ip)}
    else:
        frontend |= {"privateIPAllocationMethod": "Dynamic"}
    properties: Json = {
        "frontendIPConfigurations": [{"name": names.frontend, "properties": frontend}],
        "backendAddressPools": [{"name": names.backend_pool}],
        "inboundNatRules": [],
        "loadBalancingRules": [],
        "probes": [],
    }
    forwarding = _nat_rule if azure.forwarding is Forwarding.NAT_RULE else _load_balancing_rule
    properties |= forwarding(spec)
    return {
        "location": azure.location,
        "sku": {"name": "Standard", "tier": "Regional"},
        "tags": owner_tags(spec.name),
        "properties": properties,
    }


def _forwarding(spec: LinkSpec) -> Json:
    """What a NAT rule and a load-balancing rule share."""
    return {
        "frontendIPConfiguration": {"id": str(frontend_id(spec))},
        "protocol": "Tcp",
        "frontendPort": spec.azure.frontend_port,
        "backendPort": spec.azure.backend_port,
        "idleTimeoutInMinutes": 4,
        "enableTcpReset": True,
        "enableFloatingIP": False,
    }


def _nat_rule(spec: LinkSpec) -> Json:
    """Inbound NAT rule V2 (V1, bound to a NIC, is retired on 2027-09-30): on the backend pool, its single member
    reached on the frontend port."""
    port = spec.azure.frontend_port
    v2 = {key: value for key, value in _forwarding(spec).items() if key != "frontendPort"} | {
        "frontendPortRangeStart": port,
        "frontendPortRangeEnd": port,
        "backendAddressPool": {"id": str(pool_id(spec))},
    }
    return {"inboundNatRules": [{"name": spec.resource_names.rule, "properties": v2}]}


def _load_balancing_rule(spec: LinkSpec) -> Json:
    names = spec.resource_names
    probe = {
        "protocol": "Tcp",
        "port": spec.azure.health_probe_port,
        "intervalInSeconds": PROBE_INTERVAL_SECONDS,
        "numberOfProbes": 2,
        "probeThreshold": 1,
    }
    rule = _forwarding(spec) | {
        "backendAddressPool": {"id": str(pool_id(spec))},
        "probe": {"id": str(probe_id(spec))},
        "disableOutboundSnat": True,
    }
    return {
        "probes": [{"name": names.probe, "properties": probe}],
        "loadBalancingRules": [{"name": names.rule, "properties": rule}],
    }


def load_balancer_conforms(spec: LinkSpec, lb: Json) -> bool:
    return load_balancer_shape(lb) == load_balancer_shape(load_balancer_body(spec))


# -- backend NICs ----------------------------------------------------------------------------------------------


def _nic_references(spec: LinkSpec) -> dict[str, str]:
    # Both forwardings reach the NIC through the pool (a V2 NAT rule too); a NIC lists no NAT rule.
    return {"loadBalancerBackendAddressPools": str(pool_id(spec))}


def _writable(properties: Json) -> Json:
    """Properties to send back: what ARM returned, without its read-only provisioning state."""
    return {key: value for key, value in properties.items() if key != "provisioningState"}


def nic_as_is(nic: Json) -> Json:
    """The whole NIC back (a NIC PUT replaces it), as ARM holds it."""
    properties = _writable(props_of(nic))
    properties["ipConfigurations"] = [
        {"name": config.get("name"), "id": config.get("id"), "properties": _writable(props_of(config))}
        for config in props_of(nic).get("ipConfigurations") or []
    ]
    return {key: nic[key] for key in ("location", "tags") if key in nic} | {"properties": properties}


def _with_references(nic: Json, spec: LinkSpec, bind: bool) -> Json | None:
    """The NIC with this link's references added (bind) or removed; None when nothing would change.

    Any other reference into the link's load balancer goes in both cases: it points at a pool or NAT rule the
    link no longer has (e.g. the NAT rule of a former port), which ARM refuses in a NIC update.
    """
    primary = primary_ip_configuration(nic)
    if primary is None:
        return None
    wanted = _nic_references(spec) if bind else {}
    ours = f"{str(spec.load_balancer_id).lower()}/"
    body = nic_as_is(nic)
    config_props = next(
        c["properties"] for c in body["properties"]["ipConfigurations"] if c["name"] == primary.get("name")
    )
    changed = False
    for key in REFERENCE_KEYS:
        current = list(config_props.get(key) or [])
        ref = wanted.get(key, "")
        kept = [item for item in current if not ref_id(item).startswith(ours) or ref_id(item) == ref.lower()]
        if ref and not any(ref_id(item) == ref.lower() for item in kept):
            kept.append({"id": ref})
        if kept != current:
            changed = True
        if key in config_props or kept:
            config_props[key] = kept
    return body if changed else None


def nic_bound(spec: LinkSpec, nic: Json) -> Json | None:
    """The NIC body that adds this link's pool (and NAT rule) references, or None when already bound."""
    return _with_references(nic, spec, bind=True)


def nic_unbound(spec: LinkSpec, nic: Json) -> Json | None:
    """The NIC body without this link's references, or None when it holds none."""
    return _with_references(nic, spec, bind=False)


# -- private link service --------------------------------------------------------------------------------------


def private_link_service_body(spec: LinkSpec, visibility: list[str], auto_approval: list[str]) -> Json:
    names = spec.resource_names
    return {
        "location": spec.azure.location,
        "tags": owner_tags(spec.name),
        "properties": {
            "loadBalancerFrontendIpConfigurations": [{"id": str(frontend_id(spec))}],
            "ipConfigurations": [
                {
                    "name": names.nat_ip_configuration,
                    "properties": {
                        "subnet": {"id": str(spec.azure.nat_subnet)},
                        "privateIPAllocationMethod": "Dynamic",
                        "privateIPAddressVersion": "IPv4",
                        "primary": True,
                    },
                }
            ],
            "enableProxyProtocol": spec.azure.enable_proxy_protocol,
            "visibility": {"subscriptions": visibility},
            "autoApproval": {"subscriptions": auto_approval},
            "fqdns": [],
        },
    }


def private_link_service_needs_replacing(pls: Json, desired: Json) -> bool:
    return identity_shape(pls) != identity_shape(desired)


def private_link_service_conforms(pls: Json, desired: Json) -> bool:
    return not private_link_service_needs_replacing(pls, desired) and settings_shape(pls) == settings_shape(desired)
