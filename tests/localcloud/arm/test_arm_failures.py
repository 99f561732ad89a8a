"""How ARM's writes fail, as the real async SDK meets them: a newer write cancels the one in flight, operations end
Failed (RetryableError) or Canceled, a resource left Failed blocks every write that references it until it is PUT
again, a PLS shows Updating while its write runs, and a private endpoint connection's update can end Failed.

The shapes and where they come from (see also localcloud/arm/README.md, "Failures"):
- a superseded operation: status `Canceled`, error code `Canceled` "Operation was canceled." with a detail
  `CanceledAndSupersededDueToAnotherOperation` "Operation PutLoadBalancerOperation (<id>) was canceled and
  superseded by operation PutLoadBalancerOperation (<id>)." — verbatim in radius-project/radius
  pkg/corerp/handlers/azure_containerlb.go; iterative/terraform-provider-iterative#341; Azure/azure-cli#21156
  ("multiple PUT operations in quick succession on the same ... resource, then the previous one gets cancelled
  and superseded by the new one");
- `RetryableError` "A retryable error occurred." — hashicorp/terraform-provider-azurerm#70,
  pulumi/pulumi-azure-native#1450;
- 400 `ReferencedResourceNotProvisioned` "Cannot proceed with operation because resource <id> used by resource
  <id> is not in Succeeded state. Resource is in Failed state and the last operation that updated/is updating
  the resource is PutNicOperation." — kubernetes/kubernetes#65025, gardener/gardener-extension-provider-azure#2;
  cloud-provider-azure repairs it by PUTting the referenced resource again (kubernetes/kubernetes#95748);
- the terminal operation states Succeeded, Failed, Canceled, and a PUT's resource showing the update in progress
  with a non-terminal provisioningState — Azure/azure-resource-manager-rpc v1.0/async-api-reference.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity.aio import ManagedIdentityCredential
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.aio import NetworkManagementClient as AsyncNetworkManagementClient

from localcloud.arm.clock import ManualClock
from localcloud.tls import LocalCA
from tests.localcloud.arm.support import (
    ARM_SCOPE,
    EMQX_CLIENT,
    EMQX_RG,
    EMQX_SUB,
    FAST,
    PROVIDER_SUB,
    RG,
    Capture,
    Cloud,
    consumer,
    endpoint,
    fresh,
    lb_body,
    network_client,
    nic_body,
    pe_body,
    pls_body,
    provider,
    provision,
    running_cloud,
    vnet_body,
)
from tests.waiting import eventually_async

SUBNET = provider("virtualNetworks", "vnet", "subnets", "default")
DISABLED = {"properties": {"addressPrefix": "10.1.0.0/24", "privateLinkServiceNetworkPolicies": "Disabled"}}
LB_PATH = r"/loadBalancers/test01$"
SUPERSEDED = re.compile(
    r"^Operation PutLoadBalancerOperation \((?P<old>[0-9a-f-]{36})\) was canceled and superseded by operation "
    r"PutLoadBalancerOperation \((?P<new>[0-9a-f-]{36})\)\.$"
)
NOT_PROVISIONED = re.compile(
    r"^Cannot proceed with operation because resource (?P<referenced>\S+) used by resource (?P<referencing>\S+) is "
    r"not in Succeeded state\. Resource is in Failed state and the last operation that updated/is updating the "
    r"resource is (?P<operation>\w+)\.$"
)


@pytest.fixture(scope="module")
def _fast_held_servers(ca: LocalCA) -> Iterator[Cloud]:
    """Sped up (Retry-After in milliseconds) on a clock only the test moves: an operation runs until told to end."""
    with running_cloud(ca, speed=FAST, clock=ManualClock()) as running:
        yield running


@pytest.fixture
def fast_held_cloud(_fast_held_servers: Cloud, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    return fresh(_fast_held_servers, monkeypatch)


@pytest.fixture
def held(fast_held_cloud: Cloud) -> Iterator[NetworkManagementClient]:
    """The sync client on that cloud, to set the scene without waiting (polling=False)."""
    with network_client(fast_held_cloud, PROVIDER_SUB) as client:
        yield client


@contextlib.asynccontextmanager
async def aio_network(cloud: Cloud) -> AsyncIterator[AsyncNetworkManagementClient]:
    """The Function App's async client (the one the app uses), in the provider subscription."""
    credential = ManagedIdentityCredential()
    async with (
        credential,
        AsyncNetworkManagementClient(
            credential,
            PROVIDER_SUB,
            base_url=cloud.arm,
            credential_scopes=[ARM_SCOPE],
            connection_verify=cloud.ca_bundle,
        ) as client,
    ):
        yield client


def arm_fault(cloud: Cloud, **spec: Any) -> None:
    with cloud.control() as control:
        answer = control.post("/localcloud/faults", json=spec)
    assert answer.status_code == 201, answer.text


def make_subnet(network: NetworkManagementClient) -> None:
    """The guide's VNet and subnet, with the PLS network policy disabled (a PLS may take an address there)."""
    network.virtual_networks.begin_create_or_update(
        RG, "vnet", vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"})
    ).result()
    network.subnets.begin_create_or_update(RG, "vnet", "default", DISABLED).result()


def operation_status(cloud: Cloud, url: str) -> dict[str, Any]:
    with cloud.http() as http:
        answer = http.get(url)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def update_ended(client: AsyncNetworkManagementClient, name: str) -> Any:
    """Connection `name` on PLS `demo` once its update is no longer Updating."""
    return await eventually_async(
        lambda: client.private_link_services.get_private_endpoint_connection(RG, "demo", name),
        "the update to end",
        5.0,
        accept=lambda connection: connection.provisioning_state != "Updating",
        interval=0.01,
    )


def error_of(exc: HttpResponseError) -> tuple[int | None, str, str, list[tuple[str, str]]]:
    """What azure-core hands the app for a failed call: status, error code and message, and the details."""
    assert exc.error is not None
    details = [(str(d.code), str(d.message)) for d in exc.error.details]
    return exc.status_code, str(exc.error.code), str(exc.error.message), details


async def test_a_newer_put_cancels_the_write_in_flight(fast_held_cloud: Cloud, held: NetworkManagementClient):
    cloud, clock = fast_held_cloud, fast_held_cloud.clock
    assert clock is not None
    held.virtual_networks.begin_create_or_update(
        RG, "vnet", vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"}), polling=False
    )
    clock.advance(60)
    async with aio_network(cloud) as client:
        first_capture, second_capture = Capture(), Capture()
        first = await client.load_balancers.begin_create_or_update(
            RG, "test01", lb_body("test01", SUBNET), raw_response_hook=first_capture
        )
        waiting = asyncio.ensure_future(first.result())
        await asyncio.sleep(0.1)  # the first poller polls: InProgress, the clock does not move
        assert not waiting.done()
        second = await client.load_balancers.begin_create_or_update(
            RG, "test01", lb_body("test01", SUBNET, nat_port=6380), raw_response_hook=second_capture
        )
        assert second_capture.responses[0].status_code == 200  # not 409 AnotherOperationInProgress
        with pytest.raises(HttpResponseError) as canceled:
            await waiting
        status, code, message, details = error_of(canceled.value)
        assert (status, code, message) == (200, "Canceled", "Operation was canceled.")
        assert [d[0] for d in details] == ["CanceledAndSupersededDueToAnotherOperation"]
        ids = SUPERSEDED.match(details[0][1])
        assert ids is not None, details[0][1]
        first_url = first_capture.responses[0].headers["Azure-AsyncOperation"]
        second_url = second_capture.responses[0].headers["Azure-AsyncOperation"]
        assert ids["old"] in first_url and ids["new"] in second_url
        body = operation_status(cloud, first_url)
        assert body["status"] == "Canceled" and body["error"]["code"] == "Canceled"
        assert (await client.load_balancers.get(RG, "test01")).provisioning_state == "Updating"
        clock.advance(60)
        lb = await second.result()
    assert lb.provisioning_state == "Succeeded"
    assert lb.inbound_nat_rules[0].frontend_port == 6380  # the newer write won


async def test_a_write_while_the_resource_is_deleted_is_still_409(
    fast_held_cloud: Cloud, held: NetworkManagementClient
):
    """ARM's 409 AnotherOperationInProgress stays where no supersede happens: a delete running (microsoft/AzureTRE
    #2222 for the message)."""
    clock = fast_held_cloud.clock
    assert clock is not None
    held.virtual_networks.begin_create_or_update(
        RG, "vnet", vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"}), polling=False
    )
    clock.advance(60)
    held.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", SUBNET), polling=False)
    clock.advance(60)
    held.load_balancers.begin_delete(RG, "test01", polling=False)
    async with aio_network(fast_held_cloud) as client:
        with pytest.raises(HttpResponseError) as refused:
            await client.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", SUBNET))
    assert (refused.value.status_code, error_of(refused.value)[1]) == (409, "AnotherOperationInProgress")
    assert "To retrieve status of the operation use uri: " in error_of(refused.value)[2]


async def test_an_operation_can_end_failed_with_retryable_error(cloud: Cloud, network: NetworkManagementClient):
    make_subnet(network)
    arm_fault(cloud, method="PUT", path=LB_PATH, kind="lro-failed", code="RetryableError", count=1)
    async with aio_network(cloud) as client:
        poller = await client.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", SUBNET))
        with pytest.raises(HttpResponseError) as failed:
            await poller.result()
        # azure-core raises with the status poll's 200 and the operation's error (what shared/azure_network maps).
        assert error_of(failed.value) == (200, "RetryableError", "A retryable error occurred.", [])
        lb = await client.load_balancers.get(RG, "test01")
    assert lb.provisioning_state == "Failed"
    assert {lb.frontend_ip_configurations[0].provisioning_state, lb.inbound_nat_rules[0].provisioning_state} == {
        "Failed"
    }


async def test_an_injected_cancel_ends_the_operation_canceled(cloud: Cloud, network: NetworkManagementClient):
    """`lro-failed` with code `Canceled`: the operation ends as one a write of the same request superseded."""
    make_subnet(network)
    arm_fault(cloud, method="PUT", path=LB_PATH, kind="lro-failed", code="Canceled", count=1)
    async with aio_network(cloud) as client:
        poller = await client.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", SUBNET))
        with pytest.raises(HttpResponseError) as canceled:
            await poller.result()
        status, code, _message, details = error_of(canceled.value)
        assert (status, code) == (200, "Canceled")
        assert details[0][0] == "CanceledAndSupersededDueToAnotherOperation"
        assert SUPERSEDED.match(details[0][1])
        # The superseding write completes: the load balancer is there, Succeeded.
        assert (await client.load_balancers.get(RG, "test01")).provisioning_state == "Succeeded"


async def test_a_failed_resource_blocks_writes_referencing_it_until_it_is_put_again(
    cloud: Cloud, network: NetworkManagementClient
):
    make_subnet(network)
    network.network_interfaces.begin_create_or_update(RG, "demo-redis-nic", nic_body(SUBNET)).result()
    arm_fault(cloud, method="PUT", path=LB_PATH, kind="lro-failed", code="RetryableError", count=1)
    lb_id = provider("loadBalancers", "test01")
    pool = f"{lb_id}/backendAddressPools/demo-redis-pool"
    frontend = f"{lb_id}/frontendIPConfigurations/demo-redis"
    async with aio_network(cloud) as client:
        poller = await client.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", SUBNET))
        with pytest.raises(HttpResponseError):
            await poller.result()
        with pytest.raises(HttpResponseError) as nic_refused:
            await client.network_interfaces.begin_create_or_update(RG, "demo-redis-nic", nic_body(SUBNET, pools=[pool]))
        with pytest.raises(HttpResponseError) as pls_refused:
            await client.private_link_services.begin_create_or_update(RG, "demo", pls_body(frontend, SUBNET))
        for refused, referencing in (
            (nic_refused.value, provider("networkInterfaces", "demo-redis-nic")),
            (pls_refused.value, provider("privateLinkServices", "demo")),
        ):
            status, code, message, details = error_of(refused)
            assert (status, code, details) == (400, "ReferencedResourceNotProvisioned", [])
            shape = NOT_PROVISIONED.match(message)
            assert shape is not None, message
            assert shape["referenced"].startswith(lb_id + "/") and shape["referencing"] == referencing
            assert shape["operation"] == "PutLoadBalancerOperation"
        # The load balancer PUT again: the writes that reference it go through.
        await (await client.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", SUBNET))).result()
        nic_poller = await client.network_interfaces.begin_create_or_update(
            RG, "demo-redis-nic", nic_body(SUBNET, pools=[pool])
        )
        assert (await nic_poller.result()).provisioning_state == "Succeeded"


async def test_a_failed_subnet_blocks_the_load_balancer_in_it(cloud: Cloud, network: NetworkManagementClient):
    make_subnet(network)
    arm_fault(cloud, method="PUT", path=r"/subnets/default$", kind="lro-failed", code="InternalServerError")
    async with aio_network(cloud) as client:
        subnet = await client.subnets.get(RG, "vnet", "default")
        with pytest.raises(HttpResponseError):
            await (await client.subnets.begin_create_or_update(RG, "vnet", "default", subnet)).result()
        with pytest.raises(HttpResponseError) as refused:
            await client.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", SUBNET))
        shape = NOT_PROVISIONED.match(error_of(refused.value)[2])
        assert shape is not None and shape["referenced"] == SUBNET and shape["operation"] == "PutSubnetOperation"


async def test_a_private_link_service_shows_updating_until_its_write_completes(
    fast_held_cloud: Cloud, held: NetworkManagementClient
):
    cloud, clock = fast_held_cloud, fast_held_cloud.clock
    assert clock is not None
    for start in (
        lambda: held.virtual_networks.begin_create_or_update(
            RG, "vnet", vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"}), polling=False
        ),
        lambda: held.subnets.begin_create_or_update(RG, "vnet", "default", DISABLED, polling=False),
        lambda: held.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", SUBNET), polling=False),
    ):
        start()
        clock.advance(60)
    frontend = provider("loadBalancers", "test01", "frontendIPConfigurations", "demo-redis")
    held.private_link_services.begin_create_or_update(RG, "demo", pls_body(frontend, SUBNET), polling=False)
    clock.advance(60)
    emqx = "0e8a7b52-94d1-4b8c-8b3c-3e6a5f2d9c02"
    async with aio_network(cloud) as client:
        poller = await client.private_link_services.begin_create_or_update(
            RG, "demo", pls_body(frontend, SUBNET, visible_to=[emqx])
        )
        waiting = asyncio.ensure_future(poller.result())
        await asyncio.sleep(0.05)
        pls = await client.private_link_services.get(RG, "demo")
        # Updating, already showing the update in progress (the RPC's PUT flow), down to its ipConfigurations.
        assert pls.provisioning_state == "Updating"
        assert pls.visibility.subscriptions == [emqx]
        assert {c.provisioning_state for c in pls.ip_configurations} == {"Updating"}
        clock.advance(60)
        done = await waiting
    assert done.provisioning_state == "Succeeded"
    assert {c.provisioning_state for c in done.ip_configurations} == {"Succeeded"}


async def test_a_connection_update_can_end_failed(
    cloud: Cloud, network: NetworkManagementClient, emqx_network: NetworkManagementClient
):
    link = provision(network)
    endpoint(emqx_network, link.alias)
    name = network.private_link_services.get(RG, "demo").private_endpoint_connections[0].name
    arm_fault(cloud, method="PUT", path=r"/privateEndpointConnections/", kind="lro-failed", code="RetryableError")
    approve = {"properties": {"privateLinkServiceConnectionState": {"status": "Approved", "description": "ok"}}}
    async with aio_network(cloud) as client:
        capture = Capture()
        answered = await client.private_link_services.update_private_endpoint_connection(
            RG, "demo", name, approve, raw_response_hook=capture
        )
        assert answered.provisioning_state == "Updating"
        operation_url = capture.last.headers["Azure-AsyncOperation"]
        connection = await update_ended(client, name)
        # Failed, with the status it asked for (Azure's view of such a connection was never captured).
        assert connection.provisioning_state == "Failed"
        assert connection.private_link_service_connection_state.status == "Approved"
        pls = await client.private_link_services.get(RG, "demo")
        assert pls.private_endpoint_connections[0].provisioning_state == "Failed"
        assert operation_status(cloud, operation_url) == {
            "status": "Failed",
            "error": {"code": "RetryableError", "message": "A retryable error occurred.", "details": []},
        }
        # Updated again, it succeeds.
        await client.private_link_services.update_private_endpoint_connection(RG, "demo", name, approve)
        connection = await update_ended(client, name)
    assert connection.provisioning_state == "Succeeded"


async def test_a_connection_update_made_while_its_endpoint_is_created_keeps_its_own_outcome(
    fast_held_cloud: Cloud, held: NetworkManagementClient
):
    """The provider approves the Pending connection while EMQX's private endpoint is still being created (as the app
    does, about a second after the connection appears): the endpoint's completion does not overwrite the outcome
    of the approval's own operation."""
    cloud, clock = fast_held_cloud, fast_held_cloud.clock
    assert clock is not None
    frontend = provider("loadBalancers", "test01", "frontendIPConfigurations", "demo-redis")
    with network_client(cloud, EMQX_SUB, EMQX_CLIENT) as emqx:
        for start in (
            lambda: held.virtual_networks.begin_create_or_update(
                RG, "vnet", vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"}), polling=False
            ),
            lambda: held.subnets.begin_create_or_update(RG, "vnet", "default", DISABLED, polling=False),
            lambda: held.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", SUBNET), polling=False),
            lambda: held.private_link_services.begin_create_or_update(
                RG, "demo", pls_body(frontend, SUBNET, visible_to=[EMQX_SUB]), polling=False
            ),
            lambda: emqx.virtual_networks.begin_create_or_update(
                EMQX_RG, "emqx-vnet", vnet_body("10.200.0.0/16", {"endpoints": "10.200.0.0/24"}), polling=False
            ),
        ):
            start()
            clock.advance(60)
        pls_id = provider("privateLinkServices", "demo")
        endpoints = consumer("virtualNetworks", "emqx-vnet", "subnets", "endpoints")
        emqx.private_endpoints.begin_create_or_update(EMQX_RG, "emqx-pe", pe_body(endpoints, pls_id), polling=False)
    name = held.private_link_services.get(RG, "demo").private_endpoint_connections[0].name
    arm_fault(cloud, method="PUT", path=r"/privateEndpointConnections/", kind="lro-failed", code="RetryableError")
    approve = {"properties": {"privateLinkServiceConnectionState": {"status": "Approved", "description": "ok"}}}
    async with aio_network(cloud) as client:
        await client.private_link_services.update_private_endpoint_connection(RG, "demo", name, approve)
        clock.advance(60)  # the approval's operation ends (Failed), then the endpoint's creation
        connection = await client.private_link_services.get_private_endpoint_connection(RG, "demo", name)
    assert connection.provisioning_state == "Failed"
