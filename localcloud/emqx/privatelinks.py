"""PrivateLinks of EMQX deployments and their life across the EMQX and ARM stand-ins.

Creating one (api mode or a console action) makes EMQX, with its own identity and in its own subscription,
create a private endpoint against the provider's Private Link Service alias (resource group
`emqx-privatelink`, VNet `emqx-vnet` 10.200.0.0/16, subnet `endpoints` 10.200.0.0/24, made on first use).
A watcher then re-reads the endpoint's connection state through ARM:

    pending --Approved (+ activation)--> running (privateLinkIp = the endpoint's IP)
    pending | running --Rejected / Disconnected (PLS gone, connection removed) / endpoint gone--> failed

`failed` is final, as in the console: the user deletes the PrivateLink. Deleting removes the record at once
and the private endpoint from Azure shortly after.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localcloud.emqx.arm_client import ArmClient, ArmError
from localcloud.emqx.clock import AdjustableClock
from localcloud.emqx.latency import LatencyProfile

RESOURCE_GROUP = "emqx-privatelink"
GROUP_API = "api-version=2021-04-01"  # Microsoft.Resources, not Microsoft.Network
VNET = "emqx-vnet"
VNET_PREFIX = "10.200.0.0/16"
SUBNET = "endpoints"
SUBNET_PREFIX = "10.200.0.0/24"

PENDING, RUNNING, FAILED = "pending", "running", "failed"


@dataclass
class PrivateLink:
    private_link_id: str
    deployment_id: str
    platform: str
    alias: str
    created_at: float
    status: str = PENDING
    ip: str | None = None
    status_reason: str | None = None
    endpoint_requested: bool = field(default=False, repr=False)

    @property
    def endpoint_name(self) -> str:
        return f"emqx-{self.deployment_id}-{self.private_link_id}"

    def as_json(self) -> dict[str, Any]:
        return {
            "privateLinkID": self.private_link_id,
            "deploymentID": self.deployment_id,
            "platform": self.platform,
            "privateLinkServiceId": self.alias,
            "status": self.status,
            "privateLinkIp": self.ip,
            "statusReason": self.status_reason,
            "createAt": time.strftime("%Y-%m-%d %H:%M", time.gmtime(self.created_at)),
        }


def _connection_state(endpoint: dict[str, Any]) -> str:
    properties = endpoint.get("properties", {})
    connections = properties.get("manualPrivateLinkServiceConnections") or properties.get(
        "privateLinkServiceConnections", []
    )
    if not connections:
        return "Disconnected"
    state = connections[0].get("properties", {}).get("privateLinkServiceConnectionState", {})
    return str(state.get("status", "Pending"))


def _endpoint_ip(endpoint: dict[str, Any]) -> str | None:
    for config in endpoint.get("properties", {}).get("customDnsConfigs", []):
        for address in config.get("ipAddresses", []):
            return str(address)
    return None


class PrivateLinks:
    """The PrivateLink records of every deployment, with one background task per record's life."""

    def __init__(
        self,
        *,
        clock: AdjustableClock,
        latency: LatencyProfile,
        subscription_id: str,
        arm: Callable[[], ArmClient],
    ) -> None:
        self._clock = clock
        self._latency = latency
        self._subscription_id = subscription_id
        self._arm = arm
        self._links: dict[str, PrivateLink] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._teardowns: set[asyncio.Task[None]] = set()
        self._network_lock = asyncio.Lock()
        self._subnet_id: str | None = None

    # --- records ---------------------------------------------------------------------------------------

    def create(self, *, deployment_id: str, location: str, alias: str, platform: str = "azure") -> PrivateLink:
        link = PrivateLink(
            private_link_id="pl-" + secrets.token_hex(4),
            deployment_id=deployment_id,
            platform=platform,
            alias=alias,
            created_at=self._clock(),
        )
        self._links[link.private_link_id] = link
        self._tasks[link.private_link_id] = asyncio.create_task(self._live(link, location))
        return link

    def get(self, deployment_id: str, private_link_id: str) -> PrivateLink | None:
        link = self._links.get(private_link_id)
        return link if link is not None and link.deployment_id == deployment_id else None

    def find(self, private_link_id: str) -> PrivateLink | None:
        return self._links.get(private_link_id)

    def list(self, deployment_id: str | None = None) -> list[PrivateLink]:
        links = sorted(self._links.values(), key=lambda link: (link.created_at, link.private_link_id))
        return [link for link in links if deployment_id is None or link.deployment_id == deployment_id]

    def by_ip(self, deployment_id: str, ip: str) -> PrivateLink | None:
        return next((link for link in self.list(deployment_id) if link.ip == ip), None)

    def has_alias(self, deployment_id: str, alias: str) -> bool:
        return any(link.alias.lower() == alias.lower() for link in self.list(deployment_id))

    def delete(self, link: PrivateLink) -> None:
        """Forget the record now; remove its private endpoint from Azure after the teardown delay."""
        del self._links[link.private_link_id]
        task = self._tasks.pop(link.private_link_id, None)
        if task is not None:
            task.cancel()
        teardown = asyncio.create_task(self._teardown(link))
        self._teardowns.add(teardown)
        teardown.add_done_callback(self._teardowns.discard)

    async def close(self) -> None:
        tasks = [*self._tasks.values(), *self._teardowns]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- life ------------------------------------------------------------------------------------------

    def _endpoint_path(self, link: PrivateLink) -> str:
        return (
            f"/subscriptions/{self._subscription_id}/resourceGroups/{RESOURCE_GROUP}"
            f"/providers/Microsoft.Network/privateEndpoints/{link.endpoint_name}"
        )

    async def _wait(self, seconds: float) -> None:
        await self._clock.sleep(self._latency.scaled(seconds))

    async def _ensure_network(self, location: str) -> str:
        async with self._network_lock:
            if self._subnet_id is None:
                arm = self._arm()
                group_path = f"/subscriptions/{self._subscription_id}/resourcegroups/{RESOURCE_GROUP}?{GROUP_API}"
                if await arm.get(group_path) is None:
                    await arm.put(group_path, {"location": location})
                vnet_path = (
                    f"/subscriptions/{self._subscription_id}/resourceGroups/{RESOURCE_GROUP}"
                    f"/providers/Microsoft.Network/virtualNetworks/{VNET}"
                )
                vnet = await arm.get(vnet_path)
                subnets = {s["name"]: s["id"] for s in (vnet or {}).get("properties", {}).get("subnets", [])}
                if SUBNET not in subnets:
                    vnet = await arm.put(
                        vnet_path,
                        {
                            "location": location,
                            "properties": {
                                "addressSpace": {"addressPrefixes": [VNET_PREFIX]},
                                "subnets": [{"name": SUBNET, "properties": {"addressPrefix": SUBNET_PREFIX}}],
                            },
                        },
                    )
                    subnets = {s["name"]: s["id"] for s in vnet["properties"]["subnets"]}
                self._subnet_id = subnets[SUBNET]
            return self._subnet_id

    async def _create_endpoint(self, link: PrivateLink, location: str) -> None:
        """Create the private endpoint, retrying what ARM calls temporary; raise ArmError for the rest."""
        while True:
            try:
                subnet_id = await self._ensure_network(location)
                link.endpoint_requested = True
                await self._arm().put(
                    self._endpoint_path(link),
                    {
                        "location": location,
                        "properties": {
                            "subnet": {"id": subnet_id},
                            "manualPrivateLinkServiceConnections": [
                                {
                                    "name": link.endpoint_name,
                                    "properties": {
                                        "privateLinkServiceId": link.alias,
                                        "requestMessage": (
                                            f"EMQX Cloud deployment {link.deployment_id}, "
                                            f"PrivateLink {link.private_link_id}"
                                        ),
                                    },
                                }
                            ],
                        },
                    },
                )
                return
            except ArmError as error:
                if not error.transient:
                    raise
            await self._wait(self._latency.watch_seconds)

    async def _live(self, link: PrivateLink, location: str) -> None:
        await self._wait(self._latency.accept_seconds)
        try:
            await self._create_endpoint(link, location)
        except ArmError as error:
            self._fail(link, f"the private endpoint could not be created: {error.code}: {error.message}")
            return
        activated = False
        while True:
            try:
                endpoint = await self._arm().get(self._endpoint_path(link))
            except ArmError:
                # ARM is unavailable for a moment; EMQX keeps the last state it saw.
                await self._wait(self._latency.watch_seconds)
                continue
            state = "Removed" if endpoint is None else _connection_state(endpoint)
            if state in ("Rejected", "Disconnected", "Removed"):
                self._fail(link, f"the private endpoint connection is {state}")
                return
            if state == "Approved" and link.status == PENDING:
                if not activated:
                    # Routes and DNS on EMQX's side, then read the state again before going live.
                    await self._wait(self._latency.activate_seconds)
                    activated = True
                    continue
                link.ip = _endpoint_ip(endpoint or {})
                link.status = RUNNING
            await self._wait(self._latency.watch_seconds)

    @staticmethod
    def _fail(link: PrivateLink, reason: str) -> None:
        link.status = FAILED
        link.status_reason = reason

    async def _teardown(self, link: PrivateLink) -> None:
        if not link.endpoint_requested:
            return
        await self._wait(self._latency.teardown_seconds)
        while True:
            try:
                await self._arm().delete(self._endpoint_path(link))
                return
            except ArmError as error:
                if not error.transient:
                    return
            await self._wait(self._latency.watch_seconds)
