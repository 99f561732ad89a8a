"""Seed the guide's network into localcloud's ARM, with ordinary ARM PUTs as an operator would make them, and
the body of a link over it.

Resource group `rg-demo`, VNet `vnet-demo` 10.1.0.0/16 with subnet `default` 10.1.0.0/24, and the `demo-redis`
VM: a NIC in that subnet whose address localcloud maps to the real redis-server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from localcloud.emqx.arm_client import ArmClient, ArmSettings
from localcloud.stack import DEPLOYMENT_KEY_SETTING, DEPLOYMENT_SECRET_SETTING, REDIS_PASSWORD_SETTING

LOCATION = "eastus"


@dataclass(frozen=True)
class GuideNetwork:
    subscription_id: str
    resource_group: str
    location: str
    vnet_id: str
    subnet_id: str
    nic_id: str


def operator_client(
    endpoints: dict[str, Any], arm_http: httpx.AsyncClient, identity_http: httpx.AsyncClient
) -> ArmClient:
    settings = ArmSettings(
        arm_endpoint=endpoints["arm"]["endpoint"],
        identity_endpoint=endpoints["identity"]["endpoint"],
        identity_header=endpoints["identity"]["header"],
        client_id=endpoints["arm"]["operatorClientId"],
    )
    return ArmClient(settings, arm_http, identity_http)


async def seed_guide_network(
    arm: ArmClient,
    arm_http: httpx.AsyncClient,
    endpoints: dict[str, Any],
    *,
    resource_group: str = "rg-demo",
    vm_name: str = "demo-redis",
    vm_listener: str | None = None,
) -> GuideNetwork:
    subscription_id = endpoints["arm"]["subscriptionId"]
    group = f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
    network = f"{group}/providers/Microsoft.Network"
    await arm.put(f"/subscriptions/{subscription_id}/resourcegroups/{resource_group}", {"location": LOCATION})
    vnet_id = f"{network}/virtualNetworks/vnet-demo"
    await arm.put(
        vnet_id,
        {
            "location": LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
                "subnets": [{"name": "default", "properties": {"addressPrefix": "10.1.0.0/24"}}],
            },
        },
    )
    subnet_id = f"{vnet_id}/subnets/default"
    nic_id = f"{network}/networkInterfaces/{vm_name}-nic"
    await arm.put(
        nic_id,
        {
            "location": LOCATION,
            "properties": {
                "ipConfigurations": [
                    {
                        "name": "ipconfig1",
                        "properties": {
                            "subnet": {"id": subnet_id},
                            "privateIPAllocationMethod": "Dynamic",
                            "primary": True,
                        },
                    }
                ]
            },
        },
    )
    redis = endpoints["redis"]
    listener = vm_listener or f"{redis['host']}:{redis['port']}"
    answer = await arm_http.put(
        f"{endpoints['arm']['endpoint']}/localcloud/vms/{vm_name}",
        json={"nicId": nic_id, "ports": {"6379": listener}},
    )
    answer.raise_for_status()
    return GuideNetwork(subscription_id, resource_group, LOCATION, vnet_id, subnet_id, nic_id)


class Network(Protocol):
    """Where a link's Azure half goes: what a link body reads of a network (`GuideNetwork` is one)."""

    @property
    def subscription_id(self) -> str: ...
    @property
    def resource_group(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def subnet_id(self) -> str: ...
    @property
    def nic_id(self) -> str: ...


def link_body_over(network: Network, emqx: dict[str, Any], **azure: Any) -> dict[str, Any]:
    """A link's PUT body: a NAT rule on port 6379 to the network's NIC, serving the deployment `emqx` describes
    (the body's `emqx` section); `azure` overrides or adds Azure fields."""
    body: dict[str, Any] = {
        "azure": {
            "subscriptionId": network.subscription_id,
            "resourceGroup": network.resource_group,
            "location": network.location,
            "frontendSubnetId": network.subnet_id,
            "backendNicIds": [network.nic_id],
            "frontendPort": 6379,
            "backendPort": 6379,
        },
        "emqx": dict(emqx),
    }
    body["azure"].update(azure)
    return body


def link_body(network: Network, endpoints: dict[str, Any], **azure: Any) -> dict[str, Any]:
    """A link's PUT body over `network` and localcloud's v5 deployment; `azure` overrides or adds Azure fields."""
    emqx = endpoints["emqx"]
    deployment = {
        "deploymentId": emqx["deploymentId"],
        "deploymentApiVersion": "v5",
        "deploymentApiUrl": emqx["deploymentApiUrl"],
        "apiKeySetting": DEPLOYMENT_KEY_SETTING,
        "apiSecretSetting": DEPLOYMENT_SECRET_SETTING,
        "redisPasswordSetting": REDIS_PASSWORD_SETTING,
    }
    return link_body_over(network, deployment, **azure)
