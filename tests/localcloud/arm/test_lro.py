"""Long-running operations: progress on the clock, concurrency, deletes, resource groups, speed, paths."""

from __future__ import annotations

import time

import httpx
from azure.mgmt.network import NetworkManagementClient

from tests.localcloud.arm.support import (
    EMQX_RG,
    EMQX_SUB,
    PROVIDER_SUB,
    RG,
    Capture,
    Cloud,
    endpoint,
    lb_body,
    nic_body,
    provider,
    provision,
    refusal,
    vnet_body,
)
from tests.waiting import eventually


def start(operation, *args, **kwargs) -> Capture:
    capture = Capture()
    operation(*args, polling=False, raw_response_hook=capture, **kwargs).result()
    return capture


def test_resources_show_progress_on_the_clock(held_cloud: Cloud, held_network: NetworkManagementClient):
    network, clock = held_network, held_cloud.clock
    assert clock is not None
    start(
        network.virtual_networks.begin_create_or_update,
        RG,
        "vnet",
        vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"}),
    )
    assert network.virtual_networks.get(RG, "vnet").provisioning_state == "Updating"
    assert network.subnets.get(RG, "vnet", "default").provisioning_state == "Updating"
    clock.advance(1)
    assert network.virtual_networks.get(RG, "vnet").provisioning_state == "Updating"
    clock.advance(2)
    assert network.virtual_networks.get(RG, "vnet").provisioning_state == "Succeeded"
    assert network.subnets.get(RG, "vnet", "default").provisioning_state == "Succeeded"

    subnet_id = provider("virtualNetworks", "vnet", "subnets", "default")
    start(network.load_balancers.begin_create_or_update, RG, "test01", lb_body("test01", subnet_id))
    lb = network.load_balancers.get(RG, "test01")
    assert {lb.provisioning_state, lb.frontend_ip_configurations[0].provisioning_state} == {"Updating"}
    clock.advance(10)
    capture = start(network.load_balancers.begin_delete, RG, "test01")
    assert capture.last.status_code == 202
    assert network.load_balancers.get(RG, "test01").provisioning_state == "Deleting"
    clock.advance(10)
    assert refusal(network.load_balancers.get, RG, "test01").code == "ResourceNotFound"


def test_another_write_while_an_operation_runs_is_409(held_cloud: Cloud, held_network: NetworkManagementClient):
    network, clock = held_network, held_cloud.clock
    assert clock is not None
    capture = start(network.virtual_networks.begin_create_or_update, RG, "vnet", vnet_body("10.1.0.0/16"))
    body = {"properties": {"addressPrefix": "10.1.0.0/24"}}
    refused = refusal(network.subnets.begin_create_or_update, RG, "vnet", "default", body)
    assert (refused.status, refused.code) == (409, "AnotherOperationInProgress")
    assert capture.last.headers["Azure-AsyncOperation"] in refused.message
    clock.advance(3)
    start(network.subnets.begin_create_or_update, RG, "vnet", "default", body)
    refused = refusal(
        network.subnets.begin_create_or_update, RG, "vnet", "second", {"properties": {"addressPrefix": "10.1.1.0/24"}}
    )
    assert refused.code == "AnotherOperationInProgress"  # two subnets of one VNet, as Azure documents
    clock.advance(3)
    start(
        network.network_interfaces.begin_create_or_update,
        RG,
        "nic",
        nic_body(provider("virtualNetworks", "vnet", "subnets", "default")),
    )
    assert refusal(network.network_interfaces.begin_delete, RG, "nic").code == "AnotherOperationInProgress"
    assert network.network_interfaces.get(RG, "nic").name == "nic"  # reads are never blocked


def test_tags_etags_and_case_insensitive_paths(cloud: Cloud, network: NetworkManagementClient):
    body = vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"})
    body["tags"] = {"owner": "emqx-privatelink"}
    first = network.virtual_networks.begin_create_or_update(RG, "VNet-A", body).result()
    second = network.virtual_networks.begin_create_or_update(RG, "vnet-a", body).result()
    assert first.tags == second.tags == {"owner": "emqx-privatelink"}
    assert first.etag != second.etag
    assert second.id == provider("virtualNetworks", "VNet-A")  # names keep the casing they were created with
    with cloud.http() as http:
        path = (
            f"/SUBSCRIPTIONS/{PROVIDER_SUB}/resourcegroups/{RG.upper()}"
            "/providers/microsoft.network/VIRTUALNETWORKS/vnet-a"
        )
        answer = http.get(path, params={"api-version": "2024-05-01"})
    assert answer.status_code == 200
    assert answer.json()["id"] == second.id
    assert answer.headers["ETag"] == answer.json()["etag"] == second.etag
    assert answer.json()["properties"]["subnets"][0]["id"] == provider(
        "virtualNetworks", "VNet-A", "subnets", "default"
    )
    tagged = network.virtual_networks.update_tags(RG, "vnet-a", {"tags": {"link": "demo"}})
    assert (tagged.tags, tagged.provisioning_state) == ({"link": "demo"}, "Succeeded")
    assert tagged.etag != second.etag


def test_sped_up_answers_carry_retry_after_ms(cloud: Cloud, network: NetworkManagementClient):
    capture = Capture()
    started = time.monotonic()
    network.virtual_networks.begin_create_or_update(
        RG, "vnet", vnet_body("10.1.0.0/16"), raw_response_hook=capture
    ).result()
    assert time.monotonic() - started < 2
    initial = capture.responses[0]
    assert initial.status_code == 201
    assert "Retry-After" not in initial.headers
    assert initial.headers["retry-after-ms"] == "3"  # the recorded 3 s at speed 1000
    assert [r.json()["status"] for r in capture.responses[1:-1]] == ["Succeeded"]


def test_deleting_a_resource_group_removes_everything_in_it(
    cloud: Cloud, network: NetworkManagementClient, emqx_network: NetworkManagementClient
):
    link = provision(network)
    endpoint(emqx_network, link.alias)
    assert len(network.private_link_services.get(RG, "demo").private_endpoint_connections) == 1
    with cloud.http("b7e2f0a1-3c4d-4e5f-8a9b-1c2d3e4f5a04") as http:
        answer = http.delete(
            f"/subscriptions/{EMQX_SUB}/resourcegroups/{EMQX_RG}", params={"api-version": "2021-04-01"}
        )
        assert answer.status_code == 202
        location = answer.headers["Location"]
        assert f"/subscriptions/{EMQX_SUB}/operationresults/" in location
        group = http.get(f"/subscriptions/{EMQX_SUB}/resourcegroups/{EMQX_RG}", params={"api-version": "2021-04-01"})
        assert group.json()["properties"]["provisioningState"] == "Deleting"

        def poll() -> httpx.Response:
            polled = http.get(location)
            assert polled.status_code in (200, 202)
            return polled

        polled = eventually(
            poll, "the delete to finish", 5.0, accept=lambda polled: polled.status_code == 200, interval=0.005
        )
        assert polled.status_code == 200
        gone = http.get(f"/subscriptions/{EMQX_SUB}/resourcegroups/{EMQX_RG}", params={"api-version": "2021-04-01"})
    assert gone.json()["error"]["code"] == "ResourceGroupNotFound"
    assert network.private_link_services.get(RG, "demo").private_endpoint_connections == []


def test_a_subnet_put_replaces_the_subnet(cloud: Cloud, network: NetworkManagementClient):
    network.virtual_networks.begin_create_or_update(RG, "vnet", vnet_body("10.1.0.0/16")).result()
    body = {"properties": {"addressPrefix": "10.1.0.0/24", "privateLinkServiceNetworkPolicies": "disabled"}}
    subnet = network.subnets.begin_create_or_update(RG, "vnet", "default", body).result()
    assert subnet.private_link_service_network_policies == "Disabled"  # normalized, as recorded
    subnet = network.subnets.begin_create_or_update(
        RG, "vnet", "default", {"properties": {"addressPrefix": "10.1.0.0/24"}}
    ).result()
    assert (subnet.private_link_service_network_policies, subnet.private_endpoint_network_policies) == (
        "Enabled",
        "Disabled",
    )
