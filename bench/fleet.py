"""Many links in a settled `running` state, made without the app's HTTP API.

For each link, what the monitor's steady-state pass reads is real:
- ARM: the link's load balancer and PLS, from the app's own request bodies (`shared.desired`), PUT by an
  operator. At the fleet's speed their operations are over at once, so the PUTs are not followed.
- EMQX: a `running` PrivateLink record for the PLS's alias, which the Platform API lists. The stand-in has no
  way to add a settled record (a new record starts a life-cycle task that polls ARM), so the records go
  straight into its state, as they are once settled.
- Table Storage: the link (`shared.model.Link`) in phase `running`, written through `shared.store.Store`,
  with a passing Redis test from a moment ago, so that no test is due.

Left out, as the monitor of a settled link never reads them: the backend NIC's binding to the load balancer,
and EMQX's private endpoint with its connection (the PLS has none; the link records none).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from ipaddress import IPv4Address
from typing import Any

from bench.client import BenchError, Client
from bench.preparation import warm_up_host
from bench.stack import NEVER, BenchStack, bench_stack
from localcloud.emqx.arm_client import ArmClient
from localcloud.emqx.cloud import EmqxCloud
from localcloud.emqx.privatelinks import RUNNING, PrivateLink
from localcloud.seed import GuideNetwork, link_body
from shared import arm_reading, desired
from shared.model import (
    LOAD_BALANCER_SCHEMA,
    AzureResources,
    EmqxPrivateLink,
    Health,
    Link,
    LinkSpec,
    LinkStatus,
    Phase,
    RedisTestResult,
    parse_link_spec,
)
from shared.settings import Settings
from shared.store import Store

LOCATION = "eastus"
GROUP = "rg-bench-fleet"
# The links' load balancers and PLSs are spread over this many resource groups (the network stays in GROUP).
LINK_GROUPS = 10
CONCURRENCY = 16
# EMQX's side of a PrivateLink: an address in its own VNet (never dialled: no Redis test is due).
EMQX_ADDRESSES = IPv4Address("10.200.16.0")


async def _start_put(arm: ArmClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """PUT without following the operation: at the fleet's speed it is over by the time anyone reads."""
    response = await arm.request("PUT", path, body)
    if response.status_code not in (200, 201):
        raise BenchError(f"PUT {path}: {response.status_code} {response.text[:300]}")
    return dict(response.json())


class Fleet:
    """Grows to any number of settled links; `grow(n)` adds links until there are n."""

    def __init__(self, client: Client, cloud: EmqxCloud, app_settings: dict[str, str]) -> None:
        self.client, self.cloud = client, cloud
        self.size = 0
        self._store = Store.from_settings(Settings.from_mapping(app_settings))
        self._subscription = client.endpoints["arm"]["subscriptionId"]
        self._emqx_subscription = client.endpoints["arm"]["emqxSubscriptionId"]
        group = f"/subscriptions/{self._subscription}/resourceGroups/{GROUP}"
        vnet = f"{group}/providers/Microsoft.Network/virtualNetworks/vnet-fleet"
        self.network = GuideNetwork(
            subscription_id=self._subscription,
            resource_group=GROUP,
            location=LOCATION,
            vnet_id=vnet,
            subnet_id=f"{vnet}/subnets/links",
            nic_id=f"{group}/providers/Microsoft.Network/networkInterfaces/fleet-backend",
        )

    async def close(self) -> None:
        await self._store.close()

    def link_group(self, index: int) -> str:
        return f"{GROUP}-{index % LINK_GROUPS}"

    async def make_network(self) -> None:
        """A /16 with a /18 subnet (16379 addresses: a frontend and a NAT IP per link), the backend NIC, and the
        resource groups the links go to."""
        arm = self.client.arm
        for group in (GROUP, *(self.link_group(index) for index in range(LINK_GROUPS))):
            await arm.put(f"/subscriptions/{self._subscription}/resourcegroups/{group}", {"location": LOCATION})
        subnet = {"addressPrefix": "10.8.0.0/18", "privateLinkServiceNetworkPolicies": "Disabled"}
        await arm.put(
            self.network.vnet_id,
            {
                "location": LOCATION,
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.8.0.0/16"]},
                    "subnets": [{"name": "links", "properties": subnet}],
                },
            },
        )
        config = {"subnet": {"id": self.network.subnet_id}, "privateIPAllocationMethod": "Dynamic", "primary": True}
        await arm.put(
            self.network.nic_id,
            {"location": LOCATION, "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": config}]}},
        )

    def link_body(self, index: int = 0) -> dict[str, Any]:
        return link_body(self.network, self.client.endpoints, resourceGroup=self.link_group(index))

    async def grow(self, size: int) -> None:
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(index: int) -> None:
            async with limit:
                await self._add(index)

        await asyncio.gather(*(one(index) for index in range(self.size, size)))
        self.size = max(self.size, size)

    async def _add(self, index: int) -> None:
        spec = parse_link_spec(f"fleet-{index:04d}", self.link_body(index))
        arm = self.client.arm
        lb = await _start_put(arm, str(spec.load_balancer_id), desired.load_balancer_body(spec))
        body = desired.private_link_service_body(spec, [self._emqx_subscription], [])
        pls = await _start_put(arm, str(spec.private_link_service_id), body)
        alias, frontend_ip = arm_reading.alias_of(pls), arm_reading.frontend_address(lb, spec)
        if alias is None or frontend_ip is None:
            raise BenchError(f"ARM gave link {spec.name} no alias or frontend address")
        record = self._running_record(alias, EMQX_ADDRESSES + index)
        await self._store.create_link(_settled_link(spec, alias, IPv4Address(frontend_ip), record))

    def _running_record(self, alias: str, ip: IPv4Address) -> PrivateLink:
        record = PrivateLink(
            private_link_id="pl-" + secrets.token_hex(4),
            deployment_id=self.client.emqx["deploymentId"],
            platform="azure",
            alias=alias,
            created_at=self.cloud.clock(),
            status=RUNNING,
            ip=str(ip),
        )
        self.cloud.privatelinks._links[record.private_link_id] = record
        return record


def _settled_link(spec: LinkSpec, alias: str, frontend_ip: IPv4Address, record: PrivateLink) -> Link:
    now = datetime.now(UTC)
    status = LinkStatus(
        phase=Phase.RUNNING,
        health=Health.HEALTHY,
        observed_generation=1,
        load_balancer_schema=LOAD_BALANCER_SCHEMA,  # built as this version builds them: nothing to migrate
        resources=AzureResources(
            load_balancer_id=spec.load_balancer_id,
            private_link_service_id=spec.private_link_service_id,
            frontend_ip=frontend_ip,
        ),
        pls_alias=alias,
        emqx=EmqxPrivateLink(id=record.private_link_id, status=RUNNING, ip=IPv4Address(str(record.ip))),
        last_redis_test=RedisTestResult(at=now, passed=True, latency_ms=1.0),
        updated_at=now,
    )
    return Link(spec=spec, status=status, generation=1)


@asynccontextmanager
async def fleet_on_a_stack(speed: float) -> AsyncIterator[tuple[BenchStack, Client, Fleet]]:
    """A stack with the monitor's timer off and the approver unsubscribed (the fleet's own ARM writes would each
    wake it), the fleet's network in place and the host warmed up; the fleet is empty until `grow`."""
    with bench_stack(speed=speed, settings={"MONITOR_SCHEDULE": NEVER}) as stack:
        if stack.emqx_cloud is None:
            raise BenchError("the EMQX stand-in's state is not reachable")
        async with Client(stack) as client:
            await client.unsubscribe_approver()
            fleet = Fleet(client, stack.emqx_cloud, stack.app_settings)
            try:
                await fleet.make_network()
                await warm_up_host(client, fleet.link_body())
                yield stack, client, fleet
            finally:
                await fleet.close()
