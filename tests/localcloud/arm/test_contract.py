"""Contract tests: the requests of tests/fixtures/azure (recorded traffic and swagger examples) replayed through the
real SDK; status codes, headers and body shapes must match the fixtures. Run at realistic speed on a clock the
test moves, so headers such as Retry-After are exactly the recorded ones.
"""

from __future__ import annotations

import re
from typing import Any

from azure.core.rest import HttpRequest
from azure.mgmt.network import NetworkManagementClient

from tests.localcloud.arm.support import (
    PROVIDER_SUB,
    RG,
    Capture,
    Cloud,
    load,
    localize,
    nic_body,
    provider,
    refusal,
    shape_problems,
    vnet_body,
)

RECORDED = load("recorded/pls-lifecycle.azure-sdk-recordings.json")["interactions"]
STATUS_SHAPES = load("recorded/async-operation-status-shapes.json")
OPERATION_URL = re.compile(
    r"https://127\.0\.0\.1:\d+/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.Network/locations/[a-z0-9]+/"
    r"(?P<kind>operations|operationResults)/(?P<id>[0-9a-f-]{36})\?api-version=2026-03-01$"
)


def recorded(step: str) -> dict[str, Any]:
    return next(i for i in RECORDED if i["step"].startswith(step))


def settle(cloud: Cloud, seconds: float = 600) -> None:
    assert cloud.clock is not None
    cloud.clock.advance(seconds)


def poll(network: NetworkManagementClient, url: str) -> Any:
    return network.send_request(HttpRequest("GET", url))


def assert_lro_headers(response: Any, recorded_headers: dict[str, str]) -> str:
    """The LRO headers the recording has are all there, with the same values where they are not ids."""
    headers = response.headers
    for name, value in recorded_headers.items():
        assert name in headers, name
        if name in ("Retry-After", "Azure-AsyncNotification"):
            assert headers[name] == value, name
    operation = OPERATION_URL.match(headers["Azure-AsyncOperation"])
    assert operation is not None and operation["kind"] == "operations"
    assert headers["x-ms-request-id"] == operation["id"]
    if "Location" in recorded_headers:
        location = OPERATION_URL.match(headers["Location"])
        assert location is not None and (location["kind"], location["id"]) == ("operationResults", operation["id"])
    return headers["Azure-AsyncOperation"]


def put(network: NetworkManagementClient, operation: Any, *args: Any) -> Capture:
    capture = Capture()
    operation(*args, polling=False, raw_response_hook=capture).result()
    return capture


def test_recorded_private_link_life_cycle(held_cloud: Cloud, held_network: NetworkManagementClient):
    network = held_network
    put(
        network,
        network.virtual_networks.begin_create_or_update,
        RG,
        "virtualnetwork",
        vnet_body("10.0.0.0/16", location="eastus"),
    )
    settle(held_cloud)

    for step, subnet in (("1 ", "subnet1"), ("2 ", "subnet2")):
        interaction = recorded(step)
        capture = put(
            network,
            network.subnets.begin_create_or_update,
            RG,
            "virtualnetwork",
            subnet,
            interaction["request"]["body"],
        )
        expected = interaction["response"]
        assert capture.last.status_code == expected["status"]
        assert_lro_headers(capture.last, {**expected["headers"], "Retry-After": "3"})
        assert "Azure-AsyncNotification" not in capture.last.headers
        assert "x-ms-ratelimit-remaining-subscription-writes" in capture.last.headers
        body = capture.last.json()
        assert shape_problems(body, expected["body"]) == []
        policies = {k: v for k, v in body["properties"].items() if k.endswith("NetworkPolicies")}
        recorded_policies = {k: v for k, v in expected["body"]["properties"].items() if k.endswith("NetworkPolicies")}
        if step == "2 ":
            assert policies == recorded_policies
        else:
            # The 2021 recording shows the PE policy Enabled; the current default (swagger) is Disabled.
            assert policies["privateLinkServiceNetworkPolicies"] == "Disabled"
        settle(held_cloud)  # the next subnet PUT would meet 409 AnotherOperationInProgress on the VNet

    interaction = recorded("3 ")
    capture = put(
        network,
        network.load_balancers.begin_create_or_update,
        RG,
        "loadbalancer",
        localize(interaction["request"]["body"]),
    )
    assert capture.last.status_code == 201
    assert_lro_headers(capture.last, interaction["response"]["headers"])
    body = capture.last.json()
    assert shape_problems(body, interaction["response"]["body"]) == []
    assert body["properties"]["frontendIPConfigurations"][0]["properties"]["privateIPAddress"] == "10.0.0.4"
    assert body["properties"]["provisioningState"] == "Updating"
    settle(held_cloud)

    interaction = recorded("4 ")
    capture = put(
        network,
        network.private_link_services.begin_create_or_update,
        RG,
        "myService",
        localize(interaction["request"]["body"]),
    )
    assert capture.last.status_code == 201
    operation_url = assert_lro_headers(capture.last, interaction["response"]["headers"])
    body = capture.last.json()
    assert shape_problems(body, interaction["response"]["body"]) == []
    assert re.fullmatch(r"myservice\.[0-9a-f-]{36}\.eastus\.azure\.privatelinkservice", body["properties"]["alias"])
    nat = body["properties"]["ipConfigurations"][0]["properties"]
    assert nat["privateIPAllocationMethod"] == "Dynamic" and "privateIPAddress" not in nat  # ignored without Static
    assert re.search(
        r"/networkInterfaces/myService\.nic\.[0-9a-f-]{36}$", body["properties"]["networkInterfaces"][0]["id"]
    )

    in_progress = poll(network, operation_url)
    assert (in_progress.status_code, in_progress.json()) == (200, {"status": "InProgress"})
    assert (
        in_progress.headers["Retry-After"]
        == STATUS_SHAPES["network_rp_azure_asyncoperation_inprogress"]["headers"]["Retry-After"]
    )
    held_cloud.clock.advance(11)
    interaction = recorded("5 ")
    done = poll(network, operation_url)
    assert (done.status_code, done.json()) == (interaction["response"]["status"], interaction["response"]["body"])
    assert "Retry-After" not in done.headers

    endpoint = {
        "location": "eastus",
        "properties": {
            "subnet": {"id": provider("virtualNetworks", "virtualnetwork", "subnets", "subnet2")},
            "privateLinkServiceConnections": [
                {"name": "myConnection", "properties": {"privateLinkServiceId": body["id"]}}
            ],
        },
    }
    capture = put(network, network.private_endpoints.begin_create_or_update, RG, "myPrivateEndpoint", endpoint)
    assert capture.last.status_code == 201
    assert capture.last.headers["Retry-After"] == "10"
    created = capture.last.json()["properties"]["privateLinkServiceConnections"][0]["properties"]
    assert created["privateLinkServiceConnectionState"]["status"] == "Approved"
    interaction = recorded("6 ")
    pe_operation = capture.last.headers["Azure-AsyncOperation"]
    for expected, wait in zip(interaction["responses_in_order"], (10, 20, 0), strict=True):
        answer = poll(network, pe_operation)
        assert (answer.status_code, answer.json()) == (expected["status"], expected["body"])
        assert answer.headers.get("Retry-After") == expected["headers"].get("Retry-After")
        held_cloud.clock.advance(wait)

    interaction = recorded("7 ")
    capture = Capture()
    network.private_link_services.get(RG, "myService", raw_response_hook=capture)
    assert capture.last.status_code == 200 and capture.last.headers["ETag"].startswith('W/"')
    body = capture.last.json()
    assert shape_problems(body, interaction["response"]["body"]) == []
    connection = body["properties"]["privateEndpointConnections"][0]
    pe_guid = network.private_endpoints.get(RG, "myPrivateEndpoint").as_dict()["properties"]["resourceGuid"]
    assert connection["name"] == f"myPrivateEndpoint.{pe_guid}"
    assert connection["properties"]["privateLinkServiceConnectionState"] == {
        "status": "Approved",
        "description": "Approved",
        "actionsRequired": "None",
    }

    interaction = recorded("8 ")
    request = localize(interaction["request"]["body"])
    request["name"] = connection["name"]
    capture = Capture()
    network.private_link_services.update_private_endpoint_connection(
        RG, "myService", connection["name"], request, raw_response_hook=capture
    )
    assert capture.last.status_code == 200
    assert_lro_headers(capture.last, interaction["response"]["headers"])
    body = capture.last.json()
    assert shape_problems(body, interaction["response"]["body"]) == []
    assert body["properties"]["provisioningState"] == "Updating"
    assert (
        body["properties"]["privateLinkServiceConnectionState"]
        == interaction["response"]["body"]["properties"]["privateLinkServiceConnectionState"]
    )
    settle(held_cloud)

    for step, call in (
        (
            "9 ",
            lambda hook: network.private_link_services.begin_delete_private_endpoint_connection(
                RG, "myService", connection["name"], polling=False, raw_response_hook=hook
            ),
        ),
        (
            "10 ",
            lambda hook: network.private_endpoints.begin_delete(
                RG, "myPrivateEndpoint", polling=False, raw_response_hook=hook
            ),
        ),
        (
            "11 ",
            lambda hook: network.private_link_services.begin_delete(
                RG, "myService", polling=False, raw_response_hook=hook
            ),
        ),
    ):
        interaction = recorded(step)
        capture = Capture()
        call(capture)
        expected = interaction["response"]
        assert (capture.last.status_code, capture.last.content) == (expected["status"], b"")
        operation_url = assert_lro_headers(capture.last, expected["headers"])
        assert ("Azure-AsyncNotification" in capture.last.headers) == ("Azure-AsyncNotification" in expected["headers"])
        assert "x-ms-ratelimit-remaining-subscription-deletes" in capture.last.headers
        results = poll(network, capture.last.headers["Location"])
        assert results.status_code == 202 and results.headers["Retry-After"] == "10"
        settle(held_cloud)
        answer = poll(network, operation_url)
        assert (answer.status_code, answer.json()) == (200, {"status": "Succeeded"})
        assert poll(network, capture.last.headers["Location"]).status_code == 204
    assert [lb.name for lb in network.load_balancers.list(RG)] == ["loadbalancer"]
    assert list(network.private_link_services.list(RG)) == []


def spec(name: str) -> dict[str, Any]:
    return load(f"spec-examples/{name}.json")


def test_spec_examples_of_subnet_and_load_balancer(held_cloud: Cloud, held_network: NetworkManagementClient):
    network = held_network
    put(
        network,
        network.virtual_networks.begin_create_or_update,
        RG,
        "vnetname",
        vnet_body("10.0.0.0/16", location="eastus"),
    )
    settle(held_cloud)
    example = spec("SubnetCreate.2024-07-01")
    capture = put(
        network,
        network.subnets.begin_create_or_update,
        RG,
        "vnetname",
        "subnet1",
        example["parameters"]["subnetParameters"],
    )
    assert capture.last.status_code == 201
    assert shape_problems(capture.last.json(), example["responses"]["201"]["body"]) == []
    settle(held_cloud)

    put(
        network,
        network.virtual_networks.begin_create_or_update,
        RG,
        "vnetlb",
        vnet_body("10.0.0.0/16", {"subnetlb": "10.0.1.0/24"}, location="eastus"),
    )
    settle(held_cloud)
    example = spec("LoadBalancerCreateStandardSku.2024-07-01")
    capture = put(
        network, network.load_balancers.begin_create_or_update, RG, "lb", localize(example["parameters"]["parameters"])
    )
    assert capture.last.status_code == 201
    assert shape_problems(capture.last.json(), example["responses"]["200"]["body"]) == []
    settle(held_cloud)
    capture = put(
        network, network.load_balancers.begin_create_or_update, RG, "lb", localize(example["parameters"]["parameters"])
    )
    assert capture.last.status_code == 200

    example = spec("LoadBalancerProbeGet.2024-05-01")
    capture = Capture()
    network.load_balancer_probes.get(RG, "lb", "probe-lb", raw_response_hook=capture)
    assert capture.last.status_code == 200
    assert shape_problems(capture.last.json(), example["responses"]["200"]["body"]) == []

    subnet_id = provider("virtualNetworks", "vnetlb", "subnets", "subnetlb")
    put(
        network,
        network.network_interfaces.begin_create_or_update,
        RG,
        "mynic",
        nic_body(
            subnet_id,
            location="eastus",
            pools=[provider("loadBalancers", "lb", "backendAddressPools", "be-lb")],
            nat_rules=[provider("loadBalancers", "lb", "inboundNatRules", "in-nat-rule")],
        ),
    )
    settle(held_cloud)
    example = spec("LoadBalancerNetworkInterfaceListSimple.2024-05-01")
    capture = Capture()
    nics = list(network.load_balancer_network_interfaces.list(RG, "lb", raw_response_hook=capture))
    assert [n.name for n in nics] == ["mynic"]
    assert shape_problems(capture.last.json(), example["responses"]["200"]["body"]) == []

    example = spec("InboundNatRuleCreate.2024-05-01")
    rule = localize(example["parameters"]["inboundNatRuleParameters"])
    rule["properties"]["frontendIPConfiguration"]["id"] = provider(
        "loadBalancers", "lb", "frontendIPConfigurations", "fe-lb"
    )
    capture = put(network, network.inbound_nat_rules.begin_create_or_update, RG, "lb", "in-nat-rule", rule)
    assert capture.last.status_code == 200  # the rule exists (from the LB PUT) and a NIC is bound to it
    assert_lro_headers(capture.last, {"Azure-AsyncOperation": "", "Retry-After": "10"})
    assert shape_problems(capture.last.json(), example["responses"]["200"]["body"]) == []
    settle(held_cloud)
    capture = put(network, network.inbound_nat_rules.begin_create_or_update, RG, "lb", "natRule1.1", rule)
    assert capture.last.status_code == 201
    settle(held_cloud)

    put(network, network.network_interfaces.begin_create_or_update, RG, "mynic", nic_body(subnet_id, location="eastus"))
    settle(held_cloud)
    example = spec("LoadBalancerDelete.2024-05-01")
    capture = Capture()
    network.load_balancers.begin_delete(RG, "lb", polling=False, raw_response_hook=capture)
    assert capture.last.status_code == 202
    assert OPERATION_URL.match(capture.last.headers["location"])
    assert sorted(example["responses"]) == ["200", "202", "204"]
    settle(held_cloud)
    capture = Capture()
    network.load_balancers.begin_delete(RG, "lb", polling=False, raw_response_hook=capture)
    assert capture.last.status_code == 204


def build_spec_load_balancer(held_cloud: Cloud, network: NetworkManagementClient) -> None:
    """The spec examples' provider side: vnetlb/subnetlb (PLS policies off), LB lb with frontend fe-lb."""
    put(
        network,
        network.virtual_networks.begin_create_or_update,
        RG,
        "vnetlb",
        {
            "location": "eastus",
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [
                    {
                        "name": "subnetlb",
                        "properties": {"addressPrefix": "10.0.1.0/24", "privateLinkServiceNetworkPolicies": "Disabled"},
                    }
                ],
            },
        },
    )
    settle(held_cloud)
    lb = localize(spec("LoadBalancerCreateStandardSku.2024-07-01")["parameters"]["parameters"])
    lb["properties"]["frontendIPConfigurations"][0]["properties"].update(
        privateIPAllocationMethod="Static", privateIPAddress="10.0.1.10"
    )
    put(network, network.load_balancers.begin_create_or_update, RG, "lb", lb)
    settle(held_cloud)


def test_spec_examples_of_private_link_service_and_endpoint(held_cloud: Cloud, held_network: NetworkManagementClient):
    network = held_network
    build_spec_load_balancer(held_cloud, network)
    example = spec("PrivateLinkServiceCreate.2024-05-01")
    request = localize(example["parameters"]["parameters"])
    request["properties"]["visibility"]["subscriptions"].append(PROVIDER_SUB)
    capture = put(network, network.private_link_services.begin_create_or_update, RG, "testPls", request)
    assert capture.last.status_code == 201
    body = capture.last.json()
    assert shape_problems(body, example["responses"]["201"]["body"]) == []
    assert body["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] == "10.0.1.4"
    settle(held_cloud)

    put(
        network,
        network.virtual_networks.begin_create_or_update,
        RG,
        "myVnet",
        {
            "location": "eastus",
            "properties": {
                "addressSpace": {"addressPrefixes": ["192.168.0.0/16"]},
                "subnets": [{"name": "mySubnet", "properties": {"addressPrefix": "192.168.0.0/24"}}],
            },
        },
    )
    settle(held_cloud)
    example = spec("PrivateEndpointCreateForManualApproval.2024-05-01")
    capture = put(
        network,
        network.private_endpoints.begin_create_or_update,
        RG,
        "testPe",
        localize(example["parameters"]["parameters"]),
    )
    assert capture.last.status_code == 201
    body = capture.last.json()
    assert shape_problems(body, example["responses"]["200"]["body"]) == []
    state = body["properties"]["manualPrivateLinkServiceConnections"][0]["properties"][
        "privateLinkServiceConnectionState"
    ]
    assert state == {"status": "Pending", "description": "Awaiting approval", "actionsRequired": "None"}
    assert body["properties"]["customDnsConfigs"][0]["ipAddresses"] == ["192.168.0.5"]  # the static address asked for
    assert body["properties"]["networkInterfaces"][0]["id"].endswith("/networkInterfaces/testPeNic")
    settle(held_cloud)

    example = spec("PrivateLinkServiceGet.2024-05-01")
    capture = Capture()
    network.private_link_services.get(RG, "testPls", raw_response_hook=capture)
    assert shape_problems(capture.last.json(), example["responses"]["200"]["body"]) == []

    example = spec("PrivateLinkServiceListPrivateEndpointConnection.2024-05-01")
    capture = Capture()
    connections = list(
        network.private_link_services.list_private_endpoint_connections(RG, "testPls", raw_response_hook=capture)
    )
    assert shape_problems(capture.last.json(), example["responses"]["200"]["body"]) == []
    synthetic = load("synthetic/pls-pending-connection-list.SYNTHETIC.json")
    assert shape_problems(capture.last.json(), synthetic) == []
    assert connections[0].private_link_service_connection_state.status == "Pending"

    example = spec("PrivateLinkServiceUpdatePrivateEndpointConnection.2024-05-01")
    request = localize(example["parameters"]["parameters"])
    request["name"] = connections[0].name
    capture = Capture()
    network.private_link_services.update_private_endpoint_connection(
        RG, "testPls", connections[0].name, request, raw_response_hook=capture
    )
    assert capture.last.status_code == 200
    assert shape_problems(capture.last.json(), example["responses"]["200"]["body"]) == []
    settle(held_cloud)
    assert (
        network.private_endpoints.get(RG, "testPe")
        .manual_private_link_service_connections[0]
        .private_link_service_connection_state.status
        == "Approved"
    )

    refused = refusal(network.private_link_services.begin_delete, RG, "testPls", polling=False)
    assert refused.code == "PrivateLinkServiceWithPrivateEndpointConnectionsCannotBeDeleted"

    example = spec("PrivateLinkServiceDeletePrivateEndpointConnection.2024-05-01")
    capture = Capture()
    network.private_link_services.begin_delete_private_endpoint_connection(
        RG, "testPls", connections[0].name, polling=False, raw_response_hook=capture
    )
    assert str(capture.last.status_code) in example["responses"]
    settle(held_cloud)
    assert (
        network.private_endpoints.get(RG, "testPe")
        .manual_private_link_service_connections[0]
        .private_link_service_connection_state.status
        == "Disconnected"
    )

    example = spec("PrivateLinkServiceDelete.2024-05-01")
    capture = Capture()
    network.private_link_services.begin_delete(RG, "testPls", polling=False, raw_response_hook=capture)
    assert str(capture.last.status_code) in example["responses"]
    assert "Azure-AsyncOperation" in capture.last.headers
