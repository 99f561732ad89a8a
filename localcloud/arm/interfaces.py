"""Network interfaces. Load balancer pool membership and NAT rule binding are properties of a NIC's
ipConfigurations (a NIC PUT); private endpoints and private link services get NICs Azure manages for them.
"""

from __future__ import annotations

from typing import Any

from localcloud.arm import errors
from localcloud.arm.addressing import Allocator
from localcloud.arm.associations import CONFIG_LINK_FIELDS, NIC_LINK_FIELDS, config_links, nic_links
from localcloud.arm.backend_rules import check_backend_bindings
from localcloud.arm.engine import Change, Kind, envelope
from localcloud.arm.ids import ResourceId
from localcloud.arm.links import resolve_lb_child, resolve_subnet
from localcloud.arm.protocol import Context, Timing
from localcloud.arm.state import ArmState, Resource
from localcloud.arm.validation import enum, location_of, named_items, without

_NIC_READ_ONLY = (
    "ipConfigurations",
    "resourceGuid",
    "macAddress",
    "virtualMachine",
    "privateEndpoint",
    "privateLinkService",
    "hostedWorkloads",
    "tapConfigurations",
    "dscpConfiguration",
    "vnetEncryptionSupported",
    "primary",
)
_CONFIG_READ_ONLY = (
    "privateIPAddress",
    "privateIPAllocationMethod",
    "subnet",
    "primary",
    "privateIPAddressVersion",
    "loadBalancerBackendAddressPools",
    "loadBalancerInboundNatRules",
    "privateLinkConnectionProperties",
)
OWNER_FIELDS = ("privateEndpoint", "privateLinkService")


def managed_nic(
    rid: ResourceId, location: str, configs: list[dict[str, Any]], owner_field: str, owner_id: str
) -> Resource:
    """The NIC Azure creates for a private endpoint or private link service (not the client's to manage)."""
    return Resource(
        rid=rid,
        location=location,
        properties={"ipConfigurations": configs},
        state="Succeeded",
        extra={"owner": (owner_field, owner_id)},
    )


def config_properties(subnet_id: str, method: str, ip: str, primary: bool) -> dict[str, Any]:
    return {
        "privateIPAddress": ip,
        "privateIPAllocationMethod": method,
        "subnet": {"id": subnet_id},
        "primary": primary,
        "privateIPAddressVersion": "IPv4",
    }


class NetworkInterfaces(Kind):
    types = ("networkInterfaces",)
    timing = Timing(put=2, delete=8, retry_after=10, notify=True)

    def __init__(self, vm_id_of: Any):
        # vm_id_of(nic) -> the id of the VM seeded on that NIC, or None (control API: PUT /localcloud/vms/{name}).
        self._vm_id_of = vm_id_of

    def prepare(self, ctx: Context, rid: ResourceId, existing: Resource | None, body: dict[str, Any]) -> Change:
        location = location_of(body)
        props = body.get("properties") or {}
        items = named_items(props.get("ipConfigurations"), "ipConfigurations")
        if not items:
            raise errors.invalid_request_format(f"Network interface {rid} must have at least one ipConfiguration.")
        previous = {
            c["name"].lower(): c["properties"].get("privateIPAddress")
            for c in (existing.properties["ipConfigurations"] if existing else [])
        }
        allocator = Allocator(ctx.state, exclude={rid.key})
        explicit_primary = any((item.get("properties") or {}).get("primary") for item in items)
        configs = []
        public_ips: dict[str, str] = {}  # public IPs the ip configurations of this body took
        for index, item in enumerate(items):
            p = item.get("properties") or {}
            config_id = f"{rid}/ipConfigurations/{item['name']}"
            subnet = resolve_subnet(ctx.state, p.get("subnet"), str(rid), location)
            method = enum(
                p.get("privateIPAllocationMethod"),
                ("Static", "Dynamic"),
                "privateIPAllocationMethod",
                default="Dynamic",
            )
            ip = allocator.assign(
                subnet, config_id, method, p.get("privateIPAddress"), previous.get(item["name"].lower())
            )
            primary = bool(p.get("primary")) if explicit_primary else index == 0
            stored = config_properties(subnet.id, method, ip, primary)
            pools = [
                resolve_lb_child(ctx.state, ref, "backendAddressPools", config_id)
                for ref in p.get("loadBalancerBackendAddressPools") or []
            ]
            nat_rules = [
                resolve_lb_child(ctx.state, ref, "inboundNatRules", config_id)
                for ref in p.get("loadBalancerInboundNatRules") or []
            ]
            if pools:
                stored["loadBalancerBackendAddressPools"] = [{"id": pool} for pool in pools]
            if nat_rules:
                stored["loadBalancerInboundNatRules"] = [{"id": rule} for rule in nat_rules]
            stored.update(without(p, *_CONFIG_READ_ONLY, *CONFIG_LINK_FIELDS))
            stored.update(config_links(ctx.state, p, config_id, location=location, nic_key=rid.key, claimed=public_ips))
            configs.append({"name": item["name"], "properties": stored})
        check_backend_bindings(ctx.state, str(rid), configs)
        stored_props = {
            "ipConfigurations": configs,
            **without(props, *_NIC_READ_ONLY, *NIC_LINK_FIELDS),
            **nic_links(ctx.state, props, str(rid), location),
        }
        return Change(properties=stored_props, location=location, tags=body.get("tags"))

    def render(self, state: ArmState, resource: Resource) -> dict[str, Any]:
        configs = [
            {
                "name": config["name"],
                "id": f"{resource.id}/ipConfigurations/{config['name']}",
                "etag": resource.etag,
                "type": "Microsoft.Network/networkInterfaces/ipConfigurations",
                "properties": {"provisioningState": resource.state, **config["properties"]},
            }
            for config in resource.properties["ipConfigurations"]
        ]
        others = {k: v for k, v in resource.properties.items() if k != "ipConfigurations"}
        props: dict[str, Any] = {
            "resourceGuid": resource.resource_guid,
            "ipConfigurations": configs,
            "dnsSettings": {"dnsServers": [], "appliedDnsServers": []},
            "enableAcceleratedNetworking": False,
            "enableIPForwarding": False,
            **others,
        }
        owner = resource.extra.get("owner")
        if owner:
            props[owner[0]] = {"id": owner[1]}
        vm_id = self._vm_id_of(resource)
        if vm_id:
            props["virtualMachine"] = {"id": vm_id}
        return envelope(resource, props)

    def check_delete(self, ctx: Context, resource: Resource) -> None:
        owner = resource.extra.get("owner")
        if owner:
            raise _nic_in_use(resource.id, owner[1])


def _nic_in_use(nic_id: str, user_id: str) -> errors.ArmError:
    return errors.ArmError(
        400,
        "NicInUse",
        f"Network Interface {nic_id} is used by existing resource {user_id}. In order to delete the network "
        "interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.",
        details=[],
    )
