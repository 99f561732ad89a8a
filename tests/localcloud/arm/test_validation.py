"""Real mistakes get Azure's real error codes (tests/fixtures/azure/errors/arm-error-samples.json), through the SDK."""

from __future__ import annotations

from typing import Any

import pytest
from azure.mgmt.network import NetworkManagementClient

from localcloud.identity import ManagedIdentity
from tests.localcloud.arm.support import (
    EMQX_CLIENT,
    EMQX_RG,
    EMQX_SUB,
    FUNCTION_APP,
    PROVIDER_SUB,
    RG,
    Cloud,
    consumer,
    endpoint,
    lb_body,
    load,
    nic_body,
    pe_body,
    pls_body,
    provider,
    provision,
    refusal,
    vnet_body,
)

SAMPLES = {entry["code"]: entry for entry in load("errors/arm-error-samples.json")["errors"]}


def assert_sample(refused: Any, code: str) -> None:
    """Status and code as in the samples; where the sample has a verbatim message, the same wording."""
    sample = SAMPLES[code]
    assert (refused.status, refused.code) == (sample["httpStatus"], code)
    if sample["body"] and "{" in sample["body"]["error"]["message"]:
        fixed = sample["body"]["error"]["message"].split("{")[0]
        assert refused.message.startswith(fixed)


@pytest.fixture
def subnet_id(network: NetworkManagementClient) -> str:
    network.virtual_networks.begin_create_or_update(
        RG, "vnet", vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"})
    ).result()
    return provider("virtualNetworks", "vnet", "subnets", "default")


def test_pls_in_a_subnet_with_network_policies_enabled(network: NetworkManagementClient, subnet_id: str):
    lb = network.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", subnet_id)).result()
    refused = refusal(
        network.private_link_services.begin_create_or_update,
        RG,
        "demo",
        pls_body(lb.frontend_ip_configurations[0].id, subnet_id),
    )
    assert_sample(refused, "PrivateLinkServiceCannotBeCreatedInSubnetThatHasNetworkPoliciesEnabled")
    assert list(network.private_link_services.list(RG)) == []


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("10.1.1.9", "PrivateIPAddressNotInSubnet"),
        ("10.1.0.0", "PrivateIPAddressInReservedRange"),
        ("10.1.0.3", "PrivateIPAddressInReservedRange"),
        ("10.1.0.255", "PrivateIPAddressInReservedRange"),
        ("10.1.0.4", "PrivateIPAddressInUse"),
    ],
)
def test_static_frontend_addresses(network: NetworkManagementClient, subnet_id: str, address: str, code: str):
    network.network_interfaces.begin_create_or_update(RG, "vm-nic", nic_body(subnet_id)).result()  # holds 10.1.0.4
    refused = refusal(
        network.load_balancers.begin_create_or_update, RG, "test01", lb_body("test01", subnet_id, frontend_ip=address)
    )
    assert (refused.status, refused.code) == (400, code)
    assert address in refused.message
    if code == "PrivateIPAddressInUse":
        assert provider("networkInterfaces", "vm-nic", "ipConfigurations", "ipconfig1") in refused.message


@pytest.mark.parametrize("name", ["-lb", "lb-", "lb.", "x" * 81, "lb#1", "lb*"])
def test_invalid_names(network: NetworkManagementClient, subnet_id: str, name: str):
    refused = refusal(network.load_balancers.begin_create_or_update, RG, name, lb_body(name, subnet_id))
    assert_sample(refused, "InvalidResourceName")


def test_valid_names_at_the_edges(network: NetworkManagementClient, subnet_id: str):
    for name in ("a", "_lb_", "x" * 80, "lb.v1_"):
        network.network_interfaces.begin_create_or_update(RG, name, nic_body(subnet_id)).result()


def test_invalid_resource_references(network: NetworkManagementClient, subnet_id: str):
    missing_frontend = provider("loadBalancers", "nowhere", "frontendIPConfigurations", "fe")
    subnet = network.subnets.get(RG, "vnet", "default")
    subnet.private_link_service_network_policies = "Disabled"
    network.subnets.begin_create_or_update(RG, "vnet", "default", subnet).result()
    refused = refusal(
        network.private_link_services.begin_create_or_update, RG, "demo", pls_body(missing_frontend, subnet_id)
    )
    assert_sample(refused, "InvalidResourceReference")
    assert missing_frontend in refused.message

    missing_subnet = provider("virtualNetworks", "vnet", "subnets", "absent")
    refused = refusal(network.network_interfaces.begin_create_or_update, RG, "nic", nic_body(missing_subnet))
    assert_sample(refused, "InvalidResourceReference")

    missing_pool = provider("loadBalancers", "test01", "backendAddressPools", "absent")
    network.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", subnet_id)).result()
    refused = refusal(
        network.network_interfaces.begin_create_or_update, RG, "nic", nic_body(subnet_id, pools=[missing_pool])
    )
    assert_sample(refused, "InvalidResourceReference")


def test_deleting_a_pls_with_connections(network: NetworkManagementClient, emqx_network: NetworkManagementClient):
    link = provision(network)
    endpoint(emqx_network, link.alias)
    refused = refusal(network.private_link_services.begin_delete, RG, "demo")
    assert_sample(refused, "PrivateLinkServiceWithPrivateEndpointConnectionsCannotBeDeleted")
    assert network.private_link_services.get(RG, "demo").provisioning_state == "Succeeded"


def test_deleting_a_load_balancer_a_pls_uses(network: NetworkManagementClient):
    link = provision(network)
    refused = refusal(network.load_balancers.begin_delete, RG, "test01")
    assert_sample(refused, "CannotDeleteLoadBalancerWithPrivateLinkService")
    assert link.pls_id in refused.message


def test_deleting_a_subnet_in_use(network: NetworkManagementClient):
    link = provision(network)
    refused = refusal(network.subnets.begin_delete, RG, "vnet", "default")
    assert_sample(refused, "InUseSubnetCannotBeDeleted")
    refused = refusal(network.virtual_networks.begin_delete, RG, "vnet")
    assert_sample(refused, "InUseSubnetCannotBeDeleted")
    assert network.subnets.get(RG, "vnet", "default").id == link.subnet_id


def test_subnet_prefix_outside_the_vnet_or_overlapping(network: NetworkManagementClient, subnet_id: str):
    refused = refusal(
        network.subnets.begin_create_or_update, RG, "vnet", "other", {"properties": {"addressPrefix": "10.2.0.0/24"}}
    )
    assert (refused.status, refused.code) == (400, "NetcfgSubnetRangeOutsideVnet")
    refused = refusal(
        network.subnets.begin_create_or_update, RG, "vnet", "other", {"properties": {"addressPrefix": "10.1.0.128/25"}}
    )
    assert (refused.status, refused.code) == (400, "NetcfgSubnetRangesOverlap")


def test_if_match_mismatch_is_412(network: NetworkManagementClient, subnet_id: str):
    nic = network.network_interfaces.begin_create_or_update(RG, "nic", nic_body(subnet_id)).result()
    stale = 'W/"00000000-0000-0000-0000-000000000000"'
    refused = refusal(
        network.network_interfaces.begin_create_or_update, RG, "nic", nic_body(subnet_id), headers={"If-Match": stale}
    )
    assert (refused.status, refused.code) == (412, "PreconditionFailed")
    refused = refusal(network.network_interfaces.begin_delete, RG, "nic", headers={"If-Match": stale})
    assert (refused.status, refused.code) == (412, "PreconditionFailed")
    updated = network.network_interfaces.begin_create_or_update(
        RG, "nic", nic_body(subnet_id), headers={"If-Match": nic.etag}
    ).result()
    assert updated.etag != nic.etag
    refused = refusal(
        network.network_interfaces.begin_create_or_update, RG, "nic2", nic_body(subnet_id), headers={"If-Match": "*"}
    )
    assert (refused.status, refused.code) == (412, "PreconditionFailed")


def test_not_found_shapes(network: NetworkManagementClient, subnet_id: str, cloud: Cloud):
    refused = refusal(network.load_balancers.get, RG, "absent")
    assert (refused.status, refused.code) == (404, "ResourceNotFound")
    assert refused.message.startswith(
        f"The Resource 'Microsoft.Network/loadBalancers/absent' under resource group '{RG}' was not found."
    )
    refused = refusal(network.subnets.get, RG, "vnet", "absent")
    assert (refused.status, refused.code) == (404, "NotFound")
    assert refused.message == f"Resource {provider('virtualNetworks', 'vnet', 'subnets', 'absent')} not found."
    refused = refusal(network.subnets.get, RG, "no-vnet", "default")
    assert (refused.status, refused.code) == (404, "ResourceNotFound")
    with cloud.http(EMQX_CLIENT) as http:
        answer = http.get(
            f"/subscriptions/{EMQX_SUB}/resourceGroups/absent/providers/Microsoft.Network/loadBalancers/lb",
            params={"api-version": "2024-05-01"},
        )
    assert answer.status_code == 404
    assert answer.json() == {
        "error": {"code": "ResourceGroupNotFound", "message": "Resource group 'absent' could not be found."}
    }
    assert network.network_interfaces.begin_delete(RG, "never-existed").result() is None  # 204: already gone


def test_private_endpoint_to_an_invisible_service(
    network: NetworkManagementClient, emqx_network: NetworkManagementClient
):
    link = provision(network)
    pls = network.private_link_services.get(RG, "demo")
    pls.visibility.subscriptions = []
    network.private_link_services.begin_create_or_update(RG, "demo", pls).result()
    for target in (
        link.alias,
        link.pls_id,
        "nothing.8e2d6a1c-0000-4000-8000-000000000000.westeurope.azure.privatelinkservice",
    ):
        refused = refusal(endpoint, emqx_network, target)
        assert (refused.status, refused.code) == (
            400,
            "ThirdPartyPrivateLinkServiceProvidedDuringPrivateEndpointCreationDoesNotExistOrIsNotVisible",
        )
        assert target in refused.message
    assert list(emqx_network.private_endpoints.list(EMQX_RG)) == []


def test_automatic_connection_without_auto_approval(
    network: NetworkManagementClient, emqx_network: NetworkManagementClient
):
    link = provision(network)
    refused = refusal(endpoint, emqx_network, link.alias, manual=False)
    assert_sample(refused, "LinkedAuthorizationFailed")
    assert "PrivateEndpointConnectionsApproval/action" in refused.message

    pls = network.private_link_services.get(RG, "demo")
    pls.auto_approval.subscriptions = [EMQX_SUB]
    network.private_link_services.begin_create_or_update(RG, "demo", pls).result()
    pe = endpoint(emqx_network, link.alias, manual=False)
    assert pe.private_link_service_connections[0].private_link_service_connection_state.status == "Approved"


def test_manual_connection_from_an_auto_approved_subscription_is_approved(
    network: NetworkManagementClient, emqx_network: NetworkManagementClient
):
    provision(network)
    pls = network.private_link_services.get(RG, "demo")
    pls.auto_approval.subscriptions = [EMQX_SUB]
    pls = network.private_link_services.begin_create_or_update(RG, "demo", pls).result()
    pe = endpoint(emqx_network, pls.alias)
    assert pe.manual_private_link_service_connections[0].private_link_service_connection_state.status == "Approved"


def test_provider_cannot_create_a_connection(network: NetworkManagementClient, emqx_network: NetworkManagementClient):
    link = provision(network)
    endpoint(emqx_network, link.alias)
    refused = refusal(
        network.private_link_services.update_private_endpoint_connection,
        RG,
        "demo",
        "emqx-pe",
        {"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}},
    )
    assert_sample(refused, "PrivateEndpointConnectionCannotBeCreatedByServiceProvider")


def test_requests_outside_the_identity_scope_are_403(cloud: Cloud):
    with cloud.http(EMQX_CLIENT) as http:
        answer = http.put(
            f"/subscriptions/{PROVIDER_SUB}/resourceGroups/{RG}/providers/Microsoft.Network/privateEndpoints/pe",
            params={"api-version": "2024-05-01"},
            json=pe_body(consumer("virtualNetworks", "v", "subnets", "s"), "x"),
        )
    assert answer.status_code == 403
    assert answer.json()["error"]["message"] == (
        f"The client '{EMQX_CLIENT}' with object id '{ManagedIdentity(EMQX_CLIENT, ()).principal_id}' does not have "
        "authorization to perform action 'Microsoft.Network/privateEndpoints/write' over scope "
        f"'/subscriptions/{PROVIDER_SUB}/resourceGroups/{RG}/providers/Microsoft.Network/privateEndpoints/pe' or the "
        "scope is invalid. If access was recently granted, please refresh your credentials."
    )
    assert answer.json()["error"]["code"] == "AuthorizationFailed"
    with cloud.http(FUNCTION_APP) as http:  # the Function App may touch its own resource group only
        answer = http.get(
            f"/subscriptions/{PROVIDER_SUB}/resourceGroups/other/providers/Microsoft.Network/loadBalancers",
            params={"api-version": "2024-05-01"},
        )
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "AuthorizationFailed")
        answer = http.get(
            f"/subscriptions/{PROVIDER_SUB}/providers/Microsoft.Network/loadBalancers",
            params={"api-version": "2024-05-01"},
        )
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "AuthorizationFailed")
