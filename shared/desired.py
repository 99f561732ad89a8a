"""The Azure resources a link wants, as ARM JSON bodies, and whether what ARM holds already conforms.

Pure functions only. Conformance compares a *shape*: the few properties this app decides, normalised the way
Azure compares them (names and IDs ignore case). The same `shape` function reads the body we would send and
the resource ARM returns, so "no change needed" means exactly "a PUT would not change anything we own" — and
a repeated identical PUT of a link makes no ARM write.

Ownership: every resource the app creates carries `OWNER_TAGS`; a resource without them is never changed or
deleted. Subnets and the backend NICs are the user's: the app only flips the subnet's PLS network policy and
adds or removes its own pool / NAT rule references on the NICs.
"""

from __future__ import annotations

import re
from typing import Any

from shared.model import PROBE_INTERVAL_SECONDS, Forwarding, LinkSpec
from shared.names import ResourceId

Json = dict[str, Any]

APP_TAG = "managed-by"
APP_TAG_VALUE = "emqx-azure-privatelink"
LINK_TAG = "emqx-privatelink-link"


def owner_tags(link_name: str) -> dict[str, str]:
    return {APP_TAG: APP_TAG_VALUE, LINK_TAG: link_name}


def owner_of(resource: Json) -> str | None:
    """The link that owns `resource`, or None when this app did not create it."""
    tags = resource.get("tags") or {}
    if tags.get(APP_TAG) != APP_TAG_VALUE:
        return None
    link = tags.get(LINK_TAG)
    return str(link) if link else None


def _props(resource: Json) -> Json:
    props: Json = resource.get("properties") or {}
    return props


def _id(ref: Any) -> str:
    return str((ref or {}).get("id", "")).lower()


def _name_of_ref(ref: Any) -> str:
    return _id(ref).rsplit("/", 1)[-1]


# -- child IDs -------------------------------------------------------------------------------------------------


def frontend_id(spec: LinkSpec) -> ResourceId:
    return spec.load_balancer_id.child("frontendIPConfigurations", spec.resource_names.frontend)


def pool_id(spec: LinkSpec) -> ResourceId:
    return spec.load_balancer_id.child("backendAddressPools", spec.resource_names.backend_pool)


def probe_id(spec: LinkSpec) -> ResourceId:
    return spec.load_balancer_id.child("probes", spec.resource_names.probe)


# -- subnet ----------------------------------------------------------------------------------------------------


def subnet_allows_private_link_service(subnet: Json) -> bool:
    return str(_props(subnet).get("privateLinkServiceNetworkPolicies", "Enabled")).lower() == "disabled"


def subnet_with_policies_disabled(subnet: Json) -> Json:
    """The whole subnet back (a subnet PUT replaces it), with only the PLS network policy changed."""
    properties = {key: value for key, value in _props(subnet).items() if key != "provisioningState"}
    properties["privateLinkServiceNetworkPolicies"] = "Disabled"
    return {"name": subnet.get("name"), "properties": properties}


def subnet_prefix(subnet: Json) -> str | None:
    props = _props(subnet)
    prefix = props.get("addressPrefix") or next(iter(props.get("addressPrefixes") or []), None)
    return str(prefix) if prefix else None


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
    forward = {
        "frontendIPConfiguration": {"id": str(frontend_id(spec))},
        "protocol": "Tcp",
        "frontendPort": azure.frontend_port,
        "backendPort": azure.backend_port,
        "idleTimeoutInMinutes": 4,
        "enableTcpReset": True,
        "enableFloatingIP": False,
    }
    if azure.forwarding is Forwarding.NAT_RULE:
        # Inbound NAT rule V2 (V1, bound to a NIC, is retired on 2027-09-30): on the backend pool, its single
        # member reached on the frontend port.
        v2 = {key: value for key, value in forward.items() if key != "frontendPort"} | {
            "frontendPortRangeStart": azure.frontend_port,
            "frontendPortRangeEnd": azure.frontend_port,
            "backendAddressPool": {"id": str(pool_id(spec))},
        }
        properties["inboundNatRules"] = [{"name": names.rule, "properties": v2}]
    else:
        properties["probes"] = [
            {
                "name": names.probe,
                "properties": {
                    "protocol": "Tcp",
                    "port": azure.health_probe_port,
                    "intervalInSeconds": PROBE_INTERVAL_SECONDS,
                    "numberOfProbes": 2,
                    "probeThreshold": 1,
                },
            }
        ]
        rule = forward | {
            "backendAddressPool": {"id": str(pool_id(spec))},
            "probe": {"id": str(probe_id(spec))},
            "disableOutboundSnat": True,
        }
        properties["loadBalancingRules"] = [{"name": names.rule, "properties": rule}]
    return {
        "location": azure.location,
        "sku": {"name": "Standard", "tier": "Regional"},
        "tags": owner_tags(spec.name),
        "properties": properties,
    }


def load_balancer_shape(lb: Json) -> Json:
    props = _props(lb)
    frontends = {}
    for fe in props.get("frontendIPConfigurations") or []:
        fp = _props(fe)
        method = str(fp.get("privateIPAllocationMethod", "Dynamic")).lower()
        address = fp.get("privateIPAddress") if method == "static" else None
        frontends[str(fe.get("name", "")).lower()] = (_id(fp.get("subnet")), method, address)

    def forwarding(rule: Json) -> tuple[object, ...]:
        rp = _props(rule)
        return (
            _name_of_ref(rp.get("frontendIPConfiguration")),
            str(rp.get("protocol", "")).lower(),
            rp.get("frontendPort") or None,
            rp.get("frontendPortRangeStart"),
            rp.get("frontendPortRangeEnd"),
            rp.get("backendPort"),
            _name_of_ref(rp.get("backendAddressPool")),
            _name_of_ref(rp.get("probe")),
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
                str(_props(p).get("protocol", "")).lower(),
                _props(p).get("port"),
                _props(p).get("intervalInSeconds"),
            )
            for p in props.get("probes") or []
        },
    }


def load_balancer_conforms(spec: LinkSpec, lb: Json) -> bool:
    return load_balancer_shape(lb) == load_balancer_shape(load_balancer_body(spec))


def frontend_address(lb: Json, spec: LinkSpec) -> str | None:
    wanted = spec.resource_names.frontend.lower()
    for fe in _props(lb).get("frontendIPConfigurations") or []:
        if str(fe.get("name", "")).lower() == wanted:
            address = _props(fe).get("privateIPAddress")
            return str(address) if address else None
    return None


def provisioning_state(resource: Json) -> str:
    return str(_props(resource).get("provisioningState", "Succeeded"))


def failed(resource: Json) -> bool:
    """ARM left the resource Failed (or Canceled): whatever it holds, it does not conform. Every write that
    references it fails with ReferencedResourceNotProvisioned until it is PUT again, which is how
    cloud-provider-azure repairs one (kubernetes-sigs/cloud-provider-azure azure_loadbalancer_repo.go,
    kubernetes/kubernetes#95748)."""
    return provisioning_state(resource) in ("Failed", "Canceled")


# -- backend NICs ----------------------------------------------------------------------------------------------


def _primary_ip_configuration(nic: Json) -> Json | None:
    configs = _props(nic).get("ipConfigurations") or []
    for config in configs:
        if _props(config).get("primary"):
            return dict(config)
    return dict(configs[0]) if configs else None


def _nic_references(spec: LinkSpec) -> dict[str, str]:
    # Both forwardings reach the NIC through the pool (a V2 NAT rule too); a NIC lists no NAT rule.
    return {"loadBalancerBackendAddressPools": str(pool_id(spec))}


def v1_nat_rules(lb: Json) -> list[str]:
    """Names of the load balancer's inbound NAT rules of the retired V1 kind (a frontend port, bound by NICs)."""
    return [
        str(rule.get("name", ""))
        for rule in _props(lb).get("inboundNatRules") or []
        if _props(rule).get("frontendPort") and not _props(rule).get("backendAddressPool")
    ]


_REFERENCE_KEYS = ("loadBalancerBackendAddressPools", "loadBalancerInboundNatRules")


def vnet_of(subnet_id: str) -> str:
    return subnet_id.split("/subnets/", 1)[0]


def nic_vnet(nic: Json) -> str | None:
    """The virtual network of the NIC's primary IP configuration."""
    primary = _primary_ip_configuration(nic)
    subnet = str((_props(primary).get("subnet") or {}).get("id", "")) if primary is not None else ""
    return vnet_of(subnet) if subnet else None


_LB_CHILD = re.compile(r"^(.*/loadBalancers/[^/]+)/(?:backendAddressPools|inboundNatRules)/[^/]+$", re.IGNORECASE)


def load_balancers_bound_to(nic: Json) -> list[str]:
    """IDs of the load balancers whose pools or NAT rules the NIC's primary IP configuration is bound to."""
    primary = _primary_ip_configuration(nic)
    if primary is None:
        return []
    found: dict[str, None] = {}
    for key in _REFERENCE_KEYS:
        for ref in _props(primary).get(key) or []:
            match = _LB_CHILD.match(str(ref.get("id", "")))
            if match:
                found[match.group(1)] = None
    return list(found)


def rule_delivering(lb: Json, nic: Json, backend_port: int) -> str | None:
    """The name of a rule of `lb` (load-balancing rule, or inbound NAT rule of either kind) that delivers TCP on
    `backend_port` to the NIC's primary IP configuration without floating IP, or None."""
    primary = _primary_ip_configuration(nic)
    if primary is None:
        return None
    pools = {_id(ref) for ref in _props(primary).get("loadBalancerBackendAddressPools") or []}
    nat_rules = {_id(ref) for ref in _props(primary).get("loadBalancerInboundNatRules") or []}
    props = _props(lb)
    for kind in ("loadBalancingRules", "inboundNatRules"):
        for rule in props.get(kind) or []:
            rp = _props(rule)
            reaches = _id(rp.get("backendAddressPool")) in pools or _id(rule) in nat_rules
            port = rp.get("backendPort") or rp.get("frontendPort")
            tcp = str(rp.get("protocol", "Tcp")) in ("Tcp", "All")
            if reaches and port == backend_port and tcp and not rp.get("enableFloatingIP"):
                return str(rule.get("name", ""))
    return None


def _with_references(nic: Json, spec: LinkSpec, bind: bool) -> Json | None:
    """The NIC with this link's references added (bind) or removed; None when nothing would change.

    Any other reference into the link's load balancer goes in both cases: it points at a pool or NAT rule the
    link no longer has (e.g. the NAT rule of a former port), which ARM refuses in a NIC update.
    """
    primary = _primary_ip_configuration(nic)
    if primary is None:
        return None
    wanted = _nic_references(spec) if bind else {}
    ours = f"{str(spec.load_balancer_id).lower()}/"
    changed = False
    new_configs = []
    for config in _props(nic).get("ipConfigurations") or []:
        config_props = dict(_props(config))
        if config.get("name") == primary.get("name"):
            for key in _REFERENCE_KEYS:
                current = list(config_props.get(key) or [])
                ref = wanted.get(key, "")
                kept = [item for item in current if not _id(item).startswith(ours) or _id(item) == ref.lower()]
                if ref and not any(_id(item) == ref.lower() for item in kept):
                    kept.append({"id": ref})
                if kept != current:
                    changed = True
                if key in config_props or kept:
                    config_props[key] = kept
        config_props.pop("provisioningState", None)
        new_configs.append({"name": config.get("name"), "id": config.get("id"), "properties": config_props})
    if not changed:
        return None
    properties = {key: value for key, value in _props(nic).items() if key != "provisioningState"}
    properties["ipConfigurations"] = new_configs
    body = {key: nic[key] for key in ("location", "tags") if key in nic}
    return body | {"properties": properties}


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


def _identity_shape(pls: Json) -> Json:
    """What an existing PLS cannot change: its frontends and its primary NAT IP configuration's subnet."""
    props = _props(pls)
    return {
        "frontends": sorted(_id(ref) for ref in props.get("loadBalancerFrontendIpConfigurations") or []),
        "natSubnets": sorted(_id(_props(c).get("subnet")) for c in props.get("ipConfigurations") or []),
    }


def _settings_shape(pls: Json) -> Json:
    props = _props(pls)
    return {
        "owner": owner_of(pls),
        "proxy": bool(props.get("enableProxyProtocol", False)),
        "visibility": sorted(s.lower() for s in (props.get("visibility") or {}).get("subscriptions") or []),
        "autoApproval": sorted(s.lower() for s in (props.get("autoApproval") or {}).get("subscriptions") or []),
    }


def private_link_service_needs_replacing(pls: Json, desired: Json) -> bool:
    return _identity_shape(pls) != _identity_shape(desired)


def private_link_service_conforms(pls: Json, desired: Json) -> bool:
    return not private_link_service_needs_replacing(pls, desired) and _settings_shape(pls) == _settings_shape(desired)


def alias_of(pls: Json) -> str | None:
    alias = _props(pls).get("alias")
    return str(alias) if alias else None


def connections_of(pls: Json) -> list[Json]:
    return list(_props(pls).get("privateEndpointConnections") or [])
