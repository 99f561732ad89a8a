"""Load balancers (internal, Standard SKU) and their children.

Frontends, pools, probes, load-balancing rules and inbound NAT rules live in the LB body; backendAddressPools and
inboundNatRules also have child PUT/DELETE, while probes, rules and frontends are read through GET/list only (as
in the real API). Pool members and NAT rule targets are read-only views of the NICs that reference them.
"""

from __future__ import annotations

import copy
from typing import Any

from localcloud.arm import errors
from localcloud.arm.addressing import Allocator
from localcloud.arm.engine import Change, Kind, envelope, require_group
from localcloud.arm.ids import PROVIDER, ResourceId, parse_id
from localcloud.arm.interfaces import NetworkInterfaces
from localcloud.arm.links import link_services_using, nic_configs_referencing, nics_bound_to, resolve_subnet
from localcloud.arm.protocol import (
    Context,
    Reply,
    Timing,
    check_conditions,
    check_not_locked,
    emit,
    lro_headers,
    start_operation,
)
from localcloud.arm.state import ArmState, Resource
from localcloud.arm.validation import (
    check_name,
    enum,
    integer,
    location_of,
    named_items,
    parse_reference,
    reference,
    without,
)

CHILDREN = ("frontendIPConfigurations", "backendAddressPools", "loadBalancingRules", "probes", "inboundNatRules")
_BACK_REFERENCES = (
    "backendIPConfigurations",
    "backendIPConfiguration",
    "loadBalancingRules",
    "inboundNatRules",
    "outboundRule",
    "outboundRules",
    "inboundNatPools",
    "privateLinkService",
)


class LoadBalancers(Kind):
    types = ("loadBalancers",)
    timing = Timing(put=8, delete=8, retry_after=10, notify=True)

    def prepare(self, ctx: Context, rid: ResourceId, existing: Resource | None, body: dict[str, Any]) -> Change:
        location = location_of(body)
        sku = dict(body.get("sku") or {"name": "Basic"})
        sku["name"] = enum(sku.get("name"), ("Basic", "Standard", "Gateway"), "sku.name")
        sku["tier"] = enum(sku.get("tier"), ("Regional", "Global"), "sku.tier", default="Regional")
        stored = self.build(ctx, rid, location, body.get("properties") or {}, existing)
        return Change(properties=stored, location=location, tags=body.get("tags"), sku=sku)

    def build(
        self, ctx: Context, rid: ResourceId, location: str, props: dict[str, Any], existing: Resource | None
    ) -> dict[str, Any]:
        """The stored LB properties from a full body (also used by the child PUTs, which edit one list)."""
        lb_id = str(rid)
        frontends = named_items(props.get("frontendIPConfigurations"), "frontendIPConfigurations")
        pools = named_items(props.get("backendAddressPools"), "backendAddressPools")
        probes = named_items(props.get("probes"), "probes")
        rules = named_items(props.get("loadBalancingRules"), "loadBalancingRules")
        nat_rules = named_items(props.get("inboundNatRules"), "inboundNatRules")
        names = {
            kind: {item["name"].lower(): item["name"] for item in items}
            for kind, items in (
                ("frontendIPConfigurations", frontends),
                ("backendAddressPools", pools),
                ("probes", probes),
            )
        }

        def sibling(ref: Any, child_type: str, referencing: str) -> str:
            """A reference to another child of this same LB, as that child's canonical id."""
            target = reference(ref, child_type)
            parsed = parse_reference(target, referencing)
            known = names[child_type]
            if (
                parsed.types != (*self.types, child_type)
                or parsed.top.key != rid.key
                or parsed.name.lower() not in known
            ):
                raise errors.invalid_resource_reference(target, referencing)
            return str(rid.child(child_type, known[parsed.name.lower()]))

        previous = {
            f["name"].lower(): f["properties"].get("privateIPAddress")
            for f in (existing.properties.get("frontendIPConfigurations", []) if existing else [])
        }
        allocator = Allocator(ctx.state, exclude={rid.key})
        stored_frontends = []
        for item in frontends:
            p = item.get("properties") or {}
            config_id = f"{lb_id}/frontendIPConfigurations/{item['name']}"
            stored: dict[str, Any] = {}
            if p.get("publicIPAddress"):
                stored["publicIPAddress"] = {"id": reference(p["publicIPAddress"], "publicIPAddress")}
            else:
                subnet = resolve_subnet(ctx.state, p.get("subnet"), lb_id, location)
                method = enum(
                    p.get("privateIPAllocationMethod"),
                    ("Static", "Dynamic"),
                    "privateIPAllocationMethod",
                    default="Dynamic",
                )
                ip = allocator.assign(
                    subnet, config_id, method, p.get("privateIPAddress"), previous.get(item["name"].lower())
                )
                stored.update(
                    {
                        "privateIPAddress": ip,
                        "privateIPAllocationMethod": method,
                        "subnet": {"id": subnet.id},
                        "privateIPAddressVersion": "IPv4",
                    }
                )
            stored.update(
                without(
                    p,
                    "privateIPAddress",
                    "privateIPAllocationMethod",
                    "subnet",
                    "publicIPAddress",
                    "privateIPAddressVersion",
                    *_BACK_REFERENCES,
                )
            )
            entry: dict[str, Any] = {"name": item["name"], "properties": stored}
            if item.get("zones"):
                entry["zones"] = item["zones"]
            stored_frontends.append(entry)

        stored_pools = [
            {"name": item["name"], "properties": without(item.get("properties") or {}, *_BACK_REFERENCES)}
            for item in pools
        ]

        stored_probes = []
        for item in probes:
            p = item.get("properties") or {}
            protocol = enum(p.get("protocol"), ("Tcp", "Http", "Https"), "protocol")
            probe: dict[str, Any] = {
                "protocol": protocol,
                "port": integer(p.get("port"), "port", 1, 65535),
                "intervalInSeconds": integer(p.get("intervalInSeconds"), "intervalInSeconds", 5, 2147483647, 15),
                "numberOfProbes": integer(p.get("numberOfProbes"), "numberOfProbes", 1, 2147483647, 2),
                "probeThreshold": integer(p.get("probeThreshold"), "probeThreshold", 1, 2147483647, 1),
            }
            if protocol != "Tcp":
                if not p.get("requestPath"):
                    raise errors.invalid_request_format(f"Probe {lb_id}/probes/{item['name']} needs a requestPath.")
                probe["requestPath"] = p["requestPath"]
            stored_probes.append({"name": item["name"], "properties": probe})

        stored_rules = []
        for item in rules:
            p = item.get("properties") or {}
            rule_id = f"{lb_id}/loadBalancingRules/{item['name']}"
            frontend_port = integer(p.get("frontendPort"), "frontendPort", 0, 65534)
            rule: dict[str, Any] = {
                "frontendIPConfiguration": {
                    "id": sibling(p.get("frontendIPConfiguration"), "frontendIPConfigurations", rule_id)
                },
                "frontendPort": frontend_port,
                "backendPort": integer(p.get("backendPort"), "backendPort", 0, 65535, frontend_port),
                "enableFloatingIP": bool(p.get("enableFloatingIP", False)),
                "idleTimeoutInMinutes": integer(p.get("idleTimeoutInMinutes"), "idleTimeoutInMinutes", 4, 30, 4),
                "protocol": enum(p.get("protocol"), ("Tcp", "Udp", "All"), "protocol"),
                "enableTcpReset": bool(p.get("enableTcpReset", False)),
                "loadDistribution": enum(
                    p.get("loadDistribution"),
                    ("Default", "SourceIP", "SourceIPProtocol"),
                    "loadDistribution",
                    default="Default",
                ),
                "disableOutboundSnat": bool(p.get("disableOutboundSnat", False)),
            }
            if p.get("backendAddressPool"):
                rule["backendAddressPool"] = {"id": sibling(p["backendAddressPool"], "backendAddressPools", rule_id)}
            if p.get("probe"):
                rule["probe"] = {"id": sibling(p["probe"], "probes", rule_id)}
            stored_rules.append({"name": item["name"], "properties": rule})

        stored_nat = []
        for item in nat_rules:
            p = item.get("properties") or {}
            nat_id = f"{lb_id}/inboundNatRules/{item['name']}"
            nat: dict[str, Any] = {
                "frontendIPConfiguration": {
                    "id": sibling(p.get("frontendIPConfiguration"), "frontendIPConfigurations", nat_id)
                },
                "backendPort": integer(p.get("backendPort"), "backendPort", 1, 65535),
                "enableFloatingIP": bool(p.get("enableFloatingIP", False)),
                "idleTimeoutInMinutes": integer(p.get("idleTimeoutInMinutes"), "idleTimeoutInMinutes", 4, 30, 4),
                "protocol": enum(p.get("protocol"), ("Tcp", "Udp", "All"), "protocol"),
                "enableTcpReset": bool(p.get("enableTcpReset", False)),
            }
            pool = p.get("backendAddressPool")
            nat.update(_nat_rule_ports(p, nat_id, sibling(pool, "backendAddressPools", nat_id) if pool else None))
            stored_nat.append({"name": item["name"], "properties": nat})

        return {
            "frontendIPConfigurations": stored_frontends,
            "backendAddressPools": stored_pools,
            "loadBalancingRules": stored_rules,
            "probes": stored_probes,
            "inboundNatRules": stored_nat,
            "outboundRules": props.get("outboundRules") or [],
            "inboundNatPools": props.get("inboundNatPools") or [],
            **without(props, *CHILDREN, "outboundRules", "inboundNatPools", "resourceGuid"),
        }

    def child_view(self, state: ArmState, lb: Resource, child_type: str, item: dict[str, Any]) -> dict[str, Any]:
        child_id = f"{lb.id}/{child_type}/{item['name']}"
        props: dict[str, Any] = {"provisioningState": lb.state, **item["properties"]}

        def referencing(rule_type: str, field: str) -> list[dict[str, str]]:
            """Rules of `rule_type` whose `field` points at this child."""
            return [
                {"id": f"{lb.id}/{rule_type}/{other['name']}"}
                for other in lb.properties[rule_type]
                if (other["properties"].get(field) or {}).get("id", "").lower() == child_id.lower()
            ]

        if child_type == "frontendIPConfigurations":
            for rule_type in ("loadBalancingRules", "inboundNatRules"):
                refs = referencing(rule_type, "frontendIPConfiguration")
                if refs:
                    props[rule_type] = refs
        elif child_type == "backendAddressPools":
            members = nic_configs_referencing(state, child_id, "loadBalancerBackendAddressPools")
            if members:
                props["backendIPConfigurations"] = [{"id": m} for m in members]
            for rule_type in ("loadBalancingRules", "inboundNatRules"):
                refs = referencing(rule_type, "backendAddressPool")
                if refs:
                    props[rule_type] = refs
        elif child_type == "probes":
            refs = referencing("loadBalancingRules", "probe")
            if refs:
                props["loadBalancingRules"] = refs
        elif child_type == "inboundNatRules":
            targets = nic_configs_referencing(state, child_id, "loadBalancerInboundNatRules")
            if targets:
                props["backendIPConfiguration"] = {"id": targets[0]}
        view: dict[str, Any] = {
            "name": item["name"],
            "id": child_id,
            "etag": lb.etag,
            "type": f"{PROVIDER}/loadBalancers/{child_type}",
            "properties": props,
        }
        if item.get("zones"):
            view["zones"] = item["zones"]
        return view

    def render(self, state: ArmState, resource: Resource) -> dict[str, Any]:
        props: dict[str, Any] = {"resourceGuid": resource.resource_guid}
        for child_type in CHILDREN:
            props[child_type] = [
                self.child_view(state, resource, child_type, item) for item in resource.properties[child_type]
            ]
        props.update({k: v for k, v in resource.properties.items() if k not in CHILDREN})
        return envelope(resource, props)

    def check_delete(self, ctx: Context, resource: Resource) -> None:
        users = link_services_using(ctx.state, resource)
        if users:
            raise errors.lb_used_by_pls(resource.id, users[0].id)

    def deleted(self, ctx: Context, resource: Resource) -> None:
        drop_nic_references(ctx.state, resource.id + "/")


def _nat_rule_ports(props: dict[str, Any], nat_id: str, pool_id: str | None) -> dict[str, Any]:
    """A V1 rule's `frontendPort` (bound by a NIC), or a V2 rule's `frontendPortRangeStart`/`End` and
    `backendAddressPool` (the rule maps port start+i to the i-th member of the pool). ARM refuses a mix."""
    v2 = {"frontendPortRangeStart", "frontendPortRangeEnd", "backendAddressPool"} & {
        name for name, value in props.items() if value is not None
    }
    if not v2:
        return {"frontendPort": integer(props.get("frontendPort"), "frontendPort", 1, 65534)}
    if props.get("frontendPort") not in (None, 0) or len(v2) != 3:
        raise errors.invalid_request_format(
            f"Inbound NAT rule {nat_id} must have either frontendPort, or frontendPortRangeStart, "
            "frontendPortRangeEnd and backendAddressPool."
        )
    start = integer(props.get("frontendPortRangeStart"), "frontendPortRangeStart", 1, 65534)
    end = integer(props.get("frontendPortRangeEnd"), "frontendPortRangeEnd", 1, 65534)
    if end < start:
        raise errors.invalid_request_format(f"Inbound NAT rule {nat_id}: frontendPortRangeEnd is below its start.")
    return {
        "frontendPortRangeStart": start,
        "frontendPortRangeEnd": end,
        "backendAddressPool": {"id": pool_id},
    }


def frontend_ports(rule: dict[str, Any]) -> range:
    """The frontend ports a NAT rule (V1 or V2) or load-balancing rule listens on."""
    if "frontendPortRangeStart" in rule:
        return range(rule["frontendPortRangeStart"], rule["frontendPortRangeEnd"] + 1)
    return range(rule["frontendPort"], rule["frontendPort"] + 1)


def drop_nic_references(state: ArmState, prefix: str) -> None:
    """Remove NIC pool / NAT rule references to children whose ids start with `prefix` (they are gone)."""
    prefix = prefix.lower()
    parsed = parse_id(prefix.rstrip("/"))
    if parsed is None:
        return
    for nic in nics_bound_to(state, parsed.top.key):
        changed = False
        for config in nic.properties.get("ipConfigurations", []):
            for field in ("loadBalancerBackendAddressPools", "loadBalancerInboundNatRules"):
                refs = config["properties"].get(field)
                if not refs:
                    continue
                kept = [ref for ref in refs if not (ref["id"].lower() + "/").startswith(prefix)]
                if len(kept) != len(refs):
                    changed = True
                    if kept:
                        config["properties"][field] = kept
                    else:
                        del config["properties"][field]
        if changed:
            nic.touch()
            state.put(nic)  # its references changed in place: index them again


class LoadBalancerChildren:
    """GET/list (and for pools and NAT rules, PUT/DELETE) of one kind of load balancer child."""

    def __init__(self, lbs: LoadBalancers, child_type: str, writable: bool):
        self._lbs = lbs
        self.child_type = child_type
        self.writable = writable
        self.timing = Timing(put=8, delete=8, retry_after=10, notify=False)

    def _lb(self, ctx: Context, rid: ResourceId) -> Resource:
        require_group(ctx, rid.subscription, rid.resource_group)
        lb = ctx.state.get(rid.top)
        if lb is None:
            raise errors.resource_not_found(rid.top.type, rid.top.name, rid.resource_group)
        return lb

    def _find(self, lb: Resource, name: str) -> dict[str, Any] | None:
        return next((i for i in lb.properties[self.child_type] if i["name"].lower() == name.lower()), None)

    def get(self, ctx: Context, rid: ResourceId) -> Reply:
        lb = self._lb(ctx, rid)
        item = self._find(lb, rid.name)
        if item is None:
            raise errors.child_not_found(str(rid))
        return Reply(200, self._lbs.child_view(ctx.state, lb, self.child_type, item), {"ETag": lb.etag})

    def list(self, ctx: Context, parent: ResourceId) -> Reply:
        lb = self._lb(ctx, parent.child(self.child_type, "_"))
        return Reply(
            200,
            {
                "value": [
                    self._lbs.child_view(ctx.state, lb, self.child_type, i) for i in lb.properties[self.child_type]
                ]
            },
        )

    def put(self, ctx: Context, rid: ResourceId, body: Any) -> Reply:
        require_group(ctx, rid.subscription, rid.resource_group, writing=True)
        check_name(rid.name)
        lb = self._lb(ctx, rid)
        item = self._find(lb, rid.name)
        check_conditions(ctx, lb.etag if item is not None else None)
        check_not_locked(ctx, lb.key)
        if not isinstance(body, dict):
            raise errors.invalid_request_format("The request body must be a JSON object.")
        name = item["name"] if item is not None else rid.name
        props = copy.deepcopy(lb.properties)
        replacement = {"name": name, "properties": body.get("properties") or {}}
        props[self.child_type] = [
            replacement if i["name"].lower() == name.lower() else i for i in props[self.child_type]
        ]
        if item is None:
            props[self.child_type].append(replacement)
        assert lb.location is not None
        lb.properties = self._lbs.build(ctx, lb.rid, lb.location, props, lb)
        lb.state = "Updating"
        lb.touch()
        ctx.state.put(lb)
        child_id = f"{lb.id}/{self.child_type}/{name}"
        operation = start_operation(
            ctx,
            subscription=lb.rid.subscription,
            location=lb.location,
            seconds=self.timing.put,
            retry_after=self.timing.retry_after,
            lock_keys=(lb.key,),
            finish=self._finish(ctx, lb, child_id, "write", created=item is None),
        )
        stored = self._find(lb, name)
        assert stored is not None
        return Reply(
            201 if item is None else 200,
            self._lbs.child_view(ctx.state, lb, self.child_type, stored),
            lro_headers(ctx, operation, location_header=False, notify=False),
        )

    def delete(self, ctx: Context, rid: ResourceId) -> Reply:
        require_group(ctx, rid.subscription, rid.resource_group, writing=True)
        lb = self._lb(ctx, rid)
        item = self._find(lb, rid.name)
        if item is None:
            check_conditions(ctx, None)
            return Reply(204)
        check_conditions(ctx, lb.etag)
        check_not_locked(ctx, lb.key)
        child_id = f"{lb.id}/{self.child_type}/{item['name']}"
        lb.state = "Updating"

        def remove(succeeded: bool) -> None:
            if succeeded:
                lb.properties[self.child_type] = [i for i in lb.properties[self.child_type] if i is not item]
                drop_nic_references(ctx.state, child_id + "/")
                lb.touch()
                ctx.state.put(lb)
            self._finish(ctx, lb, child_id, "delete", created=False)(succeeded)

        assert lb.location is not None
        operation = start_operation(
            ctx,
            subscription=lb.rid.subscription,
            location=lb.location,
            seconds=self.timing.delete,
            retry_after=self.timing.retry_after,
            lock_keys=(lb.key,),
            finish=remove,
            deletes=True,
        )
        return Reply(202, None, lro_headers(ctx, operation, location_header=True, notify=False))

    def _finish(self, ctx: Context, lb: Resource, child_id: str, verb: str, *, created: bool) -> Any:
        def finish(succeeded: bool) -> None:
            if ctx.state.get(lb.rid) is not lb:
                return
            lb.state = "Succeeded" if succeeded else "Failed"
            if succeeded:
                emit(
                    ctx,
                    verb="Write" if verb == "write" else "Delete",
                    resource_id=child_id,
                    subscription=lb.rid.subscription,
                    resource_group=lb.rid.resource_group,
                    operation_name=f"{PROVIDER}/loadBalancers/{self.child_type}/{verb}",
                    created=created,
                )

        return finish


class LoadBalancerInterfaces:
    """`GET .../loadBalancers/{lb}/networkInterfaces`: the NICs bound to the LB's pools or NAT rules."""

    def __init__(self, nics: NetworkInterfaces):
        self._nics = nics

    def list(self, ctx: Context, parent: ResourceId) -> Reply:
        require_group(ctx, parent.subscription, parent.resource_group)
        lb = ctx.state.get(parent)
        if lb is None:
            raise errors.resource_not_found(parent.type, parent.name, parent.resource_group)
        bound = nics_bound_to(ctx.state, lb.key)
        return Reply(200, {"value": [self._nics.render(ctx.state, nic) for nic in bound]})
