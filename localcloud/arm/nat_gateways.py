"""NAT gateways: Standard SKU, with Standard public IPs of their region (each used by nothing else), attached to
subnets (a subnet's `natGateway`), which the gateway shows as `subnets`. Outbound traffic is not modelled.
"""

from __future__ import annotations

from typing import Any

from localcloud.arm import errors
from localcloud.arm.associations import in_use, public_ip_holder, public_ip_in_use, resolve, subnets_linking
from localcloud.arm.engine import Change, Kind, envelope
from localcloud.arm.ids import ResourceId
from localcloud.arm.protocol import Context, Timing
from localcloud.arm.state import ArmState, Resource
from localcloud.arm.validation import enum, integer, location_of, without

_HANDLED = ("subnets", "resourceGuid", "publicIpAddresses", "idleTimeoutInMinutes")


class NatGateways(Kind):
    types = ("natGateways",)
    timing = Timing(put=2, delete=8, retry_after=10, notify=True)

    def prepare(self, ctx: Context, rid: ResourceId, existing: Resource | None, body: dict[str, Any]) -> Change:
        location = location_of(body)
        props = body.get("properties") or {}
        sku = body.get("sku") or {"name": "Standard"}
        if not isinstance(sku, dict):
            raise errors.invalid_request_format("Property 'sku' must be an object.")
        stored_sku = {"name": enum(sku.get("name"), ("Standard", "StandardV2"), "sku.name", default="Standard")}
        refs = props.get("publicIpAddresses") or []
        if not isinstance(refs, list):
            raise errors.invalid_request_format("Property 'publicIpAddresses' must be an array of resource references.")
        addresses: list[str] = []
        for ref in refs:
            pip = resolve(
                ctx.state,
                ref,
                ("publicIPAddresses",),
                field="publicIpAddresses",
                referencing=str(rid),
                location=location,
            )
            holder = public_ip_holder(ctx.state, pip.key, exclude={rid.key})
            if holder is not None:
                raise public_ip_in_use(pip.id, holder)
            if pip.id not in addresses:
                addresses.append(pip.id)
        stored: dict[str, Any] = {
            "idleTimeoutInMinutes": integer(props.get("idleTimeoutInMinutes"), "idleTimeoutInMinutes", 4, 120, 4),
            **without(props, *_HANDLED),
        }
        if addresses:
            stored["publicIpAddresses"] = [{"id": address} for address in addresses]
        extra: dict[str, Any] = {}
        if body.get("zones") is not None:
            extra["zones"] = body["zones"]
        return Change(properties=stored, location=location, tags=body.get("tags"), sku=stored_sku, extra=extra)

    def render(self, state: ArmState, resource: Resource) -> dict[str, Any]:
        props: dict[str, Any] = {"resourceGuid": resource.resource_guid, **resource.properties}
        subnets = subnets_linking(state, "natGateway", resource.key)
        if subnets:
            props["subnets"] = [{"id": subnet} for subnet in subnets]
        body = envelope(resource, props)
        if resource.extra.get("zones") is not None:
            body["zones"] = resource.extra["zones"]
        return body

    def check_delete(self, ctx: Context, resource: Resource) -> None:
        subnets = subnets_linking(ctx.state, "natGateway", resource.key)
        if subnets:
            raise in_use(
                "InUseNatGatewayCannotBeDeleted",
                f"Nat Gateway {resource.id} cannot be deleted because it is in use by subnet(s) {', '.join(subnets)}.",
            )
