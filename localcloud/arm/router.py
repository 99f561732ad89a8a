"""ARM paths -> handlers, case-insensitively, with the scope and action each request needs authorization for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from localcloud.arm import errors
from localcloud.arm.balancers import CHILDREN, LoadBalancerChildren, LoadBalancerInterfaces, LoadBalancers
from localcloud.arm.endpoints import PrivateEndpoints, auto_approved, visible
from localcloud.arm.engine import Kind, delete_resource, get_resource, list_resources, patch_tags, put_resource
from localcloud.arm.extras import extra_children, extra_kinds
from localcloud.arm.groups import ResourceGroups
from localcloud.arm.ids import PROVIDER, TOP_TYPES, ResourceId, canonical_types
from localcloud.arm.interfaces import NetworkInterfaces
from localcloud.arm.networks import Subnets, VirtualNetworks
from localcloud.arm.operations import operation_status
from localcloud.arm.privatelink import EndpointConnections, PrivateLinkServices, find_service
from localcloud.arm.protocol import Context, Reply, emit
from localcloud.arm.state import Resource

Handler = Callable[[Context, Any], Reply]
_VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete", "POST": "action"}


@dataclass(frozen=True)
class Route:
    subscription: str
    scope: str
    action: str
    run: Handler
    subscription_wide: bool = False


def _not_allowed(method: str) -> errors.ArmError:
    return errors.ArmError(405, "MethodNotAllowed", f"The requested resource does not support http method '{method}'.")


def _unknown_type(type_path: str) -> errors.ArmError:
    return errors.ArmError(
        400, "InvalidResourceType", f"The resource type '{type_path}' could not be found in the namespace '{PROVIDER}'."
    )


class Router:
    def __init__(self, vm_id_of: Callable[[Resource], str | None]):
        subnets = Subnets()
        nics = NetworkInterfaces(vm_id_of)
        lbs = LoadBalancers()
        extras = extra_kinds()  # route tables, NSGs, ASGs, NAT gateways, public IPs, service endpoint policies
        kinds: list[Kind] = [
            VirtualNetworks(subnets),
            subnets,
            nics,
            lbs,
            PrivateLinkServices(),
            PrivateEndpoints(),
            *extras,
        ]
        self.kinds = {kind.types: kind for kind in kinds}
        self.children: dict[tuple[str, ...], Any] = {
            ("loadBalancers", child): LoadBalancerChildren(
                lbs, child, child in ("backendAddressPools", "inboundNatRules")
            )
            for child in CHILDREN
        }
        self.children[("loadBalancers", "networkInterfaces")] = LoadBalancerInterfaces(nics)
        self.children[("privateLinkServices", "privateEndpointConnections")] = EndpointConnections()
        self.children.update(extra_children(extras))
        self.groups = ResourceGroups(self._cascade)

    def _cascade(self, ctx: Context, resource: Resource) -> None:
        kind = self.kinds.get(resource.rid.types)
        if kind is not None:
            kind.deleted(ctx, resource)

    def route(self, method: str, path: str) -> Route:
        parts = [unquote(p) for p in path.split("/") if p]
        low = [p.lower() for p in parts]
        if len(parts) < 2 or low[0] != "subscriptions":
            raise errors.ArmError(404, "NotFound", f"The requested path '{path}' was not found.")
        subscription, rest, lrest = parts[1], parts[2:], low[2:]
        sub_scope = f"/subscriptions/{subscription}"
        if not rest:
            return self._subscription(method, subscription)
        if lrest[0] == "resourcegroups":
            return self._groups(method, subscription, rest)
        if lrest[0] == "operationresults" and len(rest) == 2 and method == "GET":
            return Route(
                subscription,
                sub_scope,
                "Microsoft.Resources/subscriptions/operationresults/read",
                lambda ctx, _: self.groups.poll(ctx, subscription, rest[1]),
                subscription_wide=True,
            )
        if len(rest) >= 3 and lrest[0] == "providers" and lrest[1] == PROVIDER.lower():
            return self._provider(method, subscription, rest[2:])
        raise errors.ArmError(404, "NotFound", f"The requested path '{path}' was not found.")

    def _subscription(self, method: str, subscription: str) -> Route:
        if method != "GET":
            raise _not_allowed(method)

        def read(ctx: Context, _: Any) -> Reply:
            return Reply(
                200,
                {
                    "id": f"/subscriptions/{subscription}",
                    "subscriptionId": subscription,
                    "tenantId": ctx.rt.tenant_id,
                    "displayName": f"localcloud {subscription}",
                    "state": "Enabled",
                },
            )

        return Route(
            subscription,
            f"/subscriptions/{subscription}",
            "Microsoft.Resources/subscriptions/read",
            read,
            subscription_wide=True,
        )

    def _groups(self, method: str, subscription: str, rest: list[str]) -> Route:
        action = f"Microsoft.Resources/subscriptions/resourceGroups/{_VERBS.get(method, 'read')}"
        if len(rest) == 1:
            if method != "GET":
                raise _not_allowed(method)
            return Route(
                subscription,
                f"/subscriptions/{subscription}",
                action,
                lambda ctx, _: self.groups.list(ctx, subscription),
                subscription_wide=True,
            )
        group = rest[1]
        scope = f"/subscriptions/{subscription}/resourceGroups/{group}"
        if len(rest) == 2:
            handlers: dict[str, Handler] = {
                "GET": lambda ctx, _: self.groups.get(ctx, subscription, group),
                "HEAD": lambda ctx, _: self.groups.head(ctx, subscription, group),
                "PUT": lambda ctx, body: self.groups.put(ctx, subscription, group, body),
                "DELETE": lambda ctx, _: self.groups.delete(ctx, subscription, group),
            }
            if method not in handlers:
                raise _not_allowed(method)
            return Route(subscription, scope, action, handlers[method])
        if len(rest) >= 5 and rest[2].lower() == "providers" and rest[3].lower() == PROVIDER.lower():
            return self._resource(method, subscription, group, rest[4:])
        raise errors.ArmError(404, "NotFound", f"The requested path under resource group '{group}' was not found.")

    def _resource(self, method: str, subscription: str, group: str, tail: list[str]) -> Route:
        types = canonical_types(tail[0::2])
        if types is None or len(types) > 2:
            raise _unknown_type("/".join(tail[0::2]))
        names = tuple(tail[1::2])
        action = f"{PROVIDER}/{'/'.join(types)}/{_VERBS.get(method, 'read')}"
        handler = self.kinds.get(types) or self.children.get(types)
        if handler is None:
            raise _unknown_type("/".join(types))
        if len(names) == len(types):
            rid = ResourceId(subscription, group, types, names)
            return Route(subscription, str(rid), action, self._item(method, handler, rid))
        parent = ResourceId(subscription, group, types[:-1], names) if names else None
        scope = f"{parent}/{types[-1]}" if parent else f"/subscriptions/{subscription}/resourceGroups/{group}"
        if method != "GET":
            raise _not_allowed(method)
        if isinstance(handler, Kind):
            return Route(
                subscription, scope, action, lambda ctx, _: list_resources(ctx, handler, subscription, group, parent)
            )
        return Route(subscription, scope, action, lambda ctx, _: handler.list(ctx, parent))

    def _item(self, method: str, handler: Any, rid: ResourceId) -> Handler:
        if isinstance(handler, Kind):
            generic: dict[str, Handler] = {
                "GET": lambda ctx, _: get_resource(ctx, handler, rid),
                "PUT": lambda ctx, body: put_resource(ctx, handler, rid, body),
                "DELETE": lambda ctx, _: delete_resource(ctx, handler, rid),
            }
            if rid.parent is None:
                generic["PATCH"] = lambda ctx, body: patch_tags(ctx, handler, rid, body)
            if method not in generic:
                raise _not_allowed(method)
            return generic[method]
        writable = getattr(handler, "writable", True)
        if method == "GET" and hasattr(handler, "get"):
            return lambda ctx, _: handler.get(ctx, rid)
        if method == "PUT" and writable and hasattr(handler, "put"):
            return lambda ctx, body: handler.put(ctx, rid, body)
        if method == "DELETE" and writable and hasattr(handler, "delete"):
            return lambda ctx, _: handler.delete(ctx, rid)
        raise _not_allowed(method)

    def _provider(self, method: str, subscription: str, rest: list[str]) -> Route:
        low = [p.lower() for p in rest]
        sub_scope = f"/subscriptions/{subscription}"
        if len(rest) == 1:
            types = (TOP_TYPES[low[0]],) if low[0] in TOP_TYPES else None
            if types is None:
                raise _unknown_type(rest[0])
            if method != "GET":
                raise _not_allowed(method)
            kind = self.kinds[types]
            return Route(
                subscription,
                f"{sub_scope}/providers/{PROVIDER}/{types[0]}",
                f"{PROVIDER}/{types[0]}/read",
                lambda ctx, _: list_resources(ctx, kind, subscription, None),
            )
        if low[0] == "locations" and len(rest) >= 3:
            what = low[2]
            if what in ("operations", "operationresults") and len(rest) == 4 and method == "GET":
                operation_id = rest[3]
                results = what == "operationresults"
                return Route(
                    subscription,
                    sub_scope,
                    f"{PROVIDER}/locations/{what}/read",
                    lambda ctx, _: operation_status(ctx, subscription, operation_id, results=results),
                    subscription_wide=True,
                )
            if what == "checkprivatelinkservicevisibility" and len(rest) == 3 and method == "POST":
                return Route(
                    subscription,
                    sub_scope,
                    f"{PROVIDER}/locations/checkPrivateLinkServiceVisibility/action",
                    lambda ctx, body: self._visibility(ctx, subscription, body),
                    subscription_wide=True,
                )
            if what == "autoapprovedprivatelinkservices" and len(rest) == 3 and method == "GET":
                return Route(
                    subscription,
                    sub_scope,
                    f"{PROVIDER}/locations/autoApprovedPrivateLinkServices/read",
                    lambda ctx, _: self._auto_approved(ctx, subscription),
                    subscription_wide=True,
                )
        raise _unknown_type("/".join(rest))

    def _visibility(self, ctx: Context, subscription: str, body: Any) -> Reply:
        alias = body.get("privateLinkServiceAlias") if isinstance(body, dict) else None
        if not isinstance(alias, str) or not alias:
            raise errors.invalid_request_format("Property 'privateLinkServiceAlias' is required.")
        pls = find_service(ctx.state, alias)
        result = pls is not None and visible(pls, subscription, ctx.identity)
        emit(
            ctx,
            verb="Action",
            resource_id=f"/subscriptions/{subscription}",
            subscription=subscription,
            resource_group=None,
            operation_name=f"{PROVIDER}/locations/checkPrivateLinkServiceVisibility/action",
        )
        return Reply(200, {"visible": result})

    def _auto_approved(self, ctx: Context, subscription: str) -> Reply:
        services = [pls for pls in ctx.state.of_type("privateLinkServices") if auto_approved(pls, subscription)]
        return Reply(200, {"value": [{"privateLinkService": pls.id} for pls in services]})
