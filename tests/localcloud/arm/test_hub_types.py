"""The resource types a hub-spoke network attaches to subnets and NICs, through the real SDK: route tables, network
security groups, application security groups, NAT gateways, public IP addresses and service endpoint policies.
Each is created as a long-running PUT, read, listed and deleted; subnets and NICs keep the references, and each
type shows who uses it, as ARM does; a resource in use cannot be deleted.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from azure.mgmt.network import NetworkManagementClient

from tests.localcloud.arm.support import LOCATION, RG, Cloud, nic_body, provider, refusal, vnet_body

SUBNET = provider("virtualNetworks", "vnet", "subnets", "default")


@pytest.fixture
def vnet(network: NetworkManagementClient) -> str:
    network.virtual_networks.begin_create_or_update(
        RG, "vnet", vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"})
    ).result()
    return SUBNET


def route_table_body(*routes: tuple[str, str, str, str | None]) -> dict[str, Any]:
    return {
        "location": LOCATION,
        "properties": {
            "routes": [
                {
                    "name": name,
                    "properties": {"addressPrefix": prefix, "nextHopType": hop}
                    | ({"nextHopIpAddress": ip} if ip else {}),
                }
                for name, prefix, hop, ip in routes
            ]
        },
    }


def nsg_body(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"location": LOCATION, "properties": {"securityRules": list(rules)}}


def rule(name: str, priority: int, **props: Any) -> dict[str, Any]:
    base = {
        "protocol": "Tcp",
        "access": "Allow",
        "direction": "Inbound",
        "priority": priority,
        "sourcePortRange": "*",
        "destinationPortRange": "6379",
        "sourceAddressPrefix": "VirtualNetwork",
        "destinationAddressPrefix": "*",
    }
    return {"name": name, "properties": base | props}


def attach_to_subnet(network: NetworkManagementClient, **references: Any) -> Any:
    """GET the subnet, set the references, PUT the whole subnet back (as the app does)."""
    subnet = network.subnets.get(RG, "vnet", "default").as_dict()
    subnet["properties"].update(references)
    return network.subnets.begin_create_or_update(RG, "vnet", "default", subnet).result()


def test_route_table_life_and_its_subnets(network: NetworkManagementClient, vnet: str):
    created = network.route_tables.begin_create_or_update(
        RG,
        "hub-routes",
        route_table_body(
            ("to-firewall", "0.0.0.0/0", "VirtualAppliance", "10.0.1.4"), ("tag", "Storage", "Internet", None)
        ),
    ).result()
    assert created.provisioning_state == "Succeeded"
    assert [r.id for r in created.routes] == [
        provider("routeTables", "hub-routes", "routes", "to-firewall"),
        provider("routeTables", "hub-routes", "routes", "tag"),
    ]
    assert created.routes[0].next_hop_ip_address == "10.0.1.4"
    assert created.disable_bgp_route_propagation is False
    assert created.subnets is None
    assert [t.name for t in network.route_tables.list(RG)] == ["hub-routes"]

    subnet = attach_to_subnet(network, routeTable={"id": created.id.upper().replace("/ROUTETABLES/", "/routeTables/")})
    assert subnet.route_table.id == created.id  # stored in the referenced resource's own spelling
    table = network.route_tables.get(RG, "hub-routes")
    assert [s.id for s in table.subnets] == [vnet]
    assert table.etag == created.etag, "a subnet using the table does not change the table"

    # Routes are children with their own paths.
    route = network.routes.get(RG, "hub-routes", "to-firewall")
    assert (route.address_prefix, route.next_hop_type) == ("0.0.0.0/0", "VirtualAppliance")
    network.routes.begin_create_or_update(
        RG, "hub-routes", "spoke", {"properties": {"addressPrefix": "10.2.0.0/16", "nextHopType": "VnetLocal"}}
    ).result()
    assert sorted(r.name for r in network.routes.list(RG, "hub-routes")) == ["spoke", "tag", "to-firewall"]
    network.routes.begin_delete(RG, "hub-routes", "tag").result()
    assert sorted(r.name for r in network.route_tables.get(RG, "hub-routes").routes) == ["spoke", "to-firewall"]

    refused = refusal(network.route_tables.begin_delete, RG, "hub-routes")
    assert (refused.status, refused.code) == (400, "InUseRouteTableCannotBeDeleted")
    attach_to_subnet(network, routeTable=None)
    assert network.subnets.get(RG, "vnet", "default").route_table is None
    network.route_tables.begin_delete(RG, "hub-routes").result()
    assert list(network.route_tables.list(RG)) == []


@pytest.mark.parametrize(
    ("route", "code"),
    [
        (("r", "0.0.0.0/0", "VirtualAppliance", None), "InvalidRequestFormat"),
        (("r", "10.0.0.0/8", "Internet", "10.0.0.4"), "InvalidRequestFormat"),
        (("r", "10.0.0.1/8", "Internet", None), "InvalidAddressPrefixFormat"),
        (("r", "10.0.0.0/8", "Nowhere", None), "InvalidRequestFormat"),
    ],
)
def test_route_validation(network: NetworkManagementClient, route: tuple[str, str, str, str | None], code: str):
    refused = refusal(network.route_tables.begin_create_or_update, RG, "rt", route_table_body(route))
    assert (refused.status, refused.code) == (400, code)
    assert list(network.route_tables.list(RG)) == []


def test_network_security_group_rules_defaults_and_users(network: NetworkManagementClient, vnet: str):
    asg = network.application_security_groups.begin_create_or_update(
        RG, "redis-servers", {"location": LOCATION}
    ).result()
    assert asg.provisioning_state == "Succeeded" and asg.resource_guid
    nsg = network.network_security_groups.begin_create_or_update(
        RG,
        "spoke-nsg",
        nsg_body(
            rule("redis", 200),
            rule(
                "redis-asg", 210, destinationAddressPrefix=None, destinationApplicationSecurityGroups=[{"id": asg.id}]
            ),
        ),
    ).result()
    assert [r.name for r in nsg.security_rules] == ["redis", "redis-asg"]
    assert nsg.security_rules[1].destination_application_security_groups[0].id == asg.id
    assert [(r.name, r.priority, r.direction) for r in nsg.default_security_rules] == [
        ("AllowVnetInBound", 65000, "Inbound"),
        ("AllowAzureLoadBalancerInBound", 65001, "Inbound"),
        ("DenyAllInBound", 65500, "Inbound"),
        ("AllowVnetOutBound", 65000, "Outbound"),
        ("AllowInternetOutBound", 65001, "Outbound"),
        ("DenyAllOutBound", 65500, "Outbound"),
    ]
    assert network.default_security_rules.get(RG, "spoke-nsg", "DenyAllInBound").access == "Deny"
    assert len(list(network.default_security_rules.list(RG, "spoke-nsg"))) == 6

    network.security_rules.begin_create_or_update(
        RG, "spoke-nsg", "ssh", rule("ssh", 300, destinationPortRange="22")
    ).result()
    assert network.security_rules.get(RG, "spoke-nsg", "ssh").destination_port_range == "22"
    network.security_rules.begin_delete(RG, "spoke-nsg", "ssh").result()
    assert [r.name for r in network.security_rules.list(RG, "spoke-nsg")] == ["redis", "redis-asg"]

    attach_to_subnet(network, networkSecurityGroup={"id": nsg.id})
    network.network_interfaces.begin_create_or_update(
        RG,
        "nic",
        nic_body(vnet) | {"properties": nic_body(vnet)["properties"] | {"networkSecurityGroup": {"id": nsg.id}}},
    ).result()
    nsg = network.network_security_groups.get(RG, "spoke-nsg")
    assert [s.id for s in nsg.subnets] == [vnet]
    assert [n.id for n in nsg.network_interfaces] == [provider("networkInterfaces", "nic")]
    assert network.network_interfaces.get(RG, "nic").network_security_group.id == nsg.id

    refused = refusal(network.network_security_groups.begin_delete, RG, "spoke-nsg")
    assert (refused.status, refused.code) == (400, "InUseNetworkSecurityGroupCannotBeDeleted")
    assert vnet in refused.message and provider("networkInterfaces", "nic") in refused.message
    refused = refusal(network.application_security_groups.begin_delete, RG, "redis-servers")
    assert (refused.status, refused.code) == (400, "InUseApplicationSecurityGroupCannotBeDeleted")


def test_security_rule_validation(network: NetworkManagementClient):
    refused = refusal(
        network.network_security_groups.begin_create_or_update, RG, "nsg", nsg_body(rule("a", 200), rule("b", 200))
    )
    assert (refused.status, refused.code) == (400, "SecurityRuleConflict")
    assert provider("networkSecurityGroups", "nsg", "securityRules", "b") in refused.message
    refused = refusal(network.network_security_groups.begin_create_or_update, RG, "nsg", nsg_body(rule("a", 99)))
    assert (refused.status, refused.code) == (400, "InvalidRequestFormat")
    missing = provider("applicationSecurityGroups", "absent")
    refused = refusal(
        network.network_security_groups.begin_create_or_update,
        RG,
        "nsg",
        nsg_body(rule("a", 200, sourceAddressPrefix=None, sourceApplicationSecurityGroups=[{"id": missing}])),
    )
    assert (refused.status, refused.code) == (400, "InvalidResourceReference")
    assert list(network.network_security_groups.list(RG)) == []
    # Inbound and outbound rules may share a priority.
    network.network_security_groups.begin_create_or_update(
        RG, "nsg", nsg_body(rule("in", 200), rule("out", 200, direction="Outbound"))
    ).result()


def test_nic_keeps_its_application_security_groups_and_public_ip(network: NetworkManagementClient, vnet: str):
    asg = network.application_security_groups.begin_create_or_update(RG, "web", {"location": LOCATION}).result()
    pip = network.public_ip_addresses.begin_create_or_update(
        RG,
        "vm-ip",
        {"location": LOCATION, "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}},
    ).result()
    assert pip.sku.name == "Standard" and pip.public_ip_allocation_method == "Static"
    assert ipaddress.ip_address(pip.ip_address) in ipaddress.ip_network("203.0.113.0/24")
    body = nic_body(vnet)
    config = body["properties"]["ipConfigurations"][0]["properties"]
    config.update(applicationSecurityGroups=[{"id": asg.id}], publicIPAddress={"id": pip.id})
    nic = network.network_interfaces.begin_create_or_update(RG, "nic", body).result()
    assert [g.id for g in nic.ip_configurations[0].application_security_groups] == [asg.id]
    assert nic.ip_configurations[0].public_ip_address.id == pip.id
    config_id = nic.ip_configurations[0].id
    assert network.public_ip_addresses.get(RG, "vm-ip").ip_configuration.id == config_id

    # The NIC sent back as read keeps everything, and its address stays.
    again = network.network_interfaces.begin_create_or_update(RG, "nic", nic).result()
    assert again.ip_configurations[0].public_ip_address.id == pip.id
    assert network.public_ip_addresses.get(RG, "vm-ip").ip_address == pip.ip_address

    refused = refusal(network.network_interfaces.begin_create_or_update, RG, "other-nic", body)
    assert (refused.status, refused.code) == (400, "PublicIPAddressInUse")
    assert config_id in refused.message
    refused = refusal(network.public_ip_addresses.begin_delete, RG, "vm-ip")
    assert (refused.status, refused.code) == (400, "PublicIPAddressCannotBeDeleted")
    network.network_interfaces.begin_delete(RG, "nic").result()
    network.public_ip_addresses.begin_delete(RG, "vm-ip").result()
    network.application_security_groups.begin_delete(RG, "web").result()
    assert list(network.application_security_groups.list(RG)) == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"sku": {"name": "Basic"}}, "BasicSkuPublicIpIsNotAllowed"),
        ({"properties": {"publicIPAllocationMethod": "Dynamic"}}, "StandardSkuPublicIPAddressesMustBeStatic"),
        ({"properties": {"idleTimeoutInMinutes": 31}}, "InvalidRequestFormat"),
    ],
)
def test_public_ip_validation(network: NetworkManagementClient, body: dict[str, Any], code: str):
    refused = refusal(network.public_ip_addresses.begin_create_or_update, RG, "pip", {"location": LOCATION, **body})
    assert (refused.status, refused.code) == (400, code)


def test_nat_gateway_with_its_public_ip_on_a_subnet(network: NetworkManagementClient, vnet: str):
    pip = network.public_ip_addresses.begin_create_or_update(
        RG, "nat-ip", {"location": LOCATION, "sku": {"name": "Standard"}}
    ).result()
    gateway = network.nat_gateways.begin_create_or_update(
        RG,
        "egress",
        {"location": LOCATION, "sku": {"name": "Standard"}, "properties": {"publicIpAddresses": [{"id": pip.id}]}},
    ).result()
    assert gateway.sku.name == "Standard" and gateway.idle_timeout_in_minutes == 4
    assert [p.id for p in gateway.public_ip_addresses] == [pip.id]
    assert network.public_ip_addresses.get(RG, "nat-ip").nat_gateway.id == gateway.id

    attach_to_subnet(network, natGateway={"id": gateway.id})
    assert [s.id for s in network.nat_gateways.get(RG, "egress").subnets] == [vnet]
    assert network.subnets.get(RG, "vnet", "default").nat_gateway.id == gateway.id
    refused = refusal(network.nat_gateways.begin_delete, RG, "egress")
    assert (refused.status, refused.code) == (400, "InUseNatGatewayCannotBeDeleted")
    refused = refusal(
        network.nat_gateways.begin_create_or_update,
        RG,
        "second",
        {"location": LOCATION, "properties": {"publicIpAddresses": [{"id": pip.id}]}},
    )
    assert (refused.status, refused.code) == (400, "PublicIPAddressInUse")
    assert [g.name for g in network.nat_gateways.list(RG)] == ["egress"]


def test_service_endpoint_policy_on_a_subnet(network: NetworkManagementClient, vnet: str):
    storage = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/data/providers/Microsoft.Storage"
    storage += "/storageAccounts/x"
    policy = network.service_endpoint_policies.begin_create_or_update(
        RG,
        "storage-only",
        {
            "location": LOCATION,
            "properties": {
                "serviceEndpointPolicyDefinitions": [
                    {"name": "ours", "properties": {"service": "Microsoft.Storage", "serviceResources": [storage]}}
                ]
            },
        },
    ).result()
    definition = policy.service_endpoint_policy_definitions[0]
    assert (definition.service, definition.service_resources) == ("Microsoft.Storage", [storage])
    assert network.service_endpoint_policy_definitions.get(RG, "storage-only", "ours").id == definition.id
    assert [p.name for p in network.service_endpoint_policies.list_by_resource_group(RG)] == ["storage-only"]

    attach_to_subnet(
        network,
        serviceEndpoints=[{"service": "Microsoft.Storage"}],
        serviceEndpointPolicies=[{"id": policy.id}],
    )
    assert [s.id for s in network.service_endpoint_policies.get(RG, "storage-only").subnets] == [vnet]
    refused = refusal(network.service_endpoint_policies.begin_delete, RG, "storage-only")
    assert (refused.status, refused.code) == (400, "InUseServiceEndpointPolicyCannotBeDeleted")


def test_subnet_and_nic_references_must_exist_in_the_same_region(network: NetworkManagementClient, vnet: str):
    network.route_tables.begin_create_or_update(RG, "far", {"location": "eastus", "properties": {}}).result()
    before = network.subnets.get(RG, "vnet", "default")
    for field, target in (
        ("routeTable", provider("routeTables", "absent")),
        ("routeTable", provider("routeTables", "far")),
        ("networkSecurityGroup", provider("routeTables", "far")),
        ("serviceEndpointPolicies", provider("serviceEndpointPolicies", "absent")),
    ):
        subnet = before.as_dict()
        subnet["properties"][field] = [{"id": target}] if field.endswith("ies") else {"id": target}
        refused = refusal(network.subnets.begin_create_or_update, RG, "vnet", "default", subnet)
        assert (refused.status, refused.code) == (400, "InvalidResourceReference")
        assert f"Resource {target} referenced by resource {vnet} was not found." in refused.message
    assert network.subnets.get(RG, "vnet", "default").etag == before.etag
    body = nic_body(vnet)
    body["properties"]["ipConfigurations"][0]["properties"]["applicationSecurityGroups"] = [
        {"id": provider("applicationSecurityGroups", "absent")}
    ]
    refused = refusal(network.network_interfaces.begin_create_or_update, RG, "nic", body)
    assert (refused.status, refused.code) == (400, "InvalidResourceReference")


def test_a_vnet_put_keeps_its_subnets_references(network: NetworkManagementClient):
    table = network.route_tables.begin_create_or_update(RG, "rt", {"location": LOCATION}).result()
    body = vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"})
    body["properties"]["subnets"][0]["properties"]["routeTable"] = {"id": table.id}
    vnet = network.virtual_networks.begin_create_or_update(RG, "vnet", body).result()
    assert vnet.subnets[0].route_table.id == table.id
    assert [s.id for s in network.route_tables.get(RG, "rt").subnets] == [SUBNET]


def test_puts_are_long_running_with_arm_headers(cloud: Cloud):
    with cloud.http() as http:
        url = provider("networkSecurityGroups", "lro")
        answer = http.put(url, params={"api-version": "2024-05-01"}, json={"location": LOCATION})
        assert answer.status_code == 201
        assert answer.json()["properties"]["provisioningState"] == "Updating"
        assert "/operations/" in answer.headers["Azure-AsyncOperation"]
        assert answer.headers["Azure-AsyncNotification"] == "Enabled"
        assert answer.json()["type"] == "Microsoft.Network/networkSecurityGroups"
        assert answer.json()["etag"].startswith('W/"')
        again = http.put(url, params={"api-version": "2024-05-01"}, json={"location": LOCATION})
        assert again.status_code in (200, 409)
        gone = http.delete(provider("networkSecurityGroups", "never"), params={"api-version": "2024-05-01"})
        assert gone.status_code == 204
