"""The ARM request protocol shared by every resource kind: request context, replies, long-running operations
(Azure-AsyncOperation / Location / Retry-After as the recordings show them), conditional headers and the
Event Grid events a finished operation raises.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import Headers

from localcloud.arm import errors
from localcloud.arm.clock import Clock
from localcloud.arm.state import ArmState, Operation
from localcloud.eventgrid.events import event_time, resource_event
from localcloud.identity import ManagedIdentity


@dataclass
class Runtime:
    """What every request of one ARM app shares."""

    state: ArmState
    clock: Clock
    speed: float
    tenant_id: str
    publish: Callable[[dict[str, Any]], None]
    pending_connection_events: Callable[[], bool]


@dataclass
class Context:
    """One ARM request: who calls, how, and what the answer's URLs must point at."""

    rt: Runtime
    identity: ManagedIdentity
    claims: dict[str, Any]
    base_url: str
    api_version: str
    method: str
    url: str
    headers: Headers
    request_id: str
    correlation_id: str
    client_ip: str
    lro_failure: dict[str, Any] | None = None

    @property
    def state(self) -> ArmState:
        return self.rt.state

    def now(self) -> float:
        return self.rt.clock()


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Timing:
    """Realistic durations (seconds) of one kind's writes, and the Retry-After its answers carry."""

    put: float
    delete: float
    retry_after: int = 10
    notify: bool = True


def retry_headers(speed: float, seconds: float) -> dict[str, str]:
    """Retry-After as recorded; when sped up, retry-after-ms alone (azure-core reads Retry-After first)."""
    if speed == 1:
        return {"Retry-After": str(int(seconds))}
    return {"retry-after-ms": str(max(1, round(seconds * 1000 / speed)))}


def start_operation(
    ctx: Context,
    *,
    subscription: str,
    location: str,
    seconds: float,
    retry_after: int,
    lock_keys: tuple[str, ...],
    finish: Callable[[bool], None],
    deletes: bool = False,
    resource_key: str | None = None,
    name: str | None = None,
) -> Operation:
    """A new async operation; `resource_key` names the resource it writes (what a newer PUT of it supersedes)."""
    now = ctx.now()
    operation = Operation(
        id=str(uuid.uuid4()),
        subscription=subscription,
        location=location,
        started=now,
        due=now + seconds / ctx.rt.speed,
        lock_keys=lock_keys,
        finish=finish,
        retry_after=retry_after,
        failure=ctx.lro_failure,
        deletes=deletes,
        resource_key=resource_key,
        name=name or ("DeleteOperation" if deletes else "PutOperation"),
    )
    ctx.state.add_operation(operation)
    return operation


def operations_base(ctx: Context, subscription: str, location: str) -> str:
    return f"{ctx.base_url}/subscriptions/{subscription}/providers/Microsoft.Network/locations/{location}"


def operation_url(ctx: Context, operation: Operation) -> str:
    base = operations_base(ctx, operation.subscription, operation.location)
    return f"{base}/operations/{operation.id}?api-version={ctx.api_version}"


def lro_headers(ctx: Context, operation: Operation, *, location_header: bool, notify: bool) -> dict[str, str]:
    headers = {"Azure-AsyncOperation": operation_url(ctx, operation)}
    if location_header:
        base = operations_base(ctx, operation.subscription, operation.location)
        headers["Location"] = f"{base}/operationResults/{operation.id}?api-version={ctx.api_version}"
    headers.update(retry_headers(ctx.rt.speed, operation.retry_after))
    if notify:
        headers["Azure-AsyncNotification"] = "Enabled"
    headers["x-ms-request-id"] = operation.id
    return headers


def check_not_locked(ctx: Context, *lock_keys: str) -> None:
    for lock_key in lock_keys:
        running = ctx.state.running(lock_key)
        if running is not None:
            raise errors.another_operation_in_progress(operation_url(ctx, running))


def superseded_write(ctx: Context, resource_key: str) -> Operation | None:
    """The write of this very resource still in flight, which a new PUT of it cancels; None when none runs.

    ARM cancels the older write of a resource when a newer one arrives: the old operation ends `Canceled` with
    CanceledAndSupersededDueToAnotherOperation and the new one proceeds (Azure/azure-cli#21156: "if customer
    performed multiple PUT operations in quick succession on the same appgw resource, then the previous one gets
    cancelled and superseded by the new one"). Any other operation holding the resource (its delete, a write of
    a child or of its parent) still answers 409 AnotherOperationInProgress.
    """
    running = ctx.state.running(resource_key)
    if running is None:
        return None
    if running.deletes or running.resource_key != resource_key:
        raise errors.another_operation_in_progress(operation_url(ctx, running))
    return running


def check_conditions(ctx: Context, etag: str | None) -> None:
    """If-Match / If-None-Match against the current ETag (None: the resource does not exist)."""
    if_match = ctx.headers.get("if-match")
    if if_match is not None:
        wanted = {tag.strip() for tag in if_match.split(",")}
        if etag is None or ("*" not in wanted and etag not in wanted):
            raise errors.precondition_failed()
    if_none_match = ctx.headers.get("if-none-match")
    if if_none_match is not None and etag is not None:
        wanted = {tag.strip() for tag in if_none_match.split(",")}
        if "*" in wanted or etag in wanted:
            raise errors.precondition_failed()


def emit(
    ctx: Context,
    *,
    verb: str,
    resource_id: str,
    subscription: str,
    resource_group: str | None,
    operation_name: str,
    created: bool = False,
) -> None:
    """Raise `Microsoft.Resources.Resource{verb}Success` for a finished ARM write, delete or action."""
    provider = operation_name.split("/", 1)[0]
    http_request = None
    if not created:
        http_request = {
            "clientRequestId": ctx.headers.get("x-ms-client-request-id", ""),
            "clientIpAddress": ctx.client_ip,
            "method": ctx.method,
            "url": ctx.url,
        }
    topic = f"/subscriptions/{subscription}" + (f"/resourceGroups/{resource_group}" if resource_group else "")
    ctx.rt.publish(
        resource_event(
            event_type=f"Microsoft.Resources.Resource{verb}Success",
            topic=topic,
            resource_uri=resource_id,
            operation_name=operation_name,
            resource_provider=provider,
            subscription_id=subscription,
            tenant_id=ctx.rt.tenant_id,
            claims=ctx.claims,
            correlation_id=ctx.correlation_id,
            principal_id=ctx.identity.principal_id,
            role_scope=_role_scope(ctx.identity, resource_id),
            http_request=http_request,
            occurred_at=event_time(ctx.now()),
        )
    )


def _role_scope(identity: ManagedIdentity, resource_id: str) -> str:
    for scope in identity.scopes:
        if (resource_id.lower() + "/").startswith(scope.rstrip("/").lower() + "/"):
            return scope
    return identity.scopes[0] if identity.scopes else ""
