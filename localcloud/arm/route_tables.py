"""Route tables (user-defined routes). A spoke subnet of a hub-spoke network points at one, usually in the hub's
resource group, and a route table shows the subnets that use it (`subnets`, read-only).

Routes live in the table's body (`routes`) and are also served as `.../routeTables/{t}/routes/{r}` (extras.py).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from localcloud.arm import errors
from localcloud.arm.associations import in_use, subnets_linking
from localcloud.arm.embedded import child_view
from localcloud.arm.engine import Change, Kind, envelope
from localcloud.arm.ids import ResourceId
from localcloud.arm.protocol import Context, Timing
from localcloud.arm.state import ArmState, Resource
from localcloud.arm.validation import enum, location_of, named_items, without

NEXT_HOP_TYPES = ("VirtualNetworkGateway", "VnetLocal", "Internet", "VirtualAppliance", "None")
_READ_ONLY = ("subnets", "resourceGuid")


def _prefix(value: Any, route_id: str) -> str:
    """A CIDR prefix, or a service tag (`AzureCloud`, `Storage.WestEurope`) as ARM also accepts."""
    if not isinstance(value, str) or not value:
        raise errors.invalid_request_format(f"Route {route_id} must have an addressPrefix.")
    if value[0].isdigit() or ":" in value:
        try:
            return str(ipaddress.ip_network(value, strict=True))
        except ValueError as exc:
            raise errors.invalid_address_prefix(value, route_id) from exc
    return value


def route_properties(props: dict[str, Any], route_id: str) -> dict[str, Any]:
    hop = enum(props.get("nextHopType"), NEXT_HOP_TYPES, "nextHopType")
    stored: dict[str, Any] = {"addressPrefix": _prefix(props.get("addressPrefix"), route_id), "nextHopType": hop}
    address = props.get("nextHopIpAddress")
    if hop == "VirtualAppliance":
        try:
            stored["nextHopIpAddress"] = str(ipaddress.ip_address(str(address)))
        except ValueError as exc:
            raise errors.invalid_request_format(
                f"Route {route_id} has next hop type VirtualAppliance and needs a valid nextHopIpAddress."
            ) from exc
    elif address:
        raise errors.invalid_request_format(
            f"Route {route_id} may have a nextHopIpAddress only with next hop type VirtualAppliance."
        )
    stored.update(without(props, "addressPrefix", "nextHopType", "nextHopIpAddress", "hasBgpOverride"))
    return stored


class RouteTables(Kind):
    types = ("routeTables",)
    timing = Timing(put=2, delete=8, retry_after=10, notify=True)
    children = ("routes",)

    def prepare(self, ctx: Context, rid: ResourceId, existing: Resource | None, body: dict[str, Any]) -> Change:
        location = location_of(body)
        props = body.get("properties") or {}
        routes = []
        prefixes: dict[str, str] = {}
        for item in named_items(props.get("routes"), "routes"):
            route_id = f"{rid}/routes/{item['name']}"
            stored = route_properties(item.get("properties") or {}, route_id)
            earlier = prefixes.setdefault(stored["addressPrefix"].lower(), route_id)
            if earlier != route_id:
                raise errors.invalid_request_format(
                    f"Routes {earlier} and {route_id} have the same address prefix {stored['addressPrefix']}."
                )
            routes.append({"name": item["name"], "properties": stored})
        stored_props = {
            "disableBgpRoutePropagation": bool(props.get("disableBgpRoutePropagation", False)),
            "routes": routes,
            **without(props, "routes", "disableBgpRoutePropagation", *_READ_ONLY),
        }
        return Change(properties=stored_props, location=location, tags=body.get("tags"))

    def child_items(self, resource: Resource, child_type: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = resource.properties[child_type]
        return items

    def render(self, state: ArmState, resource: Resource) -> dict[str, Any]:
        props: dict[str, Any] = {"resourceGuid": resource.resource_guid, **resource.properties}
        props["routes"] = [child_view(resource, "routes", item) for item in resource.properties["routes"]]
        subnets = subnets_linking(state, "routeTable", resource.key)
        if subnets:
            props["subnets"] = [{"id": subnet} for subnet in subnets]
        return envelope(resource, props)

    def check_delete(self, ctx: Context, resource: Resource) -> None:
        if subnets_linking(ctx.state, "routeTable", resource.key):
            raise in_use(
                "InUseRouteTableCannotBeDeleted", f"Route table {resource.rid.name} is in use and cannot be deleted."
            )
