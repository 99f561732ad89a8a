"""Children kept in their parent's body (routes, security rules, the default security rules, service endpoint
policy definitions), also served under their own paths as ARM does.

A child PUT or DELETE is a write of its parent with the child's list changed: the same validation, the same
long-running operation and the parent's new ETag (which is also the child's).
"""

from __future__ import annotations

from typing import Any

from localcloud.arm import errors
from localcloud.arm.engine import put_resource, require_group
from localcloud.arm.ids import PROVIDER, ResourceId
from localcloud.arm.protocol import Context, Reply
from localcloud.arm.state import Resource
from localcloud.arm.validation import check_name


def child_view(parent: Resource, child_type: str, item: dict[str, Any]) -> dict[str, Any]:
    """A child of a resource body, as ARM renders it inside the parent and under its own path."""
    return {
        "name": item["name"],
        "id": f"{parent.id}/{child_type}/{item['name']}",
        "etag": parent.etag,
        "type": f"{PROVIDER}/{parent.rid.types[0]}/{child_type}",
        "properties": {"provisioningState": parent.state, **item["properties"]},
    }


class EmbeddedChildren:
    """GET/list (and, when writable, PUT/DELETE) of one list inside a parent resource's body."""

    def __init__(self, kind: Any, child_type: str, *, writable: bool):
        # kind: a Kind with `child_items(resource, child_type)`
        self._kind = kind
        self.child_type = child_type
        self.writable = writable

    def _parent(self, ctx: Context, rid: ResourceId, *, writing: bool = False) -> Resource:
        require_group(ctx, rid.subscription, rid.resource_group, writing=writing)
        parent = ctx.state.get(rid.top)
        if parent is None:
            raise errors.resource_not_found(rid.top.type, rid.top.name, rid.resource_group)
        return parent

    def _items(self, parent: Resource) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._kind.child_items(parent, self.child_type)
        return items

    def _find(self, parent: Resource, name: str) -> dict[str, Any] | None:
        return next((i for i in self._items(parent) if i["name"].lower() == name.lower()), None)

    def get(self, ctx: Context, rid: ResourceId) -> Reply:
        parent = self._parent(ctx, rid)
        item = self._find(parent, rid.name)
        if item is None:
            raise errors.child_not_found(str(rid))
        return Reply(200, child_view(parent, self.child_type, item), {"ETag": parent.etag})

    def _write_parent(self, ctx: Context, parent: Resource, items: list[dict[str, Any]]) -> Reply:
        body: dict[str, Any] = {
            "location": parent.location,
            "properties": {**parent.properties, self.child_type: items},
        }
        if parent.tags is not None:
            body["tags"] = parent.tags
        if parent.sku is not None:
            body["sku"] = parent.sku
        return put_resource(ctx, self._kind, parent.rid, body)

    def put(self, ctx: Context, rid: ResourceId, body: Any) -> Reply:
        parent = self._parent(ctx, rid, writing=True)
        check_name(rid.name)
        if not isinstance(body, dict):
            raise errors.invalid_request_format("The request body must be a JSON object.")
        item = self._find(parent, rid.name)
        name = item["name"] if item is not None else rid.name
        replacement = {"name": name, "properties": body.get("properties") or {}}
        items = [replacement if i["name"].lower() == name.lower() else i for i in self._items(parent)]
        if item is None:
            items.append(replacement)
        reply = self._write_parent(ctx, parent, items)
        stored = self._find(parent, name)
        assert stored is not None
        return Reply(201 if item is None else 200, child_view(parent, self.child_type, stored), reply.headers)

    def delete(self, ctx: Context, rid: ResourceId) -> Reply:
        parent = self._parent(ctx, rid, writing=True)
        item = self._find(parent, rid.name)
        if item is None:
            return Reply(204)
        reply = self._write_parent(ctx, parent, [i for i in self._items(parent) if i is not item])
        headers = dict(reply.headers)
        headers["Location"] = headers["Azure-AsyncOperation"].replace("/operations/", "/operationResults/")
        return Reply(202, None, headers)

    def list(self, ctx: Context, parent_id: ResourceId) -> Reply:
        parent = self._parent(ctx, parent_id.child(self.child_type, "_"))
        return Reply(200, {"value": [child_view(parent, self.child_type, i) for i in self._items(parent)]})
