"""Link request bodies (the JSON `PUT /api/links/{name}` takes), built in one place for every suite.

`link_body` builds one from where the link's Azure half goes (a `Network`: subscription, group, region, frontend
subnet, backend NIC) and the EMQX deployment it serves (a `Deployment`); keyword arguments override or add
`azure` fields. Unit tests use fake resource IDs (`UNIT_NETWORK`, `GUIDE_DEPLOYMENT`, the defaults); end-to-end
tests pass a network seeded in localcloud (`localcloud.seed.GuideNetwork` has the same attributes) and localcloud's
deployment (`World.link_body`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from localcloud.seed import Network, link_body_over

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
NETWORK = f"/subscriptions/{SUB}/resourceGroups/rg-network/providers/Microsoft.Network"
SUBNET = f"{NETWORK}/virtualNetworks/vnet-demo/subnets/default"
NIC = f"{NETWORK}/networkInterfaces/demo-redis-nic"
NIC_2 = f"{NETWORK}/networkInterfaces/demo-redis-nic-2"


@dataclass(frozen=True)
class FakeNetwork:
    """A network by its resource IDs only, for tests that never reach ARM."""

    subscription_id: str
    resource_group: str
    location: str
    subnet_id: str
    nic_id: str


@dataclass(frozen=True)
class Deployment:
    """The EMQX deployment a link serves, and the app settings holding its key, secret and the Redis password."""

    deployment_id: str
    api_url: str
    api_key_setting: str
    api_secret_setting: str
    redis_password_setting: str
    api_version: str = "v5"

    def section(self) -> dict[str, Any]:
        return {
            "deploymentId": self.deployment_id,
            "deploymentApiVersion": self.api_version,
            "deploymentApiUrl": self.api_url,
            "apiKeySetting": self.api_key_setting,
            "apiSecretSetting": self.api_secret_setting,
            "redisPasswordSetting": self.redis_password_setting,
        }


UNIT_NETWORK = FakeNetwork(SUB, "rg-demo", "eastus", SUBNET, NIC)
GUIDE_DEPLOYMENT = Deployment(
    "w41b11c0",
    "https://w41b11c0.eu-central-1.emqx.cloud:8443/api/v5",
    "EMQX_DEPLOYMENT_API_KEY",
    "EMQX_DEPLOYMENT_API_SECRET",
    "DEMO_REDIS_PASSWORD",
)


def link_body(
    network: Network = UNIT_NETWORK, deployment: Deployment = GUIDE_DEPLOYMENT, **azure: Any
) -> dict[str, Any]:
    """A link's PUT body: a NAT rule on port 6379 to the network's NIC; `azure` overrides or adds Azure fields."""
    return link_body_over(network, deployment.section(), **azure)


def guide_body() -> dict[str, Any]:
    """The manual guide's set-up: LB `test01`, frontend `demo-redis`, PLS `demo`, NAT rule on 6379."""
    return link_body(
        frontendIp="10.1.0.9",
        names={"loadBalancer": "test01", "frontend": "demo-redis", "privateLinkService": "demo"},
    )


def minimal_body() -> dict[str, Any]:
    return link_body()


def lb_rule_body() -> dict[str, Any]:
    return link_body(forwarding="loadBalancingRule", backendNicIds=[NIC, NIC_2], backendPort=6380)


REMOVE = object()


def with_field(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`body` with the value at dotted `path` replaced (or removed when `value` is `REMOVE`)."""
    changed = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = changed
    for key in parents:
        node = node.setdefault(key, {})
    if value is REMOVE:
        del node[last]
    else:
        node[last] = value
    return changed
