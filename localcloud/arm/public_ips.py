"""Public IP addresses: Standard SKU, static IPv4 (Basic SKU public IPs retired in 2025). Addresses come from the
documentation ranges (RFC 5737), so nothing localcloud hands out is anybody's real address. A public IP shows what
uses it: `ipConfiguration` (a NIC ip configuration or a load balancer frontend) or `natGateway`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from localcloud.arm import errors
from localcloud.arm.associations import in_use, public_ip_holder
from localcloud.arm.engine import Change, Kind, envelope
from localcloud.arm.ids import ResourceId
from localcloud.arm.protocol import Context, Timing
from localcloud.arm.state import ArmState, Resource
from localcloud.arm.validation import enum, integer, location_of, without

POOLS = tuple(ipaddress.ip_network(p) for p in ("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24"))
_FIELDS = ("publicIPAllocationMethod", "publicIPAddressVersion", "idleTimeoutInMinutes", "dnsSettings")
_READ_ONLY = ("ipAddress", "ipConfiguration", "natGateway", "resourceGuid", "ipTags")


def _allocate(state: ArmState) -> str:
    taken = {pip.extra.get("ip_address") for pip in state.of_type("publicIPAddresses")}
    for pool in POOLS:
        for address in list(pool.hosts())[1:]:
            if str(address) not in taken:
                return str(address)
    raise errors.ArmError(
        400,
        "PublicIPCountLimitReached",
        "Cannot create more than 762 public IP addresses for this subscription in this region.",
        details=[],
    )


def _sku(body: dict[str, Any], pip_id: str) -> dict[str, str]:
    sku = body.get("sku") or {"name": "Standard"}
    if not isinstance(sku, dict):
        raise errors.invalid_request_format("Property 'sku' must be an object.")
    name = enum(sku.get("name"), ("Basic", "Standard"), "sku.name", default="Standard")
    if name != "Standard":
        raise errors.ArmError(
            400,
            "BasicSkuPublicIpIsNotAllowed",
            f"Public IP address {pip_id} cannot be created with the Basic SKU, which is retired; use Standard.",
            details=[],
        )
    return {"name": name, "tier": enum(sku.get("tier"), ("Regional", "Global"), "sku.tier", default="Regional")}


class PublicIPAddresses(Kind):
    types = ("publicIPAddresses",)
    timing = Timing(put=2, delete=8, retry_after=10, notify=True)

    def prepare(self, ctx: Context, rid: ResourceId, existing: Resource | None, body: dict[str, Any]) -> Change:
        location = location_of(body)
        props = body.get("properties") or {}
        sku = _sku(body, str(rid))
        method = enum(
            props.get("publicIPAllocationMethod"), ("Static", "Dynamic"), "publicIPAllocationMethod", default="Static"
        )
        if method != "Static":
            raise errors.ArmError(
                400,
                "StandardSkuPublicIPAddressesMustBeStatic",
                f"Standard sku publicIp {rid} must be static.",
                details=[],
            )
        version = enum(props.get("publicIPAddressVersion"), ("IPv4",), "publicIPAddressVersion", default="IPv4")
        stored: dict[str, Any] = {
            "publicIPAllocationMethod": method,
            "publicIPAddressVersion": version,
            "idleTimeoutInMinutes": integer(props.get("idleTimeoutInMinutes"), "idleTimeoutInMinutes", 4, 30, 4),
        }
        dns = props.get("dnsSettings")
        if isinstance(dns, dict) and dns.get("domainNameLabel"):
            label = str(dns["domainNameLabel"]).lower()
            stored["dnsSettings"] = {"domainNameLabel": label, "fqdn": f"{label}.{location}.cloudapp.azure.com"}
        stored.update(without(props, *_FIELDS, *_READ_ONLY))
        address = existing.extra.get("ip_address") if existing else None
        extra = {"ip_address": address or _allocate(ctx.state)}
        zones = body.get("zones")
        if zones is not None:
            extra["zones"] = list(zones) if isinstance(zones, list) else zones
        return Change(properties=stored, location=location, tags=body.get("tags"), sku=sku, extra=extra)

    def render(self, state: ArmState, resource: Resource) -> dict[str, Any]:
        props: dict[str, Any] = {
            "resourceGuid": resource.resource_guid,
            "ipAddress": resource.extra["ip_address"],
            "ipTags": [],
            **resource.properties,
        }
        holder = public_ip_holder(state, resource.key, exclude=set())
        if holder is not None:
            props["natGateway" if "/natgateways/" in holder.lower() else "ipConfiguration"] = {"id": holder}
        body = envelope(resource, props)
        if resource.extra.get("zones") is not None:
            body["zones"] = resource.extra["zones"]
        return body

    def check_delete(self, ctx: Context, resource: Resource) -> None:
        holder = public_ip_holder(ctx.state, resource.key, exclude=set())
        if holder is not None:
            raise in_use(
                "PublicIPAddressCannotBeDeleted",
                f"Public IP address {resource.id} can not be deleted since it is still allocated to resource "
                f"{holder}. In order to delete the public IP, disassociate/detach the Public IP address from the "
                "resource. To learn how to do this, see aka.ms/deletepublicip.",
            )
