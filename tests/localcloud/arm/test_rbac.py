"""Azure RBAC in the ARM stand-in, switched on for the Function App's identity through `/localcloud/rbac`: the
network role of infra/network-role.json, assigned on resource groups. A request needs its own action at its scope
(403 AuthorizationFailed), and a PUT needs the join action of every resource its body references, changed or not,
at that resource's scope (403 LinkedAuthorizationFailed naming each action and linked scope).

The message shapes are ARM's, as quoted in microsoft/planetary-computer-hub#25 (a subnet PUT refused for
`routeTables/join/action` on an AKS route table), kubernetes-sigs/cloud-provider-azure#1999 (a VMSS VM refused for
`loadBalancers/backendAddressPools/join/action`) and openshift/release#76853 (`action(s)` ... `linked scope(s)`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.mgmt.network import NetworkManagementClient

from localcloud.arm.authorization import network_rbac, network_role_file
from localcloud.identity import ManagedIdentity
from tests.localcloud.arm.support import (
    EMQX_CLIENT,
    FUNCTION_APP,
    LOCATION,
    PROVIDER_SUB,
    RG,
    Cloud,
    lb_body,
    net,
    nic_body,
    pls_body,
    provider,
    refusal,
    vnet_body,
)

HUB = "rg-hub"
SUBSCRIPTION = f"/subscriptions/{PROVIDER_SUB}"
SPOKE_SCOPE = f"{SUBSCRIPTION}/resourceGroups/{RG}"
HUB_SCOPE = f"{SUBSCRIPTION}/resourceGroups/{HUB}"
ROLE = network_role_file()
NETWORK_ROLE, HUB_ROLE = ROLE["name"], ROLE["hub"]["name"]
EVERYTHING = "Everything (test set-up)"
OBJECT_ID = ManagedIdentity(FUNCTION_APP, ()).principal_id
SUBNET = provider("virtualNetworks", "vnet", "subnets", "default")


def hub(*parts: str) -> str:
    return net(PROVIDER_SUB, HUB, *parts)


def rbac_document(*assignments: tuple[str, str], actions: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The Function App under RBAC with the deployed roles (plus an all-actions role for set-ups), each role's
    actions replaceable through `actions`, assigned as `(role, scope)` pairs."""
    document = network_rbac(FUNCTION_APP, [], assignable=[SUBSCRIPTION])
    document["roles"].append({"name": EVERYTHING, "actions": ["*"], "assignableScopes": [SUBSCRIPTION]})
    for role in document["roles"]:
        role["actions"] = (actions or {}).get(role["name"], role["actions"])
    document["assignments"] = [{"principal": FUNCTION_APP, "role": r, "scope": s} for r, s in assignments]
    return document


def set_rbac(cloud: Cloud, document: dict[str, Any]) -> httpx.Response:
    with cloud.control() as control:
        return control.put("/localcloud/rbac", json=document)


def grant(cloud: Cloud, *assignments: tuple[str, str], actions: dict[str, list[str]] | None = None) -> None:
    answer = set_rbac(cloud, rbac_document(*assignments, actions=actions))
    assert answer.status_code == 200, answer.text


@pytest.fixture
def rbac(cloud: Cloud) -> Iterator[Cloud]:
    """The Function App may do anything in the subscription (set-ups); the test narrows it to the network role."""
    grant(cloud, (EVERYTHING, SUBSCRIPTION))
    with cloud.http() as http:
        answer = http.put(f"{HUB_SCOPE}", params={"api-version": "2021-04-01"}, json={"location": LOCATION})
        assert answer.status_code == 201, answer.text
    yield cloud


def hub_network(network: NetworkManagementClient) -> dict[str, str]:
    """A spoke subnet in rg-link whose NSG, route table, NAT gateway and service endpoint policy live in the hub,
    and a NIC in it with the hub's ASG, NSG and public IP: what a hub-spoke network gives the app to work with."""
    ids = {
        "nsg": network.network_security_groups.begin_create_or_update(HUB, "hub-nsg", {"location": LOCATION})
        .result()
        .id,
        "routes": network.route_tables.begin_create_or_update(HUB, "hub-routes", {"location": LOCATION}).result().id,
        "asg": network.application_security_groups.begin_create_or_update(HUB, "redis", {"location": LOCATION})
        .result()
        .id,
    }
    ids["pip"] = network.public_ip_addresses.begin_create_or_update(HUB, "vm-ip", {"location": LOCATION}).result().id
    ids["nat-ip"] = (
        network.public_ip_addresses.begin_create_or_update(HUB, "nat-ip", {"location": LOCATION}).result().id
    )
    ids["nat"] = (
        network.nat_gateways.begin_create_or_update(
            HUB, "egress", {"location": LOCATION, "properties": {"publicIpAddresses": [{"id": ids["nat-ip"]}]}}
        )
        .result()
        .id
    )
    ids["policy"] = (
        network.service_endpoint_policies.begin_create_or_update(HUB, "storage", {"location": LOCATION}).result().id
    )
    body = vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"})
    body["properties"]["subnets"][0]["properties"].update(
        networkSecurityGroup={"id": ids["nsg"]},
        routeTable={"id": ids["routes"]},
        natGateway={"id": ids["nat"]},
        serviceEndpointPolicies=[{"id": ids["policy"]}],
    )
    network.virtual_networks.begin_create_or_update(RG, "vnet", body).result()
    nic = nic_body(SUBNET)
    nic["properties"]["networkSecurityGroup"] = {"id": ids["nsg"]}
    nic["properties"]["ipConfigurations"][0]["properties"].update(
        applicationSecurityGroups=[{"id": ids["asg"]}], publicIPAddress={"id": ids["pip"]}
    )
    ids["nic"] = network.network_interfaces.begin_create_or_update(RG, "redis-nic", nic).result().id
    return ids


def linked_message(action: str, scope: str, linked: list[tuple[str, str]]) -> str:
    return (
        f"The client '{FUNCTION_APP}' with object id '{OBJECT_ID}' has permission to perform action '{action}' on "
        f"scope '{scope}'; however, it does not have permission to perform action(s) "
        f"'{','.join(a for a, _ in linked)}' on the linked scope(s) '{','.join(s for _, s in linked)}' "
        "(respectively) or the linked scope(s) are invalid."
    )


def test_the_control_api_reads_replaces_and_restores_the_document(cloud: Cloud):
    with cloud.control() as control:
        assert control.get("/localcloud/rbac").json() == {"principals": [], "roles": [], "assignments": []}
        document = network_rbac(FUNCTION_APP, [SPOKE_SCOPE])
        answer = control.put("/localcloud/rbac", json=document)
        assert answer.status_code == 200
        read = control.get("/localcloud/rbac").json()
        assert read["principals"] == [FUNCTION_APP]
        assert read["assignments"] == [{"principal": FUNCTION_APP, "role": NETWORK_ROLE, "scope": SPOKE_SCOPE}]
        assert read["roles"][0]["actions"] == ROLE["actions"], "the role is infra/network-role.json's"
        assert read["roles"][0]["assignableScopes"] == [SUBSCRIPTION]
        assert read["roles"][1] == {
            "name": HUB_ROLE,
            "description": ROLE["hub"]["description"],
            "actions": ROLE["hub"]["actions"],
            "notActions": [],
            "assignableScopes": [SUBSCRIPTION],
        }
        assert control.delete("/localcloud/rbac").status_code == 204
        assert control.get("/localcloud/rbac").json()["principals"] == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.update(principals=["00000000-0000-0000-0000-00000000beef"]), "not an identity of this ARM"),
        (lambda d: d["assignments"][0].update(role="Owner"), "names no role"),
        (lambda d: d["assignments"][0].update(scope="/subscriptions/other"), "not assignable at scope"),
        (lambda d: d["roles"][0].update(actions="*"), "roles[0].actions"),
        (lambda d: d.update(extra=1), "unknown fields: extra"),
    ],
)
def test_the_control_api_refuses_a_document_it_cannot_use(cloud: Cloud, change: Any, complaint: str):
    document = network_rbac(FUNCTION_APP, [SPOKE_SCOPE])
    change(document)
    answer = set_rbac(cloud, document)
    assert answer.status_code == 400
    assert complaint in answer.json()["error"]["message"]
    with cloud.control() as control:
        assert control.get("/localcloud/rbac").json()["principals"] == [], "a refused document changes nothing"


def test_an_action_the_role_lacks_is_authorization_failed(cloud: Cloud, network: NetworkManagementClient):
    network.virtual_networks.begin_create_or_update(RG, "vnet", vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"}))
    grant(cloud, (NETWORK_ROLE, SPOKE_SCOPE))
    refused = refusal(network.virtual_networks.begin_create_or_update, RG, "vnet2", vnet_body("10.2.0.0/16"))
    assert (refused.status, refused.code) == (403, "AuthorizationFailed")
    assert refused.message == (
        f"The client '{FUNCTION_APP}' with object id '{OBJECT_ID}' does not have authorization to perform action "
        f"'Microsoft.Network/virtualNetworks/write' over scope '{provider('virtualNetworks', 'vnet2')}' or the scope "
        "is invalid. If access was recently granted, please refresh your credentials."
    )
    refused = refusal(network.virtual_networks.get, RG, "vnet")
    assert (refused.status, refused.code) == (403, "AuthorizationFailed"), "the role reads subnets, not VNets"
    assert network.subnets.get(RG, "vnet", "default").address_prefix == "10.1.0.0/24"
    with cloud.http() as http:  # outside the assignment's scope
        answer = http.get(
            f"{SUBSCRIPTION}/resourceGroups/other/providers/Microsoft.Network/loadBalancers",
            params={"api-version": "2024-05-01"},
        )
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "AuthorizationFailed")


def test_operation_status_needs_the_polling_action_in_the_subscription(cloud: Cloud):
    grant(cloud, (NETWORK_ROLE, SPOKE_SCOPE))
    operation = f"{SUBSCRIPTION}/providers/Microsoft.Network/locations/{LOCATION}/operations/unknown"
    with cloud.http() as http:
        assert http.get(operation, params={"api-version": "2024-05-01"}).status_code == 404
    reduced = [a for a in ROLE["actions"] if a != "Microsoft.Network/locations/operations/read"]
    grant(cloud, (NETWORK_ROLE, SPOKE_SCOPE), actions={NETWORK_ROLE: reduced})
    with cloud.http() as http:
        answer = http.get(operation, params={"api-version": "2024-05-01"})
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "AuthorizationFailed")


def test_a_subnet_sent_back_unchanged_needs_join_on_every_hub_resource(rbac: Cloud, network: NetworkManagementClient):
    ids = hub_network(network)
    grant(rbac, (NETWORK_ROLE, SPOKE_SCOPE))
    subnet = network.subnets.get(RG, "vnet", "default")
    refused = refusal(network.subnets.begin_create_or_update, RG, "vnet", "default", subnet)
    assert (refused.status, refused.code) == (403, "LinkedAuthorizationFailed")
    assert refused.message == linked_message(
        "Microsoft.Network/virtualNetworks/subnets/write",
        SUBNET,
        [
            ("Microsoft.Network/networkSecurityGroups/join/action", ids["nsg"]),
            ("Microsoft.Network/routeTables/join/action", ids["routes"]),
            ("Microsoft.Network/natGateways/join/action", ids["nat"]),
            ("Microsoft.Network/serviceEndpointPolicies/join/action", ids["policy"]),
        ],
    )
    assert network.subnets.get(RG, "vnet", "default").etag == subnet.etag, "a refused PUT changes nothing"

    grant(rbac, (NETWORK_ROLE, SPOKE_SCOPE), (HUB_ROLE, HUB_SCOPE))
    subnet.private_link_service_network_policies = "Disabled"
    updated = network.subnets.begin_create_or_update(RG, "vnet", "default", subnet).result()
    assert (updated.route_table.id, updated.network_security_group.id) == (ids["routes"], ids["nsg"])
    assert (updated.nat_gateway.id, updated.service_endpoint_policies[0].id) == (ids["nat"], ids["policy"])


def test_a_nic_sent_back_needs_join_on_its_nsg_asgs_public_ip_and_subnet(rbac: Cloud, network: NetworkManagementClient):
    ids = hub_network(network)
    grant(rbac, (NETWORK_ROLE, SPOKE_SCOPE))
    nic = network.network_interfaces.get(RG, "redis-nic")
    refused = refusal(network.network_interfaces.begin_create_or_update, RG, "redis-nic", nic)
    assert (refused.status, refused.code) == (403, "LinkedAuthorizationFailed")
    assert refused.message == linked_message(
        "Microsoft.Network/networkInterfaces/write",
        ids["nic"],
        [
            ("Microsoft.Network/networkSecurityGroups/join/action", ids["nsg"]),
            ("Microsoft.Network/publicIPAddresses/join/action", ids["pip"]),
            ("Microsoft.Network/applicationSecurityGroups/joinIpConfiguration/action", ids["asg"]),
        ],
    )
    # Only the hub's join actions are missing: the subnet is in the spoke, where the network role holds its join.
    assert SUBNET not in refused.message

    # The hub role holds the join actions alone: it reads and writes nothing in the hub.
    grant(rbac, (NETWORK_ROLE, SPOKE_SCOPE), (HUB_ROLE, HUB_SCOPE))
    assert network.network_interfaces.begin_create_or_update(RG, "redis-nic", nic).result().etag != nic.etag
    refused = refusal(network.network_security_groups.get, HUB, "hub-nsg")
    assert (refused.status, refused.code) == (403, "AuthorizationFailed")


@pytest.mark.parametrize(
    ("missing", "write"),
    [
        ("Microsoft.Network/virtualNetworks/subnets/join/action", "loadBalancers"),
        ("Microsoft.Network/loadBalancers/backendAddressPools/join/action", "networkInterfaces"),
        ("Microsoft.Network/loadBalancers/inboundNatRules/join/action", "networkInterfaces"),
        ("Microsoft.Network/loadBalancers/frontendIPConfigurations/join/action", "privateLinkServices"),
    ],
)
def test_each_join_action_of_the_guide_is_needed(
    cloud: Cloud, network: NetworkManagementClient, missing: str, write: str
):
    network.virtual_networks.begin_create_or_update(
        RG, "vnet", vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"})
    ).result()
    subnet = network.subnets.get(RG, "vnet", "default")
    subnet.private_link_service_network_policies = "Disabled"
    network.subnets.begin_create_or_update(RG, "vnet", "default", subnet).result()
    network.network_interfaces.begin_create_or_update(RG, "redis-nic", nic_body(SUBNET)).result()
    grant(cloud, (NETWORK_ROLE, SPOKE_SCOPE), actions={NETWORK_ROLE: [a for a in ROLE["actions"] if a != missing]})
    lb_id = provider("loadBalancers", "test01")
    if write == "loadBalancers":
        call: tuple[Any, ...] = (network.load_balancers.begin_create_or_update, RG, "test01", lb_body("test01", SUBNET))
        linked = SUBNET
    else:
        grant(cloud, (NETWORK_ROLE, SPOKE_SCOPE))
        network.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", SUBNET)).result()
        grant(cloud, (NETWORK_ROLE, SPOKE_SCOPE), actions={NETWORK_ROLE: [a for a in ROLE["actions"] if a != missing]})
        pool, rule, frontend = (
            f"{lb_id}/backendAddressPools/demo-redis-pool",
            f"{lb_id}/inboundNatRules/redis",
            f"{lb_id}/frontendIPConfigurations/demo-redis",
        )
        if write == "networkInterfaces":
            call = (
                network.network_interfaces.begin_create_or_update,
                RG,
                "redis-nic",
                nic_body(SUBNET, pools=[pool], nat_rules=[rule]),
            )
            linked = pool if "backendAddressPools" in missing else rule
        else:
            call = (network.private_link_services.begin_create_or_update, RG, "demo", pls_body(frontend, SUBNET))
            linked = frontend
    refused = refusal(*call)
    assert (refused.status, refused.code) == (403, "LinkedAuthorizationFailed")
    assert f"perform action(s) '{missing}' on the linked scope(s) '{linked}' (respectively)" in refused.message


def test_identities_outside_the_document_keep_their_scopes(cloud: Cloud, emqx_network: NetworkManagementClient):
    grant(cloud, (NETWORK_ROLE, SPOKE_SCOPE))
    emqx_network.virtual_networks.begin_create_or_update(
        "emqx-privatelink", "emqx-vnet", vnet_body("10.200.0.0/16", {"endpoints": "10.200.0.0/24"})
    ).result()
    with cloud.control() as control:
        assert EMQX_CLIENT not in control.get("/localcloud/rbac").json()["principals"]


def test_reset_restores_the_document_the_app_was_built_with(cloud: Cloud):
    grant(cloud, (NETWORK_ROLE, SPOKE_SCOPE))
    with cloud.control() as control:
        control.post("/localcloud/reset").raise_for_status()
        assert control.get("/localcloud/rbac").json()["principals"] == []


def test_not_actions_take_actions_away_and_a_security_rule_needs_join_on_its_asgs(
    rbac: Cloud, network: NetworkManagementClient
):
    asg = network.application_security_groups.begin_create_or_update(HUB, "web", {"location": LOCATION}).result()
    network.network_security_groups.begin_create_or_update(RG, "nsg", {"location": LOCATION}).result()
    document = rbac_document((EVERYTHING, SUBSCRIPTION))
    for role in document["roles"]:
        if role["name"] == EVERYTHING:
            role["notActions"] = ["Microsoft.Network/applicationSecurityGroups/*"]
    assert set_rbac(rbac, document).status_code == 200
    refused = refusal(network.application_security_groups.get, HUB, "web")
    assert (refused.status, refused.code) == (403, "AuthorizationFailed")
    rule = {
        "properties": {
            "protocol": "Tcp",
            "access": "Allow",
            "direction": "Inbound",
            "priority": 200,
            "sourcePortRange": "*",
            "destinationPortRange": "443",
            "sourceAddressPrefix": "*",
            "destinationApplicationSecurityGroups": [{"id": asg.id}],
        }
    }
    refused = refusal(network.security_rules.begin_create_or_update, RG, "nsg", "web", rule)
    assert (refused.status, refused.code) == (403, "LinkedAuthorizationFailed")
    assert refused.message == linked_message(
        "Microsoft.Network/networkSecurityGroups/securityRules/write",
        provider("networkSecurityGroups", "nsg", "securityRules", "web"),
        [("Microsoft.Network/applicationSecurityGroups/joinNetworkSecurityRule/action", asg.id)],
    )
    grant(rbac, (EVERYTHING, SUBSCRIPTION))
    created = network.security_rules.begin_create_or_update(RG, "nsg", "web", rule).result()
    assert created.destination_application_security_groups[0].id == asg.id
