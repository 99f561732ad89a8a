"""The life of a stored resource over ARM: GET, list, PUT (create or replace, as an LRO) and DELETE (an LRO).

A `Kind` knows one resource type: how to validate a PUT body into what is stored (`prepare`, which never mutates
anything, so a refused PUT leaves no partial change), how to render it with everything Azure derives, what
blocks its deletion, and its timings. The flows here do the rest the same way for every type.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localcloud.arm import errors
from localcloud.arm.ids import PROVIDER, ResourceId, parse_id
from localcloud.arm.protocol import (
    Context,
    Reply,
    Timing,
    check_conditions,
    check_not_locked,
    emit,
    lro_headers,
    start_operation,
    superseded_write,
)
from localcloud.arm.state import ArmState, Resource, ResourceGroup
from localcloud.arm.validation import check_name


@dataclass
class Change:
    """A validated PUT: what will be stored, and what happens right after storing and when the LRO succeeds."""

    properties: dict[str, Any]
    location: str | None
    tags: dict[str, str] | None = None
    sku: dict[str, Any] | None = None
    resource_guid: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    apply: Callable[[Resource], None] | None = None
    complete: Callable[[Resource], None] | None = None


class Kind:
    types: tuple[str, ...] = ()
    timing = Timing(put=8, delete=8)

    def prepare(self, ctx: Context, rid: ResourceId, existing: Resource | None, body: dict[str, Any]) -> Change:
        raise NotImplementedError

    def render(self, state: ArmState, resource: Resource) -> dict[str, Any]:
        raise NotImplementedError

    def check_delete(self, ctx: Context, resource: Resource) -> None:
        """Raise the ArmError Azure gives when something still depends on the resource."""

    def deleted(self, ctx: Context, resource: Resource) -> None:
        """Side effects of a finished delete (resources Azure removes along with this one)."""


def envelope(resource: Resource, properties: dict[str, Any], *, tracked: bool = True) -> dict[str, Any]:
    """The common outer shape; tracked (top-level) resources carry location and tags."""
    body: dict[str, Any] = {
        "name": resource.rid.name,
        "id": resource.id,
        "etag": resource.etag,
        "type": resource.rid.type,
    }
    if tracked:
        body["location"] = resource.location
        if resource.tags is not None:
            body["tags"] = resource.tags
    body["properties"] = {"provisioningState": resource.state, **properties}
    if resource.sku is not None:
        body["sku"] = resource.sku
    return body


# How the Network RP names the operations of each type in its messages ("PutNicOperation", "PutSubnetOperation",
# "DeleteNicOperation", "PutVirtualNetworkOperation", "PutLoadBalancerOperation": kubernetes/kubernetes#65025,
# hashicorp/terraform#7986, coreos/tectonic-installer#1460, iterative/terraform-provider-iterative#341,
# radius-project/radius; the PLS and private endpoint names follow the same pattern, not captured).
_OPERATION_NOUNS = {
    ("virtualNetworks",): "VirtualNetwork",
    ("virtualNetworks", "subnets"): "Subnet",
    ("networkInterfaces",): "Nic",
    ("loadBalancers",): "LoadBalancer",
    ("privateLinkServices",): "PrivateLinkService",
    ("privateEndpoints",): "PrivateEndpoint",
    ("publicIPAddresses",): "PublicIpAddress",  # gardener/gardener-extension-provider-azure#2
    ("serviceEndpointPolicies",): "ServiceEndpointPolicy",
}


def operation_name(types: tuple[str, ...], verb: str) -> str:
    """`Put{Noun}Operation` / `Delete{Noun}Operation`, the noun the type's singular (networkSecurityGroups:
    PutNetworkSecurityGroupOperation)."""
    noun = _OPERATION_NOUNS.get(types)
    if noun is None:
        plural = types[-1]
        singular = (
            plural[:-3] + "y"
            if plural.endswith("ies")
            else plural.removesuffix("es" if plural.endswith("sses") else "s")
        )
        noun = singular[:1].upper() + singular[1:]
    return f"{verb}{noun}Operation"


def _referenced_ids(value: Any) -> list[str]:
    """Every `{"id": "/subscriptions/..."}` reference in a stored body."""
    found: list[str] = []
    if isinstance(value, dict):
        ref = value.get("id")
        if isinstance(ref, str) and ref.lower().startswith("/subscriptions/"):
            found.append(ref)
        for item in value.values():
            found += _referenced_ids(item)
    elif isinstance(value, list):
        for item in value:
            found += _referenced_ids(item)
    return found


def check_references_provisioned(ctx: Context, rid: ResourceId, properties: dict[str, Any]) -> None:
    """ARM refuses a write whose body references a resource left Failed, until that resource is PUT again
    successfully: 400 ReferencedResourceNotProvisioned (errors.py). cloud-provider-azure repairs it that way:
    kubernetes-sigs/cloud-provider-azure pkg/provider/azure_loadbalancer_repo.go CreateOrUpdateLB, on
    consts.ReferencedResourceNotProvisionedMessageCode, "Perform a dummy update to fix the provisioning state"
    of the referenced public IP (kubernetes/kubernetes#95748). A child's state is its top-level resource's (a
    load balancer's pools and NAT rules show the load balancer's). References into the resource itself are
    not checked: its own PUT is what repairs it. Not modelled: the 429 RetryableError ARM gives while the
    referenced resource is only Updating (hashicorp/terraform-provider-azurerm#70).
    """
    own = rid.key
    for reference in _referenced_ids(properties):
        parsed = parse_id(reference)
        if parsed is None or parsed.key == own or parsed.key.startswith(own + "/"):
            continue
        target = ctx.state.get(parsed) or ctx.state.get(parsed.top)
        if target is not None and target.state == "Failed":
            raise errors.referenced_resource_not_provisioned(
                reference, str(rid), target.state, target.operation or operation_name(target.rid.types, "Put")
            )


def require_group(ctx: Context, subscription: str, name: str, *, writing: bool = False) -> ResourceGroup:
    group = ctx.state.group(subscription, name)
    if group is None:
        raise errors.resource_group_not_found(name)
    if writing and group.state == "Deleting":
        raise errors.group_being_deleted(group.name)
    return group


def require_parent(ctx: Context, rid: ResourceId) -> Resource | None:
    """The top-level resource a child lives in (ARM's 404 when it is missing); None for top-level ids."""
    if rid.parent is None:
        return None
    parent = ctx.state.get(rid.top)
    if parent is None:
        raise errors.resource_not_found(rid.top.type, rid.top.name, rid.resource_group)
    return parent


def canonical(ctx: Context, rid: ResourceId, group: ResourceGroup) -> ResourceId:
    """The id a new resource gets: names as the request spelled them, the resource group as it was created."""
    parent = ctx.state.get(rid.top) if rid.parent is not None else None
    names = (parent.rid.name, *rid.names[1:]) if parent is not None else rid.names
    return ResourceId(rid.subscription, group.name, rid.types, names)


def get_resource(ctx: Context, kind: Kind, rid: ResourceId) -> Reply:
    require_group(ctx, rid.subscription, rid.resource_group)
    require_parent(ctx, rid)
    resource = ctx.state.get(rid)
    if resource is None:
        if rid.parent is None:
            raise errors.resource_not_found(rid.type, rid.name, rid.resource_group)
        raise errors.child_not_found(str(rid))
    return Reply(200, kind.render(ctx.state, resource), {"ETag": resource.etag})


def list_resources(
    ctx: Context, kind: Kind, subscription: str, resource_group: str | None, parent: ResourceId | None = None
) -> Reply:
    if resource_group is not None:
        require_group(ctx, subscription, resource_group)
    if parent is not None:
        require_parent(ctx, parent.child(kind.types[-1], "_"))
        container = ctx.state.get(parent)
        assert container is not None
        items = ctx.state.children(container, kind.types[-1])
    else:
        prefix = f"/subscriptions/{subscription}".lower() + "/"
        if resource_group is not None:
            prefix = f"/subscriptions/{subscription}/resourcegroups/{resource_group}".lower() + "/"
        items = [r for r in ctx.state.of_type(*kind.types) if r.key.startswith(prefix)]
    return Reply(200, {"value": [kind.render(ctx.state, r) for r in items]})


def put_resource(ctx: Context, kind: Kind, rid: ResourceId, body: Any) -> Reply:
    group = require_group(ctx, rid.subscription, rid.resource_group, writing=True)
    for name in rid.names:
        check_name(name)
    parent = require_parent(ctx, rid)
    existing = ctx.state.get(rid)
    check_conditions(ctx, existing.etag if existing else None)
    # A top-level resource's write still in flight is superseded by this one; any other lock is a 409.
    superseded = superseded_write(ctx, rid.key) if rid.parent is None else None
    if rid.parent is not None:
        check_not_locked(ctx, rid.top.key)
    if not isinstance(body, dict):
        raise errors.invalid_request_format("The request body must be a JSON object.")
    rid = existing.rid if existing is not None else canonical(ctx, rid, group)
    change = kind.prepare(ctx, rid, existing, body)
    check_references_provisioned(ctx, rid, change.properties)

    resource = existing or Resource(
        rid=rid, location=change.location, properties={}, resource_guid=change.resource_guid or str(uuid.uuid4())
    )
    resource.location = change.location
    resource.properties = change.properties
    resource.tags = change.tags
    resource.sku = change.sku
    resource.extra.update(change.extra)
    resource.state = "Updating"
    resource.operation = operation_name(rid.types, "Put")
    resource.touch()
    ctx.state.put(resource)
    if parent is not None:
        parent.touch()
    if change.apply is not None:
        change.apply(resource)

    def finish(succeeded: bool) -> None:
        if ctx.state.get(resource.rid) is not resource:
            return
        resource.state = "Succeeded" if succeeded else "Failed"
        if succeeded:
            if change.complete is not None:
                change.complete(resource)
            emit(
                ctx,
                verb="Write",
                resource_id=resource.id,
                subscription=resource.rid.subscription,
                resource_group=resource.rid.resource_group,
                operation_name=f"{PROVIDER}/{'/'.join(resource.rid.types)}/write",
                created=existing is None,
            )

    location = resource.location or (parent.location if parent else None) or "global"
    operation = start_operation(
        ctx,
        subscription=rid.subscription,
        location=location,
        seconds=kind.timing.put,
        retry_after=kind.timing.retry_after,
        lock_keys=(rid.top.key,),
        finish=finish,
        resource_key=rid.key,
        name=resource.operation,
    )
    if superseded is not None:
        superseded.supersede(operation.name, operation.id)
    headers = lro_headers(ctx, operation, location_header=False, notify=kind.timing.notify)
    return Reply(201 if existing is None else 200, kind.render(ctx.state, resource), headers)


def patch_tags(ctx: Context, kind: Kind, rid: ResourceId, body: Any) -> Reply:
    """`UpdateTags` (PATCH with `{"tags"}`): synchronous for Microsoft.Network resources."""
    require_group(ctx, rid.subscription, rid.resource_group, writing=True)
    resource = ctx.state.get(rid)
    if resource is None:
        raise errors.resource_not_found(rid.type, rid.name, rid.resource_group)
    check_conditions(ctx, resource.etag)
    check_not_locked(ctx, rid.top.key)
    tags = body.get("tags") if isinstance(body, dict) else None
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise errors.invalid_request_format("The request body must be an object with a 'tags' object of strings.")
    resource.tags = tags
    resource.touch()
    emit(
        ctx,
        verb="Write",
        resource_id=resource.id,
        subscription=resource.rid.subscription,
        resource_group=resource.rid.resource_group,
        operation_name=f"{PROVIDER}/{'/'.join(resource.rid.types)}/write",
    )
    return Reply(200, kind.render(ctx.state, resource), {"ETag": resource.etag})


def delete_resource(ctx: Context, kind: Kind, rid: ResourceId) -> Reply:
    require_group(ctx, rid.subscription, rid.resource_group, writing=True)
    parent = require_parent(ctx, rid)
    resource = ctx.state.get(rid)
    if resource is None:
        check_conditions(ctx, None)
        return Reply(204)
    check_conditions(ctx, resource.etag)
    check_not_locked(ctx, rid.top.key)
    kind.check_delete(ctx, resource)
    resource.state = "Deleting"
    resource.operation = operation_name(rid.types, "Delete")

    def finish(succeeded: bool) -> None:
        if ctx.state.get(resource.rid) is not resource:
            return
        if not succeeded:
            resource.state = "Failed"
            return
        kind.deleted(ctx, resource)
        ctx.state.drop(resource)
        if parent is not None:
            parent.touch()
        emit(
            ctx,
            verb="Delete",
            resource_id=resource.id,
            subscription=resource.rid.subscription,
            resource_group=resource.rid.resource_group,
            operation_name=f"{PROVIDER}/{'/'.join(resource.rid.types)}/delete",
        )

    location = resource.location or (parent.location if parent else None) or "global"
    operation = start_operation(
        ctx,
        subscription=rid.subscription,
        location=location,
        seconds=kind.timing.delete,
        retry_after=kind.timing.retry_after,
        lock_keys=(rid.top.key,),
        finish=finish,
        deletes=True,
        resource_key=rid.key,
        name=resource.operation,
    )
    return Reply(202, None, lro_headers(ctx, operation, location_header=True, notify=kind.timing.notify))
