"""Desired ARM bodies and conformance: what ARM returns for what we sent must read as 'no change'."""

import copy
from typing import Any

from shared import arm_reading, desired
from shared.model import LinkSpec, parse_link_spec
from tests.bodies import NIC, NIC_2, guide_body, lb_rule_body

EMQX_SUB = "aaaaaaaa-0000-4000-8000-000000000001"


def guide() -> LinkSpec:
    return parse_link_spec("demo", guide_body())


def as_arm_returns(body: dict[str, Any], resource_id: str) -> dict[str, Any]:
    """What ARM answers for a PUT of `body`: ids, etags, read-only state, other casing, defaults filled in."""
    returned = copy.deepcopy(body)
    returned.update(id=resource_id, name=resource_id.rsplit("/", 1)[-1], etag='W/"1"', type="Microsoft.Network/x")
    props = returned["properties"]
    props["provisioningState"] = "Succeeded"
    for collection in (
        "frontendIPConfigurations",
        "backendAddressPools",
        "inboundNatRules",
        "loadBalancingRules",
        "probes",
    ):
        for item in props.get(collection, []):
            item["id"] = f"{resource_id}/{collection}/{item['name']}".upper()
            item["etag"] = 'W/"1"'
            item.setdefault("properties", {})["provisioningState"] = "Succeeded"
    for fe in props.get("frontendIPConfigurations", []):
        fe["properties"].setdefault("privateIPAddress", "10.1.0.4")
        fe["properties"]["privateIPAddressVersion"] = "IPv4"
    return returned


def test_the_guide_load_balancer() -> None:
    body = desired.load_balancer_body(guide())
    props = body["properties"]
    assert body["sku"] == {"name": "Standard", "tier": "Regional"}
    assert props["frontendIPConfigurations"][0]["name"] == "demo-redis"
    assert props["frontendIPConfigurations"][0]["properties"]["privateIPAddress"] == "10.1.0.9"
    rule = props["inboundNatRules"][0]["properties"]
    assert (rule["frontendPortRangeStart"], rule["backendPort"], rule["protocol"]) == (6379, 6379, "Tcp")
    assert rule["frontendIPConfiguration"]["id"].endswith("/loadBalancers/test01/frontendIPConfigurations/demo-redis")
    assert props["loadBalancingRules"] == [] and props["probes"] == []
    assert arm_reading.owner_of(body) == "demo"


def test_what_arm_returns_conforms() -> None:
    spec = guide()
    returned = as_arm_returns(desired.load_balancer_body(spec), str(spec.load_balancer_id))
    assert desired.load_balancer_conforms(spec, returned)


def test_a_changed_port_does_not_conform() -> None:
    spec = guide()
    returned = as_arm_returns(desired.load_balancer_body(spec), str(spec.load_balancer_id))
    returned["properties"]["inboundNatRules"][0]["properties"]["backendPort"] = 6380
    assert not desired.load_balancer_conforms(spec, returned)


def test_a_load_balancer_without_our_tags_does_not_conform() -> None:
    spec = guide()
    returned = as_arm_returns(desired.load_balancer_body(spec), str(spec.load_balancer_id))
    returned["tags"] = {}
    assert not desired.load_balancer_conforms(spec, returned)
    assert arm_reading.owner_of(returned) is None


def test_a_load_balancing_rule_has_its_probe() -> None:
    spec = parse_link_spec("demo", lb_rule_body())
    props = desired.load_balancer_body(spec)["properties"]
    assert props["inboundNatRules"] == []
    rule = props["loadBalancingRules"][0]["properties"]
    assert rule["probe"]["id"].endswith("/probes/probe-demo")
    assert props["probes"][0]["properties"] == {
        "protocol": "Tcp",
        "port": 6380,
        "intervalInSeconds": 5,
        "numberOfProbes": 2,
        "probeThreshold": 1,
    }


def nic(*, pools: list[str] = (), nat_rules: list[str] = ()) -> dict[str, Any]:
    return {
        "id": NIC,
        "location": "eastus",
        "tags": {"owner": "team"},
        "properties": {
            "provisioningState": "Succeeded",
            "ipConfigurations": [
                {
                    "name": "ipconfig1",
                    "id": f"{NIC}/ipConfigurations/ipconfig1",
                    "properties": {
                        "primary": True,
                        "privateIPAddress": "10.1.0.5",
                        "subnet": {"id": "s"},
                        "loadBalancerBackendAddressPools": [{"id": p} for p in pools],
                        "loadBalancerInboundNatRules": [{"id": r} for r in nat_rules],
                    },
                }
            ],
        },
    }


def test_binding_a_nic_adds_the_pool_only_and_keeps_the_rest() -> None:
    spec = guide()
    other_pool = "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/loadBalancers/z/backendAddressPools/p"
    body = desired.nic_bound(spec, nic(pools=[other_pool]))
    assert body is not None
    config = body["properties"]["ipConfigurations"][0]["properties"]
    assert [p["id"] for p in config["loadBalancerBackendAddressPools"]] == [other_pool, str(desired.pool_id(spec))]
    assert config["loadBalancerInboundNatRules"] == []  # a V2 NAT rule reaches the NIC through the pool
    assert body["tags"] == {"owner": "team"}
    assert config["privateIPAddress"] == "10.1.0.5"


def test_a_bound_nic_needs_no_write_and_unbinding_removes_only_ours() -> None:
    spec = guide()
    other_pool = "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/loadBalancers/z/backendAddressPools/p"
    bound = nic(pools=[other_pool, str(desired.pool_id(spec)).upper()])
    assert desired.nic_bound(spec, bound) is None
    unbound = desired.nic_unbound(spec, bound)
    assert unbound is not None
    config = unbound["properties"]["ipConfigurations"][0]["properties"]
    assert [p["id"] for p in config["loadBalancerBackendAddressPools"]] == [other_pool]
    assert desired.nic_unbound(spec, nic(pools=[other_pool])) is None


def test_the_nat_rule_is_v2_on_the_pool_and_a_v1_rule_is_found_for_migration() -> None:
    spec = guide()
    body = desired.load_balancer_body(spec)
    (rule,) = body["properties"]["inboundNatRules"]
    props = rule["properties"]
    assert "frontendPort" not in props
    assert (props["frontendPortRangeStart"], props["frontendPortRangeEnd"], props["backendPort"]) == (6379, 6379, 6379)
    assert props["backendAddressPool"]["id"] == str(desired.pool_id(spec))
    assert arm_reading.v1_nat_rules(body) == []
    v1 = copy.deepcopy(body)
    v1_props = v1["properties"]["inboundNatRules"][0]["properties"]
    for name in ("frontendPortRangeStart", "frontendPortRangeEnd", "backendAddressPool"):
        del v1_props[name]
    v1_props["frontendPort"] = 6379
    assert arm_reading.v1_nat_rules(v1) == [rule["name"]]
    assert not desired.load_balancer_conforms(spec, v1)
    assert desired.load_balancer_conforms(spec, body)


def test_the_private_link_service_and_its_replacement() -> None:
    spec = guide()
    body = desired.private_link_service_body(spec, [EMQX_SUB], [])
    returned = copy.deepcopy(body)
    returned["properties"] |= {"alias": "demo.1234.eastus.azure.privatelinkservice", "provisioningState": "Succeeded"}
    returned["properties"]["loadBalancerFrontendIpConfigurations"][0]["id"] = returned["properties"][
        "loadBalancerFrontendIpConfigurations"
    ][0]["id"].lower()
    assert desired.private_link_service_conforms(returned, body)
    assert arm_reading.alias_of(returned) == "demo.1234.eastus.azure.privatelinkservice"
    assert not desired.private_link_service_conforms(returned, desired.private_link_service_body(spec, [], []))
    assert not desired.private_link_service_needs_replacing(returned, desired.private_link_service_body(spec, [], []))
    other = parse_link_spec("demo", {**guide_body(), "azure": {**guide_body()["azure"], "backendNicIds": [NIC_2]}})
    assert not desired.private_link_service_needs_replacing(returned, desired.private_link_service_body(other, [], []))
    moved = guide_body()
    moved["azure"]["names"]["frontend"] = "fe2"
    moved_spec = parse_link_spec("demo", moved)
    assert desired.private_link_service_needs_replacing(
        returned, desired.private_link_service_body(moved_spec, [EMQX_SUB], [])
    )


def test_the_subnet_keeps_everything_but_the_policy() -> None:
    subnet = {
        "name": "default",
        "id": "x",
        "properties": {
            "addressPrefix": "10.1.0.0/24",
            "networkSecurityGroup": {"id": "nsg"},
            "privateLinkServiceNetworkPolicies": "Enabled",
            "provisioningState": "Succeeded",
        },
    }
    assert not arm_reading.subnet_allows_private_link_service(subnet)
    body = desired.subnet_with_policies_disabled(subnet)
    assert body["properties"] == {
        "addressPrefix": "10.1.0.0/24",
        "networkSecurityGroup": {"id": "nsg"},
        "privateLinkServiceNetworkPolicies": "Disabled",
    }
    assert arm_reading.subnet_allows_private_link_service(body)
    assert arm_reading.subnet_prefix(subnet) == "10.1.0.0/24"


def test_binding_drops_a_v1_nat_rule_reference_into_the_links_balancer() -> None:
    spec = guide()
    old_rule = f"{spec.load_balancer_id}/inboundNatRules/nat-demo-6380"
    other_lb_rule = "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/loadBalancers/z/inboundNatRules/r"
    body = desired.nic_bound(spec, nic(pools=[str(desired.pool_id(spec))], nat_rules=[old_rule, other_lb_rule]))
    assert body is not None
    config = body["properties"]["ipConfigurations"][0]["properties"]
    assert [r["id"] for r in config["loadBalancerInboundNatRules"]] == [other_lb_rule]
