"""A link in the spoke of a hub-spoke network, over the HTTP API against localcloud, whose ARM enforces the app's
custom role (infra/network-role.json) and ARM's linked-access checks.

The spoke subnet has a route table and a network security group from the hub resource group; the backend NIC has
an application security group from the hub and its own network security group. The app sends the subnet and the
NIC back whole, so ARM checks the join action on each of them: with the role on the spoke and the hub role on the
hub the link reaches `running` and leaves every hub resource as it found it; without the hub, ARM refuses the
subnet PUT with LinkedAuthorizationFailed naming the hub's resources.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from localcloud.arm.authorization import network_role_file
from localcloud.emqx.arm_client import ArmClient, ArmError, ArmSettings
from localcloud.seed import GuideNetwork
from localcloud.stack import APP_CLIENT_ID
from tests.e2e.world import World

ROLE = network_role_file()
NET = "providers/Microsoft.Network"


class HubSpoke:
    """The guide's network (the spoke) with its subnet and NIC attached to resources of a hub resource group."""

    def __init__(self, world: World) -> None:
        self.network: GuideNetwork = world.network()
        subscription = f"/subscriptions/{world.subscription_id}"
        self.spoke_group = f"{subscription}/resourceGroups/{self.network.resource_group}"
        self.hub_group = f"{self.spoke_group}-hub"
        location = self.network.location
        world.arm_put(self.hub_group, {"location": location})
        hub, spoke = f"{self.hub_group}/{NET}", f"{self.spoke_group}/{NET}"
        self.ids = {
            "route table": f"{hub}/routeTables/spoke-routes",
            "subnet NSG": f"{hub}/networkSecurityGroups/spoke-subnets",
            "ASG": f"{hub}/applicationSecurityGroups/redis-servers",
            "NIC NSG": f"{spoke}/networkSecurityGroups/redis-nic",
        }
        redis_in = {
            "protocol": "Tcp",
            "access": "Allow",
            "direction": "Inbound",
            "sourcePortRange": "*",
            "destinationPortRange": "6379",
            "sourceAddressPrefix": "VirtualNetwork",
        }
        world.arm_put(
            self.ids["route table"],
            {
                "location": location,
                "properties": {
                    "disableBgpRoutePropagation": True,
                    "routes": [
                        {
                            "name": "default-via-firewall",
                            "properties": {
                                "addressPrefix": "0.0.0.0/0",
                                "nextHopType": "VirtualAppliance",
                                "nextHopIpAddress": "10.0.0.4",
                            },
                        }
                    ],
                },
            },
        )
        world.arm_put(self.ids["ASG"], {"location": location})
        world.arm_put(
            self.ids["subnet NSG"],
            {
                "location": location,
                "properties": {
                    "securityRules": [
                        {"name": "redis", "properties": {**redis_in, "priority": 200, "destinationAddressPrefix": "*"}}
                    ]
                },
            },
        )
        world.arm_put(
            self.ids["NIC NSG"],
            {
                "location": location,
                "properties": {
                    "securityRules": [
                        {
                            "name": "redis-servers",
                            "properties": {
                                **redis_in,
                                "priority": 300,
                                "destinationApplicationSecurityGroups": [{"id": self.ids["ASG"]}],
                            },
                        }
                    ]
                },
            },
        )
        # The operator attaches them, as the network's owner would (the operator's identity is not under RBAC).
        subnet = world.arm_get(self.network.subnet_id)
        assert subnet is not None
        subnet["properties"].update(
            routeTable={"id": self.ids["route table"]}, networkSecurityGroup={"id": self.ids["subnet NSG"]}
        )
        world.arm_put(self.network.subnet_id, {"properties": subnet["properties"]})
        nic = world.arm_get(self.network.nic_id)
        assert nic is not None
        nic["properties"]["networkSecurityGroup"] = {"id": self.ids["NIC NSG"]}
        nic["properties"]["ipConfigurations"][0]["properties"]["applicationSecurityGroups"] = [{"id": self.ids["ASG"]}]
        world.arm_put(self.network.nic_id, {"location": location, "properties": nic["properties"]})

    def attached(self, world: World) -> None:
        """The subnet and the NIC still reference every resource, and each shows who uses it."""
        subnet = world.arm_get(self.network.subnet_id)
        assert subnet is not None
        assert subnet["properties"]["routeTable"] == {"id": self.ids["route table"]}
        assert subnet["properties"]["networkSecurityGroup"] == {"id": self.ids["subnet NSG"]}
        nic = world.arm_get(self.network.nic_id)
        assert nic is not None
        assert nic["properties"]["networkSecurityGroup"] == {"id": self.ids["NIC NSG"]}
        config = nic["properties"]["ipConfigurations"][0]["properties"]
        assert config["applicationSecurityGroups"] == [{"id": self.ids["ASG"]}]
        table = world.arm_get(self.ids["route table"])
        assert table is not None and table["properties"]["subnets"] == [{"id": self.network.subnet_id}]
        subnet_nsg = world.arm_get(self.ids["subnet NSG"])
        assert subnet_nsg is not None and subnet_nsg["properties"]["subnets"] == [{"id": self.network.subnet_id}]
        nic_nsg = world.arm_get(self.ids["NIC NSG"])
        assert nic_nsg is not None and nic_nsg["properties"]["networkInterfaces"] == [{"id": self.network.nic_id}]

    def snapshot(self, world: World) -> dict[str, dict[str, Any]]:
        return {name: dict(world.arm_get(resource_id) or {}) for name, resource_id in self.ids.items()}


def rbac(world: World) -> dict[str, Any]:
    answer = world.cloud.get(f"{world.arm_url}/localcloud/rbac")
    answer.raise_for_status()
    return dict(answer.json())


def assign(world: World, *assignments: tuple[str, str]) -> None:
    """The app's identity holds exactly these `(role, scope)` assignments."""
    document = rbac(world)
    document["assignments"] = [{"principal": APP_CLIENT_ID, "role": r, "scope": s} for r, s in assignments]
    answer = world.cloud.put(f"{world.arm_url}/localcloud/rbac", json=document)
    assert answer.status_code == 200, answer.text


@pytest.fixture
def scoped(world: World) -> Iterator[World]:
    """The world's RBAC document back as the stack built it after the test (the role on the subscription)."""
    try:
        yield world
    finally:
        world.cloud.delete(f"{world.arm_url}/localcloud/rbac").raise_for_status()


def as_the_app(world: World, method: str, path: str, body: dict[str, Any] | None = None) -> ArmError | None:
    """One ARM request with the app's own identity; the ARM error it ends with, if any."""

    async def run() -> ArmError | None:
        async with (
            httpx.AsyncClient(verify=ssl.create_default_context(cafile=world.endpoints["caBundle"]), timeout=60) as arm,
            httpx.AsyncClient(timeout=30) as identity,
        ):
            settings = ArmSettings(
                arm_endpoint=world.arm_url,
                identity_endpoint=world.endpoints["identity"]["endpoint"],
                identity_header=world.endpoints["identity"]["header"],
                client_id=APP_CLIENT_ID,
            )
            try:
                if method == "PUT":
                    assert body is not None
                    await ArmClient(settings, arm, identity).put(path, body)
                else:
                    await ArmClient(settings, arm, identity).get(path)
            except ArmError as error:
                return error
            return None

    return asyncio.run(run())


def test_the_stack_enforces_the_deployed_role_for_the_app_only(world: World) -> None:
    document = rbac(world)
    assert document["principals"] == [APP_CLIENT_ID]
    (network_role,) = [role for role in document["roles"] if role["name"] == ROLE["name"]]
    assert network_role["actions"] == ROLE["actions"]
    assert document["assignments"] == [
        {"principal": APP_CLIENT_ID, "role": ROLE["name"], "scope": f"/subscriptions/{world.subscription_id}"}
    ]


def test_a_spoke_link_runs_and_leaves_the_hub_as_it_was(scoped: World) -> None:
    world = scoped
    spoke = HubSpoke(world)
    assign(world, (ROLE["name"], spoke.spoke_group), (ROLE["hub"]["name"], spoke.hub_group))
    before = spoke.snapshot(world)

    world.provision("spoke", world.link_body(spoke.network))
    assert world.register("spoke").status_code == 200
    link = world.wait_for(
        "spoke", lambda link: link["status"]["phase"] == "running" and link["status"].get("lastRedisTest")
    )
    assert link["status"]["lastRedisTest"]["passed"] is True, link["status"]["lastRedisTest"]
    subnet = world.arm_get(spoke.network.subnet_id)
    assert subnet is not None and subnet["properties"]["privateLinkServiceNetworkPolicies"] == "Disabled"
    writes = [c for c in world.calls() if c["identity"] == APP_CLIENT_ID and c["kind"] == "write"]
    assert any(c["path"].lower() == spoke.network.subnet_id.lower() and c["status"] == 200 for c in writes)
    assert any(c["path"].lower() == spoke.network.nic_id.lower() and c["status"] == 200 for c in writes)
    assert not [c for c in world.calls() if c["identity"] == APP_CLIENT_ID and c["status"] == 403]
    spoke.attached(world)

    world.delete_until_gone("spoke")
    assert world.api.get("/links/spoke").status_code == 404
    after = spoke.snapshot(world)
    for name, resource in before.items():
        assert after[name]["etag"] == resource["etag"], name
        assert after[name]["properties"] == resource["properties"], name
    spoke.attached(world)


def test_without_the_hub_the_subnet_put_is_refused_naming_the_hub_resources(scoped: World) -> None:
    world = scoped
    spoke = HubSpoke(world)
    assign(world, (ROLE["name"], spoke.spoke_group))
    subnet_before = world.arm_get(spoke.network.subnet_id)
    assert subnet_before is not None

    answer = world.put_link("no-hub", world.link_body(spoke.network))
    # The app's answer: the refusal surfaces as an upstream failure naming ARM's code, not a 500. (Its message is
    # ARM's cut to 300 characters, which ends before the linked actions and scopes: ARM's own answer names them.)
    assert answer.status_code == 502, answer.text
    error = answer.json()["error"]
    assert error["code"] == "LinkedAuthorizationFailed", error
    assert "LinkedAuthorizationFailed" in error["message"]
    refused = [
        c
        for c in world.calls()
        if c["identity"] == APP_CLIENT_ID and c["path"].lower() == spoke.network.subnet_id.lower()
    ]
    assert [c["status"] for c in refused if c["method"] == "PUT"] == [403], refused
    assert world.arm_get(spoke.network.subnet_id) == subnet_before, "a refused PUT changes nothing"

    # What ARM answered the app, asked again with the app's identity: the hub's resources and their join actions.
    body = {"properties": {**subnet_before["properties"], "privateLinkServiceNetworkPolicies": "Disabled"}}
    arm_error = as_the_app(world, "PUT", spoke.network.subnet_id, body)
    assert arm_error is not None and (arm_error.status, arm_error.code) == (403, "LinkedAuthorizationFailed")
    assert (
        f"perform action(s) 'Microsoft.Network/networkSecurityGroups/join/action,"
        f"Microsoft.Network/routeTables/join/action' on the linked scope(s) '{spoke.ids['subnet NSG']},"
        f"{spoke.ids['route table']}' (respectively)"
    ) in arm_error.message

    # With the hub role on the hub resource group, the same link goes through.
    assign(world, (ROLE["name"], spoke.spoke_group), (ROLE["hub"]["name"], spoke.hub_group))
    link = world.provision("no-hub", world.link_body(spoke.network))
    assert link["status"]["phase"] == "provisioned", link["status"]
    spoke.attached(world)
    world.delete_until_gone("no-hub")
