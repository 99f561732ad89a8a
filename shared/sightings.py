"""What a pass reads once and shares with every link it covers: EMQX's PrivateLinks per deployment, and, for the
monitor, ARM's private link services per resource group.

A PUT or a register reads its link's Private Link Service itself (`Sightings.single()`). The monitor lists them
instead (`Sightings.listed()`): one paged `private_link_services.list` per (subscription, resource group) it
manages, connections inline, so a steady fleet costs one ARM read per group rather than one per link. A link still
reads its own PLS when the list cannot be trusted to decide for it:
- the PLS is not in the list (deleted behind the app's back, or created after the list was read);
- the list was read before the link's record was last written (an observation older than the result it judges);
- ARM is still working on it, or it holds a Pending connection to decide (the decision is made on a fresh read).

The monitor also lives within ARM's request budget (`shared.arm_budget`): at the start of each page of links it
learns what another instance was told to wait for, and while the subscription's reads are below the floor kept
for other tools it defers the refresh of settled links (`defers`); a link with anything to do is never deferred.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from shared import arm_reading
from shared.arm_reading import Json
from shared.model import Health, Link, Phase
from shared.names import ResourceId
from shared.observation import PrivateLinkList
from shared.run import Run, Services

K = TypeVar("K")
V = TypeVar("V")


class _Once(dict[K, "asyncio.Task[V]"]):
    """One read per key, shared by every caller of the pass (concurrent callers await the same read)."""

    async def get_or_read(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        task = self.get(key)
        if task is None:
            task = asyncio.ensure_future(read())
            self[key] = task
        return await asyncio.shield(task)


@dataclass(frozen=True)
class PrivateLinkServiceList:
    """The private link services of one resource group, and when the read that listed them was sent."""

    by_id: dict[str, Json]
    read_at: datetime


class Sightings:
    def __init__(self, services: Services, *, list_private_link_services: bool) -> None:
        self._services = services
        self._listing = list_private_link_services
        self._private_links: _Once[str, PrivateLinkList] = _Once()
        self._groups: _Once[tuple[str, str], PrivateLinkServiceList] = _Once()
        self._subscriptions_learnt: set[str] = set()

    @classmethod
    def single(cls, services: Services) -> Sightings:
        """For one run on one link: its PLS read directly."""
        return cls(services, list_private_link_services=False)

    @classmethod
    def listed(cls, services: Services) -> Sightings:
        """For a pass over every link: PLSs listed per resource group."""
        return cls(services, list_private_link_services=True)

    async def learn_holds(self, links: Iterable[Link]) -> None:
        """Learn, once per subscription per pass, the waits ARM imposed on another instance."""
        new = {link.spec.azure.subscription_id.lower() for link in links} - self._subscriptions_learnt
        self._subscriptions_learnt |= new
        await self._services.network.budget.learn_holds(new)

    def defers(self, run: Run) -> bool:
        """In the monitor, whether the link's ARM refresh waits: it is settled, and the subscription's reads are
        below the floor kept for other tools."""
        subscription_id = run.link.spec.private_link_service_id.subscription_id
        return self._listing and _settled(run.link) and self._services.network.budget.below_floor(subscription_id)

    async def private_links(self, deployment_id: str) -> PrivateLinkList:
        """EMQX's PrivateLinks of a deployment: one Platform API read per deployment per pass."""

        async def read() -> PrivateLinkList:
            read_at = self._services.clock.now()
            return PrivateLinkList(await self._services.emqx.list_private_links(deployment_id), read_at)

        return await self._private_links.get_or_read(deployment_id, read)

    async def private_link_service(self, run: Run) -> Json | None:
        """The link's Private Link Service as ARM has it, or None when ARM has none."""
        pls_id = run.link.spec.private_link_service_id
        network = self._services.network
        if not self._listing:
            return await network.get_private_link_service(pls_id)
        listing = await self._groups.get_or_read(
            (pls_id.subscription_id.lower(), pls_id.resource_group.lower()), lambda: self._list(pls_id)
        )
        listed = listing.by_id.get(str(pls_id).lower())
        updated_at = run.link.status.updated_at
        if listed is None or (updated_at is not None and listing.read_at <= updated_at) or _must_act(listed):
            return await network.get_private_link_service(pls_id)
        return listed

    async def _list(self, pls_id: ResourceId) -> PrivateLinkServiceList:
        read_at = self._services.clock.now()
        found = await self._services.network.list_private_link_services(pls_id.subscription_id, pls_id.resource_group)
        return PrivateLinkServiceList({str(pls.get("id", "")).lower(): pls for pls in found}, read_at)


def _settled(link: Link) -> bool:
    """Running and healthy, its desired state in place, no connection waiting: a refresh can wait."""
    status = link.status
    return (
        status.phase is Phase.RUNNING
        and status.health is Health.HEALTHY
        and status.observed_generation == link.generation
        and not any(c.status == "Pending" for c in status.connections)
    )


def _must_act(pls: Json) -> bool:
    """ARM is not done with the PLS or one of its connections, or a connection waits for a decision."""
    if arm_reading.provisioning_state(pls) != "Succeeded":
        return True
    return any(
        arm_reading.connection_status(c) == "Pending" or arm_reading.provisioning_state(c) != "Succeeded"
        for c in arm_reading.connections_of(pls)
    )
