"""Private link services and their private endpoint connections (the provider side).

A PLS sits behind load balancer frontends and takes NAT addresses in subnets whose
`privateLinkServiceNetworkPolicies` is Disabled; Azure gives it an alias and a NIC. Connections are created by
consumers' private endpoints (see endpoints.py), named `<peName>.<peResourceGuid>`; the provider can only approve,
reject (a synchronous 200 that still carries Azure-AsyncOperation, as recorded) or delete them.
"""

from __future__ import annotations

import uuid
from typing import Any

from localcloud.arm import errors
from localcloud.arm.addressing import Allocator
from localcloud.arm.engine import Change, Kind, envelope, require_group
from localcloud.arm.ids import PROVIDER, ResourceId, parse_id
from localcloud.arm.index import alias_of
from localcloud.arm.interfaces import config_properties, managed_nic
from localcloud.arm.links import resolve_subnet
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
from localcloud.arm.validation import enum, location_of, named_items, reference, without

_PLS_READ_ONLY = ("alias", "privateEndpointConnections", "networkInterfaces", "resourceGuid")
_PLS_FIELDS = (
    "fqdns",
    "visibility",
    "autoApproval",
    "enableProxyProtocol",
    "loadBalancerFrontendIpConfigurations",
    "ipConfigurations",
)


def _subscriptions(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    subscriptions = value.get("subscriptions", []) if isinstance(value, dict) else None
    if not isinstance(subscriptions, list) or not all(isinstance(s, str) for s in subscriptions):
        raise errors.invalid_request_format(f"Property '{field}.subscriptions' must be an array of strings.")
    return subscriptions


def connection_view(connection: Resource) -> dict[str, Any]:
    return {
        "name": connection.rid.name,
        "id": connection.id,
        "etag": connection.etag,
        "type": connection.rid.type,
        "properties": {"provisioningState": connection.state, **connection.properties},
    }


class PrivateLinkServices(Kind):
    """A PUT answers, and GETs show, the new values (visibility, autoApproval...) with `provisioningState`
    Updating (its ipConfigurations too) until the operation completes: "Resource properties should reflect the
    update that is in progress" (Azure/azure-resource-manager-rpc v1.0/async-api-reference.md, "Creating/Updating
    using PUT"). An update that ends Failed keeps them, Failed, until the PLS is PUT again."""

    types = ("privateLinkServices",)
    timing = Timing(put=10, delete=8, retry_after=10, notify=True)

    def prepare(self, ctx: Context, rid: ResourceId, existing: Resource | None, body: dict[str, Any]) -> Change:
        location = location_of(body)
        props = body.get("properties") or {}
        pls_id = str(rid)
        frontends = self._frontends(ctx.state, props.get("loadBalancerFrontendIpConfigurations"), pls_id, location)
        items = named_items(props.get("ipConfigurations"), "ipConfigurations")
        if not 1 <= len(items) <= 8:
            raise errors.invalid_request_format(f"Private link service {pls_id} needs 1 to 8 ipConfigurations.")
        extra = dict(existing.extra) if existing else {"alias_guid": str(uuid.uuid4()), "nic_guid": str(uuid.uuid4())}
        nic_rid = ResourceId(
            rid.subscription, rid.resource_group, ("networkInterfaces",), (f"{rid.name}.nic.{extra['nic_guid']}",)
        )
        previous: dict[str, str] = extra.get("nat_ips", {})
        allocator = Allocator(ctx.state, exclude={rid.key, nic_rid.key})
        explicit_primary = any((item.get("properties") or {}).get("primary") for item in items)
        configs, nic_configs, nat_ips = [], [], {}
        for index, item in enumerate(items):
            p = item.get("properties") or {}
            config_id = f"{pls_id}/ipConfigurations/{item['name']}"
            subnet = resolve_subnet(ctx.state, p.get("subnet"), pls_id, location)
            if subnet.properties["privateLinkServiceNetworkPolicies"] == "Enabled":
                raise errors.subnet_policies_enabled(pls_id, subnet.id)
            method = enum(
                p.get("privateIPAllocationMethod"),
                ("Static", "Dynamic"),
                "privateIPAllocationMethod",
                default="Dynamic",
            )
            # A privateIPAddress without Static is ignored (recorded): the address is then allocated.
            ip = allocator.assign(
                subnet, config_id, method, p.get("privateIPAddress"), previous.get(item["name"].lower())
            )
            primary = bool(p.get("primary")) if explicit_primary else index == 0
            stored: dict[str, Any] = {
                "privateIPAllocationMethod": method,
                "subnet": {"id": subnet.id},
                "primary": primary,
                "privateIPAddressVersion": "IPv4",
            }
            if method == "Static":
                stored = {"privateIPAddress": ip, **stored}
            configs.append({"name": item["name"], "properties": stored})
            nic_configs.append({"name": item["name"], "properties": config_properties(subnet.id, method, ip, primary)})
            nat_ips[item["name"].lower()] = ip
        extra.update({"nat_ips": nat_ips, "nic_id": str(nic_rid)})
        stored_props = {
            "fqdns": list(props.get("fqdns") or []),
            "visibility": {"subscriptions": _subscriptions(props.get("visibility"), "visibility")},
            "autoApproval": {"subscriptions": _subscriptions(props.get("autoApproval"), "autoApproval")},
            "enableProxyProtocol": bool(props.get("enableProxyProtocol", False)),
            "loadBalancerFrontendIpConfigurations": frontends,
            "ipConfigurations": configs,
            **without(props, *_PLS_FIELDS, *_PLS_READ_ONLY),
        }

        def apply(pls: Resource) -> None:
            nic = ctx.state.get(nic_rid)
            if nic is None:
                ctx.state.put(managed_nic(nic_rid, location, nic_configs, "privateLinkService", pls.id))
            else:
                nic.properties["ipConfigurations"] = nic_configs
                nic.touch()
                ctx.state.put(nic)

        return Change(properties=stored_props, location=location, tags=body.get("tags"), extra=extra, apply=apply)

    @staticmethod
    def _frontends(state: ArmState, refs: Any, pls_id: str, location: str) -> list[dict[str, str]]:
        if not isinstance(refs, list) or not refs:
            raise errors.invalid_request_format(
                f"Private link service {pls_id} needs at least one loadBalancerFrontendIpConfigurations entry."
            )
        frontends = []
        for ref in refs:
            target = reference(ref, "loadBalancerFrontendIpConfigurations")
            parsed = parse_id(target)
            lb = (
                state.get(parsed.top)
                if parsed and parsed.types == ("loadBalancers", "frontendIPConfigurations")
                else None
            )
            item = None
            if lb is not None and parsed is not None:
                item = next(
                    (f for f in lb.properties["frontendIPConfigurations"] if f["name"].lower() == parsed.name.lower()),
                    None,
                )
            if lb is None or item is None or lb.location != location:
                raise errors.invalid_resource_reference(target, pls_id)
            frontends.append({"id": f"{lb.id}/frontendIPConfigurations/{item['name']}"})
        return frontends

    def render(self, state: ArmState, resource: Resource) -> dict[str, Any]:
        p = resource.properties
        configs = [
            {
                "name": config["name"],
                "id": f"{resource.id}/ipConfigurations/{config['name']}",
                "etag": resource.etag,
                "type": f"{PROVIDER}/privateLinkServices/ipConfigurations",
                "properties": {"provisioningState": resource.state, **config["properties"]},
            }
            for config in p["ipConfigurations"]
        ]
        props = {
            "resourceGuid": resource.resource_guid,
            "fqdns": p["fqdns"],
            "alias": alias_of(resource),
            "visibility": p["visibility"],
            "autoApproval": p["autoApproval"],
            "enableProxyProtocol": p["enableProxyProtocol"],
            "loadBalancerFrontendIpConfigurations": p["loadBalancerFrontendIpConfigurations"],
            "ipConfigurations": configs,
            "privateEndpointConnections": [
                connection_view(c) for c in state.children(resource, "privateEndpointConnections")
            ],
            "networkInterfaces": [{"id": resource.extra["nic_id"]}],
            **{k: v for k, v in p.items() if k not in _PLS_FIELDS},
        }
        return envelope(resource, props)

    def check_delete(self, ctx: Context, resource: Resource) -> None:
        connections = ctx.state.children(resource, "privateEndpointConnections")
        if connections:
            raise errors.pls_has_connections(resource.id, len(connections))

    def deleted(self, ctx: Context, resource: Resource) -> None:
        nic = ctx.state.get(resource.extra["nic_id"])
        if nic is not None:
            ctx.state.drop(nic)


def find_service(state: ArmState, reference_text: str) -> Resource | None:
    """The PLS a private endpoint names, by resource id or by alias."""
    parsed = parse_id(reference_text)
    if parsed is not None:
        return state.get(parsed) if parsed.types == ("privateLinkServices",) else None
    found = state.index.service_by_alias(reference_text.lower())
    return state.get(found) if found is not None else None


class EndpointConnections:
    """`.../privateLinkServices/{pls}/privateEndpointConnections[/{name}]`: list, get, approve/reject, delete."""

    timing = Timing(put=8, delete=8, retry_after=10, notify=False)

    def _service(self, ctx: Context, rid: ResourceId, *, writing: bool = False) -> Resource:
        require_group(ctx, rid.subscription, rid.resource_group, writing=writing)
        pls = ctx.state.get(rid.top)
        if pls is None:
            raise errors.resource_not_found(rid.top.type, rid.top.name, rid.resource_group)
        return pls

    def get(self, ctx: Context, rid: ResourceId) -> Reply:
        self._service(ctx, rid)
        connection = ctx.state.get(rid)
        if connection is None:
            raise errors.child_not_found(str(rid))
        return Reply(200, connection_view(connection), {"ETag": connection.etag})

    def list(self, ctx: Context, parent: ResourceId) -> Reply:
        pls = self._service(ctx, parent.child("privateEndpointConnections", "_"))
        return Reply(
            200, {"value": [connection_view(c) for c in ctx.state.children(pls, "privateEndpointConnections")]}
        )

    def put(self, ctx: Context, rid: ResourceId, body: Any) -> Reply:
        pls = self._service(ctx, rid, writing=True)
        connection = ctx.state.get(rid)
        if connection is None:
            raise errors.connection_not_creatable_by_provider(str(rid))
        check_conditions(ctx, connection.etag)
        check_not_locked(ctx, connection.key, pls.key)
        if not isinstance(body, dict):
            raise errors.invalid_request_format("The request body must be a JSON object.")
        wanted = (body.get("properties") or {}).get("privateLinkServiceConnectionState") or {}
        status = wanted.get("status")
        if not isinstance(status, str) or status.lower() not in ("approved", "rejected"):
            raise errors.invalid_connection_status(str(status), connection.id)
        connection.properties["privateLinkServiceConnectionState"] = {
            "status": status.capitalize(),
            "description": wanted.get("description", ""),
            "actionsRequired": wanted.get("actionsRequired", ""),
        }
        connection.state = "Updating"
        connection.operation = "PutPrivateEndpointConnectionOperation"
        connection.touch()
        pls.touch()

        def finish(succeeded: bool) -> None:
            if ctx.state.get(connection.rid) is not connection:
                return
            # An update that ends Failed (the `lro-failed` fault) leaves the connection Failed with the status
            # it asked for, until it is PUT again: Azure's exact view of such a connection was never captured.
            connection.state = "Succeeded" if succeeded else "Failed"
            if succeeded:
                emit(
                    ctx,
                    verb="Write",
                    resource_id=connection.id,
                    subscription=rid.subscription,
                    resource_group=pls.rid.resource_group,
                    operation_name=f"{PROVIDER}/privateLinkServices/privateEndpointConnections/write",
                )

        assert pls.location is not None
        operation = start_operation(
            ctx,
            subscription=rid.subscription,
            location=pls.location,
            seconds=self.timing.put,
            retry_after=self.timing.retry_after,
            lock_keys=(connection.key,),
            finish=finish,
            resource_key=connection.key,
            name=connection.operation,
        )
        return Reply(200, connection_view(connection), lro_headers(ctx, operation, location_header=False, notify=False))

    def delete(self, ctx: Context, rid: ResourceId) -> Reply:
        pls = self._service(ctx, rid, writing=True)
        connection = ctx.state.get(rid)
        if connection is None:
            check_conditions(ctx, None)
            return Reply(204)
        check_conditions(ctx, connection.etag)
        check_not_locked(ctx, connection.key, pls.key)
        connection.state = "Deleting"

        def finish(succeeded: bool) -> None:
            if ctx.state.get(connection.rid) is not connection:
                return
            if not succeeded:
                connection.state = "Failed"
                return
            ctx.state.drop(connection)
            pls.touch()
            emit(
                ctx,
                verb="Delete",
                resource_id=connection.id,
                subscription=rid.subscription,
                resource_group=pls.rid.resource_group,
                operation_name=f"{PROVIDER}/privateLinkServices/privateEndpointConnections/delete",
            )

        assert pls.location is not None
        operation = start_operation(
            ctx,
            subscription=rid.subscription,
            location=pls.location,
            seconds=self.timing.delete,
            retry_after=self.timing.retry_after,
            lock_keys=(connection.key,),
            finish=finish,
            deletes=True,
        )
        return Reply(202, None, lro_headers(ctx, operation, location_header=True, notify=False))
