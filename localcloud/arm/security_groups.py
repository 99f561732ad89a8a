"""Network security groups and application security groups.

An NSG holds security rules (priority 100-4096, unique per direction) and shows Azure's six default rules
(`defaultSecurityRules`, read-only) and who uses it: `subnets` and `networkInterfaces`. A rule may name
application security groups as its source or destination; NIC ip configurations name the ASGs they belong to.
Rules are not applied to the data path (dataplane.py): they are stored, validated and shown.
"""

from __future__ import annotations

from typing import Any

from localcloud.arm import errors, index
from localcloud.arm.associations import in_use, nic_configs_linking, nics_linking, resolve, subnets_linking
from localcloud.arm.embedded import child_view
from localcloud.arm.engine import Change, Kind, envelope
from localcloud.arm.ids import ResourceId
from localcloud.arm.protocol import Context, Timing
from localcloud.arm.state import ArmState, Resource
from localcloud.arm.validation import enum, integer, location_of, named_items, without

PROTOCOLS = ("Tcp", "Udp", "Icmp", "Esp", "Ah", "*")
_NSG_READ_ONLY = ("defaultSecurityRules", "subnets", "networkInterfaces", "flowLogs", "resourceGuid")
_RULE_FIELDS = (
    "protocol",
    "access",
    "priority",
    "direction",
    "sourcePortRange",
    "sourcePortRanges",
    "destinationPortRange",
    "destinationPortRanges",
    "sourceAddressPrefix",
    "sourceAddressPrefixes",
    "destinationAddressPrefix",
    "destinationAddressPrefixes",
    "sourceApplicationSecurityGroups",
    "destinationApplicationSecurityGroups",
)

# Azure's default rules of every NSG (name, direction, priority, source, destination, access, description).
_DEFAULTS = (
    (
        "AllowVnetInBound",
        "Inbound",
        65000,
        "VirtualNetwork",
        "VirtualNetwork",
        "Allow",
        "Allow inbound traffic from all VMs in VNET",
    ),
    (
        "AllowAzureLoadBalancerInBound",
        "Inbound",
        65001,
        "AzureLoadBalancer",
        "*",
        "Allow",
        "Allow inbound traffic from azure load balancer",
    ),
    ("DenyAllInBound", "Inbound", 65500, "*", "*", "Deny", "Deny all inbound traffic"),
    (
        "AllowVnetOutBound",
        "Outbound",
        65000,
        "VirtualNetwork",
        "VirtualNetwork",
        "Allow",
        "Allow outbound traffic from all VMs to all VMs in VNET",
    ),
    (
        "AllowInternetOutBound",
        "Outbound",
        65001,
        "*",
        "Internet",
        "Allow",
        "Allow outbound traffic from all VMs to Internet",
    ),
    ("DenyAllOutBound", "Outbound", 65500, "*", "*", "Deny", "Deny all outbound traffic"),
)


def default_rules() -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "properties": {
                "description": description,
                "protocol": "*",
                "sourcePortRange": "*",
                "destinationPortRange": "*",
                "sourceAddressPrefix": source,
                "destinationAddressPrefix": destination,
                "access": access,
                "priority": priority,
                "direction": direction,
                "sourcePortRanges": [],
                "destinationPortRanges": [],
                "sourceAddressPrefixes": [],
                "destinationAddressPrefixes": [],
            },
        }
        for name, direction, priority, source, destination, access, description in _DEFAULTS
    ]


def _strings(value: Any, field: str, rule_id: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise errors.invalid_request_format(
            f"Property '{field}' of security rule {rule_id} must be an array of strings."
        )
    return list(value)


def _one_or_many(props: dict[str, Any], single: str, rule_id: str, *, required: bool) -> dict[str, Any]:
    """`sourcePortRange` or `sourcePortRanges` (and the like): exactly one of the two forms, as ARM wants."""
    many = f"{single}s" if not single.endswith("Prefix") else f"{single}es"
    one, several = props.get(single), props.get(many)
    if one not in (None, "") and several:
        raise errors.invalid_request_format(f"Security rule {rule_id} may set only one of '{single}' and '{many}'.")
    if one not in (None, ""):
        return {single: str(one)}
    if several:
        return {many: _strings(several, many, rule_id)}
    if required:
        raise errors.invalid_request_format(f"Security rule {rule_id} must have '{single}' or '{many}'.")
    return {}


def rule_properties(state: ArmState, props: dict[str, Any], rule_id: str, location: str | None) -> dict[str, Any]:
    stored: dict[str, Any] = {
        "protocol": enum(props.get("protocol"), PROTOCOLS, "protocol"),
        "access": enum(props.get("access"), ("Allow", "Deny"), "access"),
        "priority": integer(props.get("priority"), "priority", 100, 4096),
        "direction": enum(props.get("direction"), ("Inbound", "Outbound"), "direction"),
    }
    for side in ("source", "destination"):
        stored.update(_one_or_many(props, f"{side}PortRange", rule_id, required=True))
        groups_field = f"{side}ApplicationSecurityGroups"
        groups = props.get(groups_field) or []
        if not isinstance(groups, list):
            raise errors.invalid_request_format(f"Property '{groups_field}' must be an array of resource references.")
        if groups:
            stored[groups_field] = [
                {
                    "id": resolve(
                        state,
                        ref,
                        ("applicationSecurityGroups",),
                        field=groups_field,
                        referencing=rule_id,
                        location=location,
                    ).id
                }
                for ref in groups
            ]
        prefixes = _one_or_many(props, f"{side}AddressPrefix", rule_id, required=not groups)
        if prefixes and groups:
            raise errors.invalid_request_format(
                f"Security rule {rule_id} may name {side} address prefixes or {side} application security groups, "
                "not both."
            )
        stored.update(prefixes)
    stored.update(without(props, *_RULE_FIELDS))
    return stored


def _conflict(rule_id: str, other_id: str) -> errors.ArmError:
    return errors.ArmError(
        400,
        "SecurityRuleConflict",
        f"Security rule {rule_id} conflicts with rule {other_id}. Rules cannot have the same Priority and Direction.",
        details=[],
    )


class NetworkSecurityGroups(Kind):
    types = ("networkSecurityGroups",)
    timing = Timing(put=2, delete=8, retry_after=10, notify=True)
    children = ("securityRules",)
    read_only_children = ("defaultSecurityRules",)

    def prepare(self, ctx: Context, rid: ResourceId, existing: Resource | None, body: dict[str, Any]) -> Change:
        location = location_of(body)
        props = body.get("properties") or {}
        rules = []
        taken: dict[tuple[str, int], str] = {}
        for item in named_items(props.get("securityRules"), "securityRules"):
            rule_id = f"{rid}/securityRules/{item['name']}"
            stored = rule_properties(ctx.state, item.get("properties") or {}, rule_id, location)
            earlier = taken.setdefault((stored["direction"], stored["priority"]), rule_id)
            if earlier != rule_id:
                raise _conflict(rule_id, earlier)
            rules.append({"name": item["name"], "properties": stored})
        stored_props = {
            "flushConnection": bool(props.get("flushConnection", False)),
            "securityRules": rules,
            **without(props, "securityRules", "flushConnection", *_NSG_READ_ONLY),
        }
        return Change(properties=stored_props, location=location, tags=body.get("tags"))

    def child_items(self, resource: Resource, child_type: str) -> list[dict[str, Any]]:
        if child_type == "defaultSecurityRules":
            return default_rules()
        items: list[dict[str, Any]] = resource.properties[child_type]
        return items

    def render(self, state: ArmState, resource: Resource) -> dict[str, Any]:
        props: dict[str, Any] = {"resourceGuid": resource.resource_guid, **resource.properties}
        for child_type in ("securityRules", "defaultSecurityRules"):
            props[child_type] = [child_view(resource, child_type, i) for i in self.child_items(resource, child_type)]
        subnets = subnets_linking(state, "networkSecurityGroup", resource.key)
        if subnets:
            props["subnets"] = [{"id": subnet} for subnet in subnets]
        nics = nics_linking(state, "networkSecurityGroup", resource.key)
        if nics:
            props["networkInterfaces"] = [{"id": nic} for nic in nics]
        return envelope(resource, props)

    def check_delete(self, ctx: Context, resource: Resource) -> None:
        users = [
            *subnets_linking(ctx.state, "networkSecurityGroup", resource.key),
            *nics_linking(ctx.state, "networkSecurityGroup", resource.key),
        ]
        if users:
            raise in_use(
                "InUseNetworkSecurityGroupCannotBeDeleted",
                f"Network security group {resource.id} cannot be deleted because it is in use by the following "
                f"resources: {', '.join(users)}. In order to delete the Network security group, remove the "
                "association with the resource(s). To learn how to do this, see aka.ms/deletensg.",
            )


def security_rules_naming(state: ArmState, asg_key: str) -> list[str]:
    """Ids of the NSG rules whose source or destination names the application security group `asg_key`."""
    return list(state.index.payloads(index.RULE_ASGS, asg_key))


class ApplicationSecurityGroups(Kind):
    types = ("applicationSecurityGroups",)
    timing = Timing(put=2, delete=8, retry_after=10, notify=True)

    def prepare(self, ctx: Context, rid: ResourceId, existing: Resource | None, body: dict[str, Any]) -> Change:
        location = location_of(body)
        props = without(body.get("properties") or {}, "resourceGuid")
        return Change(properties=props, location=location, tags=body.get("tags"))

    def render(self, state: ArmState, resource: Resource) -> dict[str, Any]:
        return envelope(resource, {"resourceGuid": resource.resource_guid, **resource.properties})

    def check_delete(self, ctx: Context, resource: Resource) -> None:
        configs = nic_configs_linking(ctx.state, "applicationSecurityGroups", resource.key)
        if configs:
            names = ", ".join(config.rsplit("/", 1)[-1] for config in configs)
            raise in_use(
                "InUseApplicationSecurityGroupCannotBeDeleted",
                f"Application Security Group {resource.rid.name} cannot be deleted because it is referenced by "
                f"IpConfiguration(s) {names}.",
            )
        rules = security_rules_naming(ctx.state, resource.key)
        if rules:
            raise in_use(
                "InUseApplicationSecurityGroupCannotBeDeleted",
                f"Application Security Group {resource.rid.name} cannot be deleted because it is referenced by "
                f"security rule(s) {', '.join(rules)}.",
            )
