"""Azure Resource Manager, Microsoft.Network: the only module that imports azure.mgmt.network.

Bodies in and out are ARM JSON (`dict`), exactly as the REST API has them, so the life cycle reads like the
REST reference and never depends on SDK model classes. Long-running operations are awaited with a deadline:
past it `OperationStillRunningError` is raised and the next reconcile finds the resource `Updating` and waits.

Errors are mapped once (azure-core error types → shared.errors):
    404 on a read                          → None ("absent")
    404 on a delete                        → success (already gone)
    404 on a write                         → InvalidRequestError (what it names does not exist)
    408/429/5xx, a temporary code (below),
    dropped connections and timeouts       → TemporaryError (retry later; `retry_after` when ARM said)
    400                                    → InvalidRequestError with ARM's code (the request cannot succeed)
    403                                    → UpstreamError AuthorizationFailed (the app's role lacks an action)
    409                                    → ConflictError, 412 → PreconditionFailedError
    an operation that ended Failed         → by its code: temporary (below) or UpstreamError
The temporary codes (`_TEMPORARY_CODES`) count as the error's code or any of its details' codes, answered to a
request or as the final status of a long-running operation (azure-core raises HttpResponseError from
`poller.result()` with the status poll's 200 and its `error`: code "Canceled" with a detail
CanceledAndSupersededDueToAnotherOperation, or "RetryableError"...). A write the next run makes again is never
a permanent failure. Upstream messages are cut short; a response body is never copied whole into an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.polling import AsyncLROPoller
from azure.mgmt.network.aio import NetworkManagementClient
from azure.mgmt.network.models import (
    LoadBalancer,
    NetworkInterface,
    PrivateEndpointConnection,
    PrivateLinkService,
    Subnet,
)

from shared.arm_budget import ArmBudget
from shared.arm_reading import provisioning_state, settled
from shared.clock import Backoff, Clock, retry_until
from shared.errors import (
    MESSAGE_LIMIT,
    TEMPORARY_HTTP_STATUSES,
    AppError,
    ConflictError,
    InvalidRequestError,
    OperationStillRunningError,
    PreconditionFailedError,
    TemporaryError,
    UpstreamError,
    cut,
    retry_after_seconds,
)
from shared.names import ResourceId
from shared.settings import Settings

Json = dict[str, Any]
T = TypeVar("T")

# Each says "the same write later": the next run (the PUT's 202, the monitor) makes it again.
_TEMPORARY_CODES = frozenset(
    {
        # 409: a write of this or a dependent resource is running (microsoft/AzureTRE#2222,
        # pulumi/pulumi-azure-native#903: two subnets of one VNet written at once).
        "AnotherOperationInProgress",
        "RetryableErrorDueToAnotherOperation",
        # 429, or an operation ending Failed: Code="RetryableError" Message="A retryable error occurred."
        # (hashicorp/terraform-provider-azurerm#70, hashicorp/terraform#7986, pulumi/pulumi-azure-native#1450).
        "RetryableError",
        # An operation that a newer write of the resource canceled: status Canceled, error.code "Canceled" with a
        # detail CanceledAndSupersededDueToAnotherOperation (radius-project/radius azure_containerlb.go,
        # iterative/terraform-provider-iterative#341; cloud-provider-azure retries on it:
        # consts.OperationCanceledErrorMessage).
        "Canceled",
        "CanceledAndSupersededDueToAnotherOperation",
        # A resource the write references is Updating (429 RetryableError, in the details) or Failed (400) until
        # it is PUT again: the next run PUTs the link's own load balancer, PLS and NICs again when ARM left them
        # Failed (shared.provisioning), and the monitor finishes once a Failed subnet is repaired by its owner.
        "ReferencedResourceNotProvisioned",
    }
)
# An authorization refusal names the actions and the (linked) scopes the role lacks: the operator needs all of it.
_AUTHORIZATIONMESSAGE_LIMIT = 900
_AUTHORIZATION_CODES = frozenset({"AuthorizationFailed", "LinkedAuthorizationFailed"})


def _retry_after(error: HttpResponseError) -> int | None:
    response: Any = error.response
    return retry_after_seconds(response.headers.get("Retry-After") if response is not None else None)


def map_arm_error(error: Exception, action: str) -> AppError:
    """One place that turns an azure-core exception into the product's error hierarchy."""
    if isinstance(error, (ServiceRequestError, ServiceResponseError)):
        return TemporaryError(
            f"Azure did not answer while trying to {action}; it will be retried.", code="ArmUnreachable"
        )
    if not isinstance(error, HttpResponseError):
        raise TypeError(f"not an Azure error: {type(error).__name__}") from error
    status = error.status_code or 0
    code = (error.error.code if error.error else None) or f"Http{status}"
    limit = _AUTHORIZATIONMESSAGE_LIMIT if code in _AUTHORIZATION_CODES else MESSAGE_LIMIT
    message = cut(error.error.message if error.error else error.reason, limit)
    text = f"Azure refused to {action}: {code}: {message}"
    if status in TEMPORARY_HTTP_STATUSES or status >= 500 or not _TEMPORARY_CODES.isdisjoint(_codes(error)):
        return TemporaryError(text, code=code, retry_after=_retry_after(error))
    return _PERMANENT_BY_STATUS.get(status, UpstreamError)(text, code=code)


def _codes(error: HttpResponseError) -> set[str]:
    """The error's code and its details' codes (ARM puts the reason of a Canceled or RetryableError there)."""
    codes: set[str] = set()
    pending = [error.error] if error.error else []
    while pending:
        item = pending.pop()
        if item.code:
            codes.add(str(item.code))
        pending.extend(item.details or [])
    return codes


# 400 and a write's 404: the request cannot succeed as it stands; 403: the app's role lacks an action.
_PERMANENT_BY_STATUS: dict[int, type[AppError]] = {
    400: InvalidRequestError,
    404: InvalidRequestError,
    403: UpstreamError,
    409: ConflictError,
    412: PreconditionFailedError,
}


@dataclass(frozen=True)
class _Kind:
    """A top-level Microsoft.Network resource type: the client's operation group for it, its SDK model, and its
    name in messages. (tests/unit/test_role_actions.py reads these and the generic methods below to derive the
    ARM actions the app's role needs.)"""

    noun: str
    group: str
    model: Callable[[Json], Any]

    def operations(self, client: NetworkManagementClient) -> Any:
        return getattr(client, self.group)


_NIC = _Kind("network interface", "network_interfaces", NetworkInterface)
_LOAD_BALANCER = _Kind("load balancer", "load_balancers", LoadBalancer)
_PRIVATE_LINK_SERVICE = _Kind("private link service", "private_link_services", PrivateLinkService)


class AzureNetwork:
    """Microsoft.Network operations the life cycle needs, over the async SDK.

    One instance per process; a `NetworkManagementClient` is kept per subscription. Close with `close()`.
    """

    def __init__(self, settings: Settings, credential: AsyncTokenCredential, clock: Clock, budget: ArmBudget) -> None:
        self._settings = settings
        self._clock = clock
        self.budget = budget
        self._credential = credential
        self._clients: dict[str, NetworkManagementClient] = {}

    def _client(self, subscription_id: str) -> NetworkManagementClient:
        key = subscription_id.lower()
        client = self._clients.get(key)
        if client is None:
            options: dict[str, Any] = {
                "credential_scopes": [self._settings.arm_credential_scope],
                # Retries belong on the client: azure-core honours Retry-After on 429 and 5xx.
                "retry_total": 3,
                "retry_backoff_factor": 0.5,
                "retry_backoff_max": 8,
                "connection_timeout": 10,
                "read_timeout": 30,
                # After the retry policy, so it sees every attempt: ARM's budget and its 429s.
                "custom_hook_policy": self.budget.policy(subscription_id),
            }
            if self._settings.tls_ca_bundle is not None:
                options["connection_verify"] = str(self._settings.tls_ca_bundle)
            client = NetworkManagementClient(
                self._credential, subscription_id, base_url=self._settings.arm_endpoint, **options
            )
            self._clients[key] = client
        return client

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()

    # -- generic plumbing ------------------------------------------------------------------------------

    @asynccontextmanager
    async def _mapped(self, action: str, *, absent_ok: bool = False) -> AsyncIterator[None]:
        """Map azure-core errors; with `absent_ok` a 404 passes through for the caller to read as "absent"."""
        try:
            yield
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as error:
            if absent_ok and isinstance(error, ResourceNotFoundError):
                raise
            raise map_arm_error(error, action) from error

    async def _read(self, action: str, call: Callable[[], Awaitable[Any]]) -> Json | None:
        try:
            async with self._mapped(action, absent_ok=True):
                model = await call()
        except ResourceNotFoundError:
            return None
        return _as_json(model)

    async def _write(self, action: str, begin: Callable[[], Awaitable[AsyncLROPoller[Any]]], deadline: float) -> Json:
        async with self._mapped(action):
            poller = await begin()
            model = await _wait(poller, deadline - self._clock.monotonic(), action)
        return _as_json(model)

    async def _delete(self, action: str, begin: Callable[[], Awaitable[AsyncLROPoller[Any]]], deadline: float) -> None:
        try:
            async with self._mapped(action, absent_ok=True):
                poller = await begin()
                await _wait(poller, deadline - self._clock.monotonic(), action)
        except ResourceNotFoundError:
            return

    # -- subnets ---------------------------------------------------------------------------------------

    async def get_subnet(self, subnet: ResourceId) -> Json | None:
        vnet, name = subnet.names[0], subnet.name
        ops = self._client(subnet.subscription_id).subnets
        return await self._read(f"read subnet {name}", lambda: ops.get(subnet.resource_group, vnet, name))

    async def put_subnet(self, subnet: ResourceId, body: Json, deadline: float) -> Json:
        vnet, name = subnet.names[0], subnet.name
        ops = self._client(subnet.subscription_id).subnets
        return await self._write(
            f"update subnet {name}",
            lambda: ops.begin_create_or_update(subnet.resource_group, vnet, name, Subnet(body)),
            deadline,
        )

    # -- network interfaces, load balancers, private link services -----------------------------------

    async def _get(self, kind: _Kind, resource: ResourceId) -> Json | None:
        ops = kind.operations(self._client(resource.subscription_id))
        return await self._read(
            f"read {kind.noun} {resource.name}", lambda: ops.get(resource.resource_group, resource.name)
        )

    async def _put(self, kind: _Kind, resource: ResourceId, body: Json, deadline: float) -> Json:
        ops = kind.operations(self._client(resource.subscription_id))
        return await self._write(
            f"create or update {kind.noun} {resource.name}",
            lambda: ops.begin_create_or_update(resource.resource_group, resource.name, kind.model(body)),
            deadline,
        )

    async def _delete_resource(self, kind: _Kind, resource: ResourceId, deadline: float) -> None:
        ops = kind.operations(self._client(resource.subscription_id))
        await self._delete(
            f"delete {kind.noun} {resource.name}",
            lambda: ops.begin_delete(resource.resource_group, resource.name),
            deadline,
        )

    async def get_network_interface(self, nic: ResourceId) -> Json | None:
        return await self._get(_NIC, nic)

    async def put_network_interface(self, nic: ResourceId, body: Json, deadline: float) -> Json:
        return await self._put(_NIC, nic, body, deadline)

    async def get_load_balancer(self, lb: ResourceId) -> Json | None:
        return await self._get(_LOAD_BALANCER, lb)

    async def put_load_balancer(self, lb: ResourceId, body: Json, deadline: float) -> Json:
        return await self._put(_LOAD_BALANCER, lb, body, deadline)

    async def delete_load_balancer(self, lb: ResourceId, deadline: float) -> None:
        await self._delete_resource(_LOAD_BALANCER, lb, deadline)

    async def get_private_link_service(self, pls: ResourceId) -> Json | None:
        return await self._get(_PRIVATE_LINK_SERVICE, pls)

    async def put_private_link_service(self, pls: ResourceId, body: Json, deadline: float) -> Json:
        return await self._put(_PRIVATE_LINK_SERVICE, pls, body, deadline)

    async def delete_private_link_service(self, pls: ResourceId, deadline: float) -> None:
        await self._delete_resource(_PRIVATE_LINK_SERVICE, pls, deadline)

    async def list_private_link_services(self, subscription_id: str, resource_group: str) -> list[Json]:
        """Every private link service of a resource group, their connections inline (all pages); none when the
        group does not exist."""
        ops = self._client(subscription_id).private_link_services
        async with self._mapped(f"list the private link services of {resource_group}", absent_ok=True):
            try:
                return [_as_json(pls) async for pls in ops.list(resource_group)]
            except ResourceNotFoundError:
                return []

    # -- the connections of a private link service -----------------------------------------------------

    async def list_connections(self, pls: ResourceId) -> list[Json]:
        ops = self._client(pls.subscription_id).private_link_services
        async with self._mapped(f"list the connections of {pls.name}"):
            try:
                return [_as_json(c) async for c in ops.list_private_endpoint_connections(pls.resource_group, pls.name)]
            except ResourceNotFoundError:
                return []

    async def set_connection_state(
        self, pls: ResourceId, connection_name: str, status: str, description: str, deadline: float
    ) -> Json:
        """Approve or reject one connection; returns it once ARM reports the update Succeeded.

        The SDK method is not a poller although ARM answers `Updating` with an async operation, so the
        connection is read back until its provisioning state is terminal.
        """
        ops = self._client(pls.subscription_id).private_link_services
        body = {
            "name": connection_name,
            "properties": {"privateLinkServiceConnectionState": {"status": status, "description": description}},
        }
        action = f"set connection {connection_name} to {status}"
        async with self._mapped(action):
            result = _as_json(
                await ops.update_private_endpoint_connection(
                    pls.resource_group, pls.name, connection_name, PrivateEndpointConnection(body)
                )
            )

        result = await retry_until(
            self._clock,
            partial(self._read_connection_for, action, pls, connection_name),
            settled,
            until=deadline,
            backoff=Backoff(0.2),
            first=result,
        )
        if not settled(result):
            raise OperationStillRunningError(f"Azure is still working to {action}.")
        state = provisioning_state(result)
        if state != "Succeeded":
            # The decision did not take: ARM shows the connection Failed (or Canceled); the next run decides it
            # again, and nothing is recorded as decided meanwhile.
            raise TemporaryError(
                f"Azure could not {action}: the connection's update ended {state}; it is tried again.",
                code="ConnectionUpdateFailed",
            )
        return result

    async def _read_connection_for(self, action: str, pls: ResourceId, connection_name: str) -> Json:
        """The connection as ARM has it while `action` on it goes on."""
        ops = self._client(pls.subscription_id).private_link_services
        try:
            async with self._mapped(f"read connection {connection_name}"):
                return _as_json(
                    await ops.get_private_endpoint_connection(pls.resource_group, pls.name, connection_name)
                )
        except TemporaryError as error:
            # ARM accepted the change: it goes on in Azure even if its progress cannot be read just now.
            raise OperationStillRunningError(f"Azure is still working to {action}.") from error

    async def delete_connection(self, pls: ResourceId, connection_name: str, deadline: float) -> None:
        ops = self._client(pls.subscription_id).private_link_services
        await self._delete(
            f"delete connection {connection_name}",
            lambda: ops.begin_delete_private_endpoint_connection(pls.resource_group, pls.name, connection_name),
            deadline,
        )


def _as_json(model: Any) -> Json:
    if model is None:
        return {}
    if isinstance(model, dict):
        return model
    result: Json = model.as_dict()
    return result


async def _wait(poller: AsyncLROPoller[T], remaining: float, action: str) -> T:
    if remaining <= 0:
        raise OperationStillRunningError(f"Azure is still working to {action}.")
    try:
        return await asyncio.wait_for(poller.result(), timeout=remaining)
    except TimeoutError:
        raise OperationStillRunningError(f"Azure is still working to {action}.") from None
