"""What the emulated subscriptions hold: resource groups, resources, running operations, and the VMs behind NICs.

Stored bodies keep only what a client may set (normalized); everything read-only that Azure computes from other
resources (back-references, connection states) is derived when a resource is rendered, so it can never go stale.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from localcloud.arm import errors
from localcloud.arm.ids import ResourceId, group_id, key


def new_etag() -> str:
    return f'W/"{uuid.uuid4()}"'


@dataclass
class ResourceGroup:
    subscription: str
    name: str
    location: str
    tags: dict[str, str] | None = None
    managed_by: str | None = None
    state: str = "Succeeded"

    @property
    def id(self) -> str:
        return group_id(self.subscription, self.name)


@dataclass
class Resource:
    rid: ResourceId
    location: str | None
    properties: dict[str, Any]
    tags: dict[str, str] | None = None
    sku: dict[str, Any] | None = None
    etag: str = field(default_factory=new_etag)
    resource_guid: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: str = "Succeeded"
    # Internal facts that are not part of the body: managed NIC owner, alias GUID, connection links...
    extra: dict[str, Any] = field(default_factory=dict)
    # The network RP's name of the last operation that wrote the resource (PutNicOperation...), which its
    # ReferencedResourceNotProvisioned message names.
    operation: str = ""

    @property
    def id(self) -> str:
        return str(self.rid)

    @property
    def key(self) -> str:
        return self.rid.key

    def touch(self) -> None:
        self.etag = new_etag()


@dataclass
class Operation:
    """One asynchronous operation, as `.../locations/{loc}/operations/{id}` reports it."""

    id: str
    subscription: str
    location: str
    started: float
    due: float
    lock_keys: tuple[str, ...]
    finish: Callable[[bool], None]
    retry_after: int
    failure: dict[str, Any] | None = None
    status: str = "InProgress"
    error: dict[str, Any] | None = None
    polls: int = 0
    deletes: bool = False
    # The resource the operation writes (None: not a write of one resource) and the RP's name for the operation.
    resource_key: str | None = None
    name: str = "PutOperation"

    def supersede(self, by_name: str, by_id: str) -> None:
        """Another write of the same resource took over: this one ends Canceled, as ARM reports it
        (errors.operation_canceled), and never finishes."""
        self.status = "Canceled"
        self.error = errors.operation_canceled(self.name, self.id, by_name, by_id)


@dataclass
class VirtualMachine:
    """A NIC mapped to real listeners: frontend of the data path ends here."""

    name: str
    nic_id: str
    ports: dict[int, str]

    def body(self) -> dict[str, Any]:
        return {"name": self.name, "nicId": self.nic_id, "ports": {str(p): a for p, a in sorted(self.ports.items())}}


class ArmState:
    """All emulated subscriptions. Mutated only from the ARM app's event loop."""

    def __init__(self) -> None:
        self.groups: dict[str, ResourceGroup] = {}
        self.resources: dict[str, Resource] = {}
        self.operations: dict[str, Operation] = {}
        self.vms: dict[str, VirtualMachine] = {}

    def clear(self) -> None:
        """Forget everything (the control API's reset)."""
        self.groups.clear()
        self.resources.clear()
        self.operations.clear()
        self.vms.clear()

    # resource groups
    def group(self, subscription: str, name: str) -> ResourceGroup | None:
        return self.groups.get(group_id(subscription, name).lower())

    def put_group(self, group: ResourceGroup) -> None:
        self.groups[group.id.lower()] = group

    def drop_group(self, group: ResourceGroup) -> None:
        prefix = group.id.lower() + "/"
        for resource_key in [k for k in self.resources if k.startswith(prefix)]:
            del self.resources[resource_key]
        self.groups.pop(group.id.lower(), None)

    # resources
    def get(self, resource_id: str | ResourceId) -> Resource | None:
        return self.resources.get(resource_id.key if isinstance(resource_id, ResourceId) else key(resource_id))

    def put(self, resource: Resource) -> None:
        self.resources[resource.key] = resource

    def drop(self, resource: Resource) -> None:
        self.resources.pop(resource.key, None)

    def of_type(self, *types: str) -> Iterator[Resource]:
        for resource in list(self.resources.values()):
            if resource.rid.types == types:
                yield resource

    def children(self, parent: Resource, child_type: str) -> list[Resource]:
        wanted = (*parent.rid.types, child_type)
        prefix = parent.key + "/"
        return [r for k, r in self.resources.items() if k.startswith(prefix) and r.rid.types == wanted]

    # operations
    def running(self, lock_key: str) -> Operation | None:
        for operation in self.operations.values():
            if operation.status == "InProgress" and lock_key in operation.lock_keys:
                return operation
        return None

    def settle(self, now: float) -> None:
        """Finish every operation whose time has come (in start order, as the RP would)."""
        due = sorted(
            (op for op in self.operations.values() if op.status == "InProgress" and op.due <= now),
            key=lambda op: (op.due, op.started),
        )
        for operation in due:
            if operation.failure is not None and operation.failure.get("code") == "Canceled":
                # An injected cancel: a write of the same request superseded this one and completes in its place.
                operation.supersede(operation.name, str(uuid.uuid4()))
                operation.finish(True)
            elif operation.failure is not None:
                # The resource is left Failed (finish) until it is PUT again successfully.
                operation.status = "Failed"
                operation.error = operation.failure
                operation.finish(False)
            else:
                operation.status = "Succeeded"
                operation.finish(True)

    # VMs
    def vm_for_nic(self, nic_id: str) -> VirtualMachine | None:
        wanted = key(nic_id)
        for vm in self.vms.values():
            if key(vm.nic_id) == wanted:
                return vm
        return None
