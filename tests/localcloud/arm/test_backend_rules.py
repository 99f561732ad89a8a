"""What ARM refuses when a NIC joins load balancer rules, and inbound NAT rule V2 (a port range on a pool).

Sources: the message of RulesUseSameBackendPortProtocolAndIPConfig as Azure/azure-powershell#2042 quotes it; the
different-VNet refusal as AutomatedLab/AutomatedLab#57 quotes it (its code is not published: see
localcloud/arm/README.md); NAT rule V2's properties from azure-rest-api-specs (InboundNatRulePropertiesFormat:
frontendPortRangeStart, frontendPortRangeEnd, backendAddressPool).
"""

from __future__ import annotations

from typing import Any

from azure.mgmt.network import NetworkManagementClient

from localcloud.arm.backend_rules import DIFFERENT_VNET_CODE
from tests.localcloud.arm.support import RG, Cloud, lb_body, nic_body, provider, provision, refusal, vnet_body


def v2_lb_body(name: str, subnet_id: str, *, frontend_ip: str, frontend_port: int, backend_port: int) -> dict:
    body = lb_body(name, subnet_id, frontend_ip=frontend_ip, nat_port=None)
    lb_id = provider("loadBalancers", name)
    body["properties"]["inboundNatRules"] = [
        {
            "name": "redis-v2",
            "properties": {
                "frontendIPConfiguration": {"id": f"{lb_id}/frontendIPConfigurations/demo-redis"},
                "backendAddressPool": {"id": f"{lb_id}/backendAddressPools/demo-redis-pool"},
                "protocol": "Tcp",
                "frontendPortRangeStart": frontend_port,
                "frontendPortRangeEnd": frontend_port,
                "backendPort": backend_port,
            },
        }
    ]
    return body


def test_two_rules_on_one_backend_port_and_ip_configuration_are_refused(network: NetworkManagementClient) -> None:
    link = provision(network)  # test01's V1 NAT rule delivers 6379 to the NIC
    network.load_balancers.begin_create_or_update(
        RG,
        "second",
        v2_lb_body("second", link.subnet_id, frontend_ip="10.1.0.20", frontend_port=7000, backend_port=6379),
    ).result()
    second_pool = provider("loadBalancers", "second") + "/backendAddressPools/demo-redis-pool"
    nat_rule = link.lb_id + "/inboundNatRules/redis"
    refused = refusal(
        network.network_interfaces.begin_create_or_update,
        RG,
        "demo-redis-nic",
        nic_body(link.subnet_id, pools=[second_pool], nat_rules=[nat_rule]),
    )
    assert (refused.status, refused.code) == (400, "RulesUseSameBackendPortProtocolAndIPConfig")
    assert "use the same backend port (6379) and protocol (Tcp)" in refused.message
    assert "/loadBalancers/second/inboundNatRules/redis-v2" in refused.message
    # Another backend port is fine.
    network.load_balancers.begin_create_or_update(
        RG,
        "second",
        v2_lb_body("second", link.subnet_id, frontend_ip="10.1.0.20", frontend_port=7000, backend_port=6380),
    ).result()
    network.network_interfaces.begin_create_or_update(
        RG, "demo-redis-nic", nic_body(link.subnet_id, pools=[second_pool], nat_rules=[nat_rule])
    ).result()


def test_a_nic_from_another_virtual_network_cannot_join(network: NetworkManagementClient) -> None:
    link = provision(network, bind_nat=False)
    network.virtual_networks.begin_create_or_update(
        RG, "other-vnet", vnet_body("10.9.0.0/16", {"default": "10.9.0.0/24"})
    ).result()
    other_subnet = network.subnets.get(RG, "other-vnet", "default").id
    refused = refusal(
        network.network_interfaces.begin_create_or_update,
        RG,
        "far-nic",
        nic_body(other_subnet, pools=[link.pool_id]),
    )
    assert (refused.status, refused.code) == (400, DIFFERENT_VNET_CODE)
    assert "does not use the same VNET" in refused.message


def test_a_v2_nat_rule_maps_its_port_range_onto_the_pool(cloud: Cloud, network: NetworkManagementClient) -> None:
    link = provision(network, bind_nat=False, nat_port=None)
    lb = network.load_balancers.begin_create_or_update(
        RG,
        "test01",
        v2_lb_body("test01", link.subnet_id, frontend_ip="10.1.0.9", frontend_port=6379, backend_port=6379),
    ).result()
    rule = lb.inbound_nat_rules[0]
    assert (rule.frontend_port_range_start, rule.frontend_port_range_end, rule.frontend_port) == (6379, 6379, None)
    assert rule.backend_address_pool.id.lower() == link.pool_id.lower()
    network.network_interfaces.begin_create_or_update(
        RG, "demo-redis-nic", nic_body(link.subnet_id, pools=[link.pool_id])
    ).result()
    pool = network.load_balancer_backend_address_pools.get(RG, "test01", "demo-redis-pool")
    assert [r.id.lower() for r in pool.inbound_nat_rules] == [rule.id.lower()]
    mixed: dict[str, Any] = v2_lb_body(
        "test01", link.subnet_id, frontend_ip="10.1.0.9", frontend_port=6379, backend_port=6379
    )
    mixed["properties"]["inboundNatRules"][0]["properties"]["frontendPort"] = 6379
    refused = refusal(network.load_balancers.begin_create_or_update, RG, "test01", mixed)
    assert (refused.status, refused.code) == (400, "InvalidRequestFormat")
