"""What the emulated subscriptions hold: resource groups, resources, running operations, and the VMs behind NICs.

Stored bodies keep only what a client may set (normalized); everything read-only that Azure computes from other
resources (back-references, connection states) is derived when a resource is rendered, so it can never go stale.
"""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from localcloud.arm import errors
from localcloud.arm.ids import ResourceId, group_id, key
from localcloud.arm.index import ReferenceIndex


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
    """All emulated subscriptions. Mutated only from the ARM app's event loop.

    `resources` is read freely but changed only through `put` / `drop` / `drop_group` / `clear`, which keep the
    indexes beside it (per type, per parent, and the reverse references of index.py) in step; a resource whose
    body is changed in place is `put` again. Running operations are indexed by lock key and due time, so neither
    a lock check nor `settle` looks at the operations that are over.
    """

    def __init__(self) -> None:
        self.groups: dict[str, ResourceGroup] = {}
        self.resources: dict[str, Resource] = {}
        self.operations: dict[str, Operation] = {}
        self.vms: dict[str, VirtualMachine] = {}
        self._ranks: dict[str, int] = {}
        self._next_rank = itertools.count()
        self._by_type: dict[tuple[str, ...], dict[str, Resource]] = {}
        self._children: dict[str, dict[str, Resource]] = {}
        self.index = ReferenceIndex(self._ranks.__getitem__)
        self._locks: dict[str, list[Operation]] = {}
        self._due: list[tuple[float, float, int, Operation]] = []
        self._next_operation = itertools.count()

    def clear(self) -> None:
        """Forget everything (the control API's reset)."""
        self.groups.clear()
        self.resources.clear()
        self.operations.clear()
        self.vms.clear()
        self._ranks.clear()
        self._by_type.clear()
        self._children.clear()
        self.index.clear()
        self._locks.clear()
        self._due.clear()

    # resource groups
    def group(self, subscription: str, name: str) -> ResourceGroup | None:
        return self.groups.get(group_id(subscription, name).lower())

    def put_group(self, group: ResourceGroup) -> None:
        self.groups[group.id.lower()] = group

    def drop_group(self, group: ResourceGroup) -> None:
        prefix = group.id.lower() + "/"
        for resource in [r for k, r in self.resources.items() if k.startswith(prefix)]:
            self.drop(resource)
        self.groups.pop(group.id.lower(), None)

    # resources
    def get(self, resource_id: str | ResourceId) -> Resource | None:
        return self.resources.get(resource_id.key if isinstance(resource_id, ResourceId) else key(resource_id))

    def put(self, resource: Resource) -> None:
        """Store a resource (new, or changed: its facts are indexed again)."""
        resource_key = resource.key
        if resource_key not in self.resources:
            self._ranks[resource_key] = next(self._next_rank)
        self.resources[resource_key] = resource
        self._by_type.setdefault(resource.rid.types, {})[resource_key] = resource
        parent = resource.rid.parent
        if parent is not None:
            self._children.setdefault(parent.key, {})[resource_key] = resource
        self.index.update(resource)

    def drop(self, resource: Resource) -> None:
        resource_key = resource.key
        if self.resources.pop(resource_key, None) is None:
            return
        self._ranks.pop(resource_key, None)
        self._by_type.get(resource.rid.types, {}).pop(resource_key, None)
        parent = resource.rid.parent
        if parent is not None:
            siblings = self._children.get(parent.key, {})
            siblings.pop(resource_key, None)
            if not siblings:
                self._children.pop(parent.key, None)
        self.index.remove(resource_key)

    def of_type(self, *types: str) -> Iterator[Resource]:
        yield from list(self._by_type.get(types, {}).values())

    def children(self, parent: Resource, child_type: str) -> list[Resource]:
        wanted = (*parent.rid.types, child_type)
        return [r for r in self._children.get(parent.key, {}).values() if r.rid.types == wanted]

    # operations
    def add_operation(self, operation: Operation) -> None:
        self.operations[operation.id] = operation
        for lock_key in operation.lock_keys:
            self._locks.setdefault(lock_key, []).append(operation)
        heapq.heappush(self._due, (operation.due, operation.started, next(self._next_operation), operation))

    def running(self, lock_key: str) -> Operation | None:
        """The earliest started operation still in progress that holds `lock_key` (those over are forgotten)."""
        holding = self._locks.get(lock_key)
        if not holding:
            return None
        holding[:] = [operation for operation in holding if operation.status == "InProgress"]
        if not holding:
            del self._locks[lock_key]
            return None
        return holding[0]

    def settle(self, now: float) -> None:
        """Finish every operation whose time has come (in start order, as the RP would)."""
        due = []
        while self._due and self._due[0][0] <= now:
            operation = heapq.heappop(self._due)[3]
            if operation.status == "InProgress":
                due.append(operation)
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
