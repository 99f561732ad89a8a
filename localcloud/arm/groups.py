"""Resource groups (Microsoft.Resources): a synchronous PUT, and a DELETE that removes everything inside as an
LRO polled through `/subscriptions/{s}/operationresults/{id}` (Location), as ARM does it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localcloud.arm import errors
from localcloud.arm.protocol import Context, Reply, emit, retry_headers, start_operation
from localcloud.arm.state import Resource, ResourceGroup
from localcloud.arm.validation import location_of

GROUP_DELETE_SECONDS = 20
GROUP_RETRY_AFTER = 15


def render(group: ResourceGroup) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": group.id,
        "name": group.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": group.location,
    }
    if group.tags is not None:
        body["tags"] = group.tags
    if group.managed_by:
        body["managedBy"] = group.managed_by
    body["properties"] = {"provisioningState": group.state}
    return body


class ResourceGroups:
    def __init__(self, on_resource_deleted: Callable[[Context, Resource], None]):
        # Called for every resource a group deletion removes, so links into other groups are cleaned up too.
        self._on_resource_deleted = on_resource_deleted

    def get(self, ctx: Context, subscription: str, name: str) -> Reply:
        group = ctx.state.group(subscription, name)
        if group is None:
            raise errors.resource_group_not_found(name)
        return Reply(200, render(group))

    def head(self, ctx: Context, subscription: str, name: str) -> Reply:
        return Reply(204 if ctx.state.group(subscription, name) else 404)

    def list(self, ctx: Context, subscription: str) -> Reply:
        prefix = f"/subscriptions/{subscription}/".lower()
        groups = [g for k, g in ctx.state.groups.items() if k.startswith(prefix) and ctx.identity.may_touch(g.id)]
        return Reply(200, {"value": [render(g) for g in groups]})

    def put(self, ctx: Context, subscription: str, name: str, body: Any) -> Reply:
        if not isinstance(body, dict):
            raise errors.invalid_request_format("The request body must be a JSON object.")
        existing = ctx.state.group(subscription, name)
        location = location_of(body)
        if existing is not None:
            if existing.state == "Deleting":
                raise errors.group_being_deleted(existing.name)
            if existing.location != location:
                raise errors.ArmError(
                    409,
                    "InvalidResourceGroupLocation",
                    f"Invalid resource group location '{location}'. The Resource group already exists in location "
                    f"'{existing.location}'.",
                )
        group = existing or ResourceGroup(subscription=subscription, name=name, location=location)
        group.tags = body.get("tags")
        group.managed_by = body.get("managedBy")
        ctx.state.put_group(group)
        emit(
            ctx,
            verb="Write",
            resource_id=group.id,
            subscription=subscription,
            resource_group=group.name,
            operation_name="Microsoft.Resources/subscriptions/resourceGroups/write",
            created=existing is None,
        )
        return Reply(200 if existing else 201, render(group))

    def delete(self, ctx: Context, subscription: str, name: str) -> Reply:
        group = ctx.state.group(subscription, name)
        if group is None:
            raise errors.resource_group_not_found(name)
        if group.state == "Deleting":
            return Reply(202, None, self._location(ctx, subscription, self._running(ctx, group)))
        group.state = "Deleting"
        prefix = group.id.lower() + "/"

        def finish(succeeded: bool) -> None:
            if not succeeded:
                group.state = "Failed"
                return
            for resource in [r for k, r in ctx.state.resources.items() if k.startswith(prefix)]:
                self._on_resource_deleted(ctx, resource)
            ctx.state.drop_group(group)
            emit(
                ctx,
                verb="Delete",
                resource_id=group.id,
                subscription=subscription,
                resource_group=group.name,
                operation_name="Microsoft.Resources/subscriptions/resourceGroups/delete",
            )

        operation = start_operation(
            ctx,
            subscription=subscription,
            location="global",
            seconds=GROUP_DELETE_SECONDS,
            retry_after=GROUP_RETRY_AFTER,
            lock_keys=(group.id.lower(),),
            finish=finish,
            deletes=True,
        )
        return Reply(202, None, self._location(ctx, subscription, operation.id))

    def _running(self, ctx: Context, group: ResourceGroup) -> str:
        running = ctx.state.running(group.id.lower())
        assert running is not None
        return running.id

    def _location(self, ctx: Context, subscription: str, operation_id: str) -> dict[str, str]:
        url = (
            f"{ctx.base_url}/subscriptions/{subscription}/operationresults/{operation_id}?api-version={ctx.api_version}"
        )
        return {"Location": url, **retry_headers(ctx.rt.speed, GROUP_RETRY_AFTER)}

    def poll(self, ctx: Context, subscription: str, operation_id: str) -> Reply:
        operation = ctx.state.operations.get(operation_id)
        if operation is None or operation.subscription.lower() != subscription.lower():
            raise errors.ArmError(404, "NotFound", f"Operation {operation_id} was not found.")
        if operation.status == "InProgress":
            return Reply(202, None, self._location(ctx, subscription, operation_id))
        if operation.status == "Failed":
            raise errors.ArmError(
                500,
                operation.error["code"] if operation.error else "InternalServerError",
                operation.error["message"] if operation.error else "The operation failed.",
            )
        return Reply(200)
