"""The identity endpoint, ARM and EMQX stand-ins served together, and the provider's Redis behind a PLS.

The provider side is built as a platform engineer would build it: with the real `azure.mgmt.network.aio` SDK
and `ManagedIdentityCredential` (App Service protocol), against the ARM stand-in over HTTPS.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from azure.identity.aio import ManagedIdentityCredential
from azure.mgmt.network.aio import NetworkManagementClient

from localcloud import arm, identity
from localcloud.emqx import create_app
from localcloud.emqx.defaults import deployment_api_url
from localcloud.redis_server import RedisServer
from localcloud.serving import BackgroundServer
from localcloud.tls import LocalCA
from tests.localcloud.emqx.support import EMQX_CLIENT_ID, EMQX_SUBSCRIPTION, build_account, direct_options

PROVIDER_SUBSCRIPTION = "2b7c4d1e-3f5a-4b6c-9d8e-7f6a5b4c3d2e"
PROVIDER_CLIENT_ID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
IDENTITY_HEADER = "localcloud-identity-header"
RG = "rg-redis"
LOCATION = "eastus"
SPEED = 1000.0

# How long EMQX may take to move a PrivateLink on (real time), and how often to look.
WAIT_SECONDS, POLL_SECONDS = 15.0, 0.02


@dataclass
class Stack:
    ca_bundle: Path
    identity_url: str
    arm_url: str
    emqx_url: str
    account: Any
    redis: RedisServer

    def https(self, base_url: str, auth: tuple[str, str] | None = None) -> httpx.AsyncClient:
        tls = ssl.create_default_context(cafile=str(self.ca_bundle))
        return httpx.AsyncClient(base_url=base_url, auth=auth, verify=tls, timeout=10)

    def platform(self) -> httpx.AsyncClient:
        key = self.account.key
        return self.https(self.emqx_url + "/public_api/v1", (key.key, key.secret))

    def deployment_api(self, deployment: Any) -> httpx.AsyncClient:
        """A client for a deployment's API at its host: sent to 127.0.0.1, TLS verified by the host name."""
        key = deployment.api_keys[0]
        options, extensions = direct_options(deployment_api_url(self.emqx_url, deployment))

        async def name_the_host(request: httpx.Request) -> None:
            request.extensions = {**request.extensions, **extensions}

        tls = ssl.create_default_context(cafile=str(self.ca_bundle))
        return httpx.AsyncClient(
            **options,
            auth=(key.app_id, key.secret),
            verify=tls,
            timeout=10,
            event_hooks={"request": [name_the_host]},
        )

    def v5(self) -> httpx.AsyncClient:
        return self.deployment_api(self.account.v5)

    def v4(self) -> httpx.AsyncClient:
        return self.deployment_api(self.account.v4)


@contextlib.contextmanager
def serve_stack(ca: LocalCA, redis: RedisServer) -> Iterator[Stack]:
    identities = {
        PROVIDER_CLIENT_ID: [f"/subscriptions/{PROVIDER_SUBSCRIPTION}"],
        EMQX_CLIENT_ID: [f"/subscriptions/{EMQX_SUBSCRIPTION}"],
    }
    token_key = "localcloud-test-token-key"
    identity_app = identity.create_app(
        identities=identities,
        default_client_id=PROVIDER_CLIENT_ID,
        header=IDENTITY_HEADER,
        token_key=token_key,
        tenant_id=TENANT,
    )
    arm_app = arm.create_app(identities=identities, token_key=token_key, tenant_id=TENANT, speed=SPEED)
    account = build_account()
    with BackgroundServer(identity_app) as identity_server, BackgroundServer(arm_app, ca.server) as arm_server:
        identity_url = identity_server.base_url + "/msi/token"
        emqx_app = create_app(
            arm_endpoint=arm_server.base_url,
            identity_endpoint=identity_url,
            identity_header=IDENTITY_HEADER,
            emqx_subscription_id=EMQX_SUBSCRIPTION,
            emqx_client_id=EMQX_CLIENT_ID,
            ca_bundle=ca.ca_bundle,
            platform_keys=[account.key],
            deployments=[account.v5, account.v4],
            projects=[account.project],
            speed=SPEED,
        )
        with BackgroundServer(emqx_app, ca.server) as emqx_server:
            yield Stack(
                ca_bundle=ca.ca_bundle,
                identity_url=identity_url,
                arm_url=arm_server.base_url,
                emqx_url=emqx_server.base_url,
                account=account,
                redis=redis,
            )


def p(resource: str, name: str) -> str:
    return f"/subscriptions/{PROVIDER_SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.Network/{resource}/{name}"


@dataclass
class Provider:
    """The provider's side: Redis VM behind an internal LB (NAT rule) and a Private Link Service."""

    network: NetworkManagementClient
    stack: Stack
    alias: str = ""

    async def connections(self) -> list[Any]:
        pager = self.network.private_link_services.list_private_endpoint_connections(RG, "pls-redis")
        return [connection async for connection in pager]

    async def set_connection(self, name: str, status: str) -> None:
        await self.network.private_link_services.update_private_endpoint_connection(
            RG,
            "pls-redis",
            name,
            {
                "name": name,
                "properties": {"privateLinkServiceConnectionState": {"status": status, "description": status}},
            },
        )

    async def map_vm(self, ports: dict[str, int]) -> None:
        async with self.stack.https(self.stack.arm_url) as control:
            response = await control.put(
                "/localcloud/vms/demo-redis",
                json={
                    "nicId": p("networkInterfaces", "nic-redis"),
                    "ports": {k: f"127.0.0.1:{v}" for k, v in ports.items()},
                },
            )
            response.raise_for_status()


@contextlib.asynccontextmanager
async def provider_side(
    stack: Stack, monkeypatch: Any, *, backend_port: int = 6379, auto_approve: bool = False
) -> AsyncIterator[Provider]:
    monkeypatch.setenv("IDENTITY_ENDPOINT", stack.identity_url)
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    async with ManagedIdentityCredential() as credential:
        token = await credential.get_token("https://management.azure.com/.default")
        async with stack.https(stack.arm_url) as client:
            response = await client.put(
                f"/subscriptions/{PROVIDER_SUBSCRIPTION}/resourcegroups/{RG}",
                params={"api-version": "2021-04-01"},
                json={"location": LOCATION},
                headers={"Authorization": f"Bearer {token.token}"},
            )
            response.raise_for_status()
        async with NetworkManagementClient(
            credential,
            PROVIDER_SUBSCRIPTION,
            base_url=stack.arm_url,
            credential_scopes=["https://management.azure.com/.default"],
            connection_verify=str(stack.ca_bundle),
            polling_interval=0.01,
        ) as network:
            provider = Provider(network=network, stack=stack)
            await build(provider, backend_port=backend_port, auto_approve=auto_approve)
            yield provider


async def build(provider: Provider, *, backend_port: int, auto_approve: bool) -> None:
    network = provider.network
    subnet_id = p("virtualNetworks", "vnet-redis") + "/subnets/redis"
    await (
        await network.virtual_networks.begin_create_or_update(
            RG,
            "vnet-redis",
            {
                "location": LOCATION,
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
                    "subnets": [
                        {
                            "name": "redis",
                            "properties": {
                                "addressPrefix": "10.1.0.0/24",
                                "privateLinkServiceNetworkPolicies": "Disabled",
                            },
                        }
                    ],
                },
            },
        )
    ).result()
    nic_body: dict[str, Any] = {
        "location": LOCATION,
        "properties": {
            "ipConfigurations": [
                {
                    "name": "ipconfig1",
                    "properties": {"subnet": {"id": subnet_id}, "privateIPAllocationMethod": "Dynamic"},
                }
            ]
        },
    }
    await (await network.network_interfaces.begin_create_or_update(RG, "nic-redis", nic_body)).result()
    lb = p("loadBalancers", "lb-redis")
    await (
        await network.load_balancers.begin_create_or_update(
            RG,
            "lb-redis",
            {
                "location": LOCATION,
                "sku": {"name": "Standard"},
                "properties": {
                    "frontendIPConfigurations": [
                        {
                            "name": "fe-redis",
                            "properties": {"subnet": {"id": subnet_id}, "privateIPAllocationMethod": "Dynamic"},
                        }
                    ],
                    "backendAddressPools": [{"name": "be-redis"}],
                    "inboundNatRules": [
                        {
                            "name": "redis-6379",
                            "properties": {
                                "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/fe-redis"},
                                "protocol": "Tcp",
                                "frontendPort": 6379,
                                "backendPort": backend_port,
                            },
                        }
                    ],
                },
            },
        )
    ).result()
    nic_body["properties"]["ipConfigurations"][0]["properties"]["loadBalancerInboundNatRules"] = [
        {"id": f"{lb}/inboundNatRules/redis-6379"}
    ]
    await (await network.network_interfaces.begin_create_or_update(RG, "nic-redis", nic_body)).result()
    await provider.map_vm({"6379": provider.stack.redis.credentials.port})
    pls = await (
        await network.private_link_services.begin_create_or_update(
            RG,
            "pls-redis",
            {
                "location": LOCATION,
                "properties": {
                    "loadBalancerFrontendIpConfigurations": [{"id": f"{lb}/frontendIPConfigurations/fe-redis"}],
                    "ipConfigurations": [
                        {
                            "name": "nat0",
                            "properties": {
                                "subnet": {"id": subnet_id},
                                "privateIPAllocationMethod": "Dynamic",
                                "primary": True,
                            },
                        }
                    ],
                    "visibility": {"subscriptions": [EMQX_SUBSCRIPTION]},
                    "autoApproval": {"subscriptions": [EMQX_SUBSCRIPTION] if auto_approve else []},
                },
            },
        )
    ).result()
    provider.alias = pls.alias
