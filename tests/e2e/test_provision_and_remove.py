"""Provision and remove over the HTTP API, against localcloud with the real SDK, Azurite and the host."""

import pytest

from localcloud.emqx import direct
from tests.e2e.world import World

ROUTES = [
    ("PUT", "/links/x"),
    ("GET", "/links/x"),
    ("GET", "/links"),
    ("DELETE", "/links/x"),
    ("POST", "/links/x/register"),
    ("POST", "/links/x/test"),
    ("GET", "/health"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_a_key(world: World, method: str, path: str) -> None:
    answer = world.api.request(method, path, headers={"x-functions-key": ""})
    assert answer.status_code == 401
    answer = world.api.request(method, path, headers={"x-functions-key": "wrong"})
    assert answer.status_code == 401


def test_the_guide_scenario_is_provisioned_and_a_repeat_put_writes_nothing(world: World) -> None:
    network = world.network()
    body = world.link_body(
        network,
        frontendIp="10.1.0.9",
        names={"loadBalancer": "test01", "frontend": "demo-redis", "privateLinkService": "demo"},
    )
    answer = world.put_link("guide", body)
    assert answer.status_code in (201, 202), answer.text
    link = world.wait_for("guide", lambda link: link["status"]["phase"] == "provisioned")
    group = f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"
    lb = world.arm_get(f"{group}/providers/Microsoft.Network/loadBalancers/test01")
    assert lb is not None
    frontend = lb["properties"]["frontendIPConfigurations"][0]
    assert (frontend["name"], frontend["properties"]["privateIPAddress"]) == ("demo-redis", "10.1.0.9")
    nat = lb["properties"]["inboundNatRules"][0]["properties"]
    # Inbound NAT rule V2: a port range on the backend pool (V1 is retired on 2027-09-30).
    assert (nat["frontendPortRangeStart"], nat["frontendPortRangeEnd"], nat["backendPort"]) == (6379, 6379, 6379)
    assert nat["backendAddressPool"]["id"].lower().endswith("/backendaddresspools/pool-guide")
    assert lb["tags"]["emqx-privatelink-link"] == "guide"
    pls = world.arm_get(f"{group}/providers/Microsoft.Network/privateLinkServices/demo")
    assert pls is not None
    assert link["status"]["plsAlias"] == pls["properties"]["alias"]
    assert pls["properties"]["alias"].startswith("demo.")
    subnet = world.arm_get(network.subnet_id)
    assert subnet["properties"]["privateLinkServiceNetworkPolicies"] == "Disabled"
    nic = world.arm_get(network.nic_id)
    config = nic["properties"]["ipConfigurations"][0]["properties"]
    assert config["loadBalancerBackendAddressPools"][0]["id"].lower().endswith("/backendaddresspools/pool-guide")
    assert not config.get("loadBalancerInboundNatRules")

    world.reset_calls()
    again = world.put_link("guide", body)
    assert again.status_code == 200, again.text
    assert world.arm_calls_under(group) == []
    reads = [c for c in world.calls() if c["kind"] == "read" and c["path"].lower().startswith(group.lower())]
    assert reads, "the repeat PUT must read what ARM holds"


BAD_INPUT = [
    ({"azure": {"frontendPort": 0}}, "azure.frontendPort"),
    ({"azure": {"subscriptionId": "not-a-guid"}}, "azure.subscriptionId"),
    ({"azure": {"frontendSubnetId": "/subscriptions/x/bad"}}, "azure.frontendSubnetId"),
    ({"azure": {"frontendIp": "10.9.9.9"}}, "azure.frontendIp"),
    ({"azure": {"names": {"loadBalancer": "-bad-"}}}, "azure.names.loadBalancer"),
    ({"emqx": {"deploymentApiVersion": "v3"}}, "emqx.deploymentApiVersion"),
    ({"emqx": {"redisPasswordSetting": "not a setting"}}, "emqx.redisPasswordSetting"),
    ({"surprise": True}, "surprise"),
]


@pytest.mark.parametrize(("change", "target"), BAD_INPUT, ids=[t for _, t in BAD_INPUT])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(world: World, change: dict, target: str) -> None:
    network = world.network()
    body = world.link_body(network)
    for section, values in change.items():
        if isinstance(values, dict) and section in body:
            body[section].update(values)
        else:
            body[section] = values
    world.reset_calls()
    answer = world.put_link("bad-input", body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert target in [error.get("target")] + [d.get("target") for d in error.get("details", [])]
    group = f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"
    assert world.arm_calls_under(group) == []
    assert world.api.get("/links/bad-input").status_code == 404


def test_a_load_balancer_the_app_does_not_own_is_never_touched(world: World) -> None:
    network = world.network()
    group = f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"
    foreign = f"{group}/providers/Microsoft.Network/loadBalancers/lb-foreign"
    world.foreign_load_balancer(network, foreign)
    world.reset_calls()
    answer = world.put_link("foreign", world.link_body(network, names={"loadBalancer": "lb-foreign"}))
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["target"] == "azure.names.loadBalancer"
    assert not [c for c in world.arm_calls_under(foreign)]
    world.delete_until_gone("foreign")
    assert world.arm_get(foreign) is not None


def test_removal_refuses_while_a_connector_uses_the_privatelink_ip(world: World) -> None:
    _network, link = world.running_link("in-use")
    ip = link["status"]["emqx"]["ip"]
    connector = {
        "type": "redis",
        "name": "uses-privatelink",
        "parameters": {"redis_type": "single", "server": f"{ip}:6379", "database": 0},
    }
    url, headers, extensions = direct(f"{world.emqx['deploymentApiUrl']}/connectors")
    created = world.emqx_call(
        "POST", url, headers=headers, extensions=extensions, json=connector, auth=world.deployment_auth()
    )
    assert created.status_code == 201, created.text
    refused = world.api.delete("/links/in-use")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "PrivateLinkInUse"
    assert world.get_link("in-use")["status"]["phase"] == "running"
    url, headers, extensions = direct(f"{world.emqx['deploymentApiUrl']}/connectors/redis:uses-privatelink")
    world.emqx_call("DELETE", url, headers=headers, extensions=extensions, auth=world.deployment_auth())
    world.delete_until_gone("in-use")


def test_removal_tears_down_in_the_safe_order(world: World) -> None:
    network, _link = world.running_link("ordered")
    group = f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"
    world.reset_calls()
    world.delete_until_gone("ordered")
    deletes = [c["path"].lower() for c in world.calls() if c["kind"] in ("delete", "write")]
    ours = [p for p in deletes if p.startswith(group.lower()) or "/privateendpoints/" in p]
    kinds = []
    for path in ours:
        if "/privateendpoints/" in path:
            kinds.append("emqx endpoint")
        elif "privateendpointconnections" in path:
            kinds.append("connection")
        elif "/privatelinkservices/" in path:
            kinds.append("pls")
        elif "/networkinterfaces/" in path:
            kinds.append("nic")
        elif "/loadbalancers/" in path:
            kinds.append("lb")
    order = [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]
    assert order.index("emqx endpoint") < order.index("pls") < order.index("nic") < order.index("lb"), order
    assert world.arm_get(f"{group}/providers/Microsoft.Network/privateLinkServices/pls-ordered") is None
    assert world.arm_get(f"{group}/providers/Microsoft.Network/loadBalancers/lb-ordered") is None
    assert world.api.get("/links/ordered").status_code == 404
