"""The road from a deployment's broker to a Redis server, and the Redis conversation at its end.

EMQX Cloud reaches private addresses only through PrivateLink (or peering, not modelled): an address is
followed only when it is the PrivateLink IP of one of the deployment's PrivateLinks. ARM's data-path lookup
(`POST /localcloud/dataplane/connect`, from EMQX's subscription) then says where it leads. Every dead end
fails as it fails on the wire: a dropped SYN is a connect `timeout` after eredis's connect timeout, a
backend with no listener is `econnrefused`, a name is `nxdomain`.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable

from localcloud.emqx.arm_client import ArmClient, ArmError
from localcloud.emqx.latency import LatencyProfile
from localcloud.emqx.privatelinks import PrivateLinks
from localcloud.emqx.redis_client import RedisOutcome, RedisSettings, open_and_check, unreachable, unresolvable

# ARM's reasons for a dead end, and what a TCP client sees there. Only a missing listener on a VM that
# is reached answers with a reset; everywhere else Azure drops the packets.
_REFUSED_REASONS = frozenset({"connection_refused"})


class DataPath:
    def __init__(
        self,
        *,
        latency: LatencyProfile,
        subscription_id: str,
        privatelinks: PrivateLinks,
        arm: Callable[[], ArmClient],
    ) -> None:
        self._latency = latency
        self._subscription_id = subscription_id
        self._privatelinks = privatelinks
        self._arm = arm

    async def _timeout(self, settings: RedisSettings) -> RedisOutcome:
        await asyncio.sleep(self._latency.scaled(self._latency.connect_timeout_seconds))
        return unreachable(settings, "timeout")

    async def check_redis(self, deployment_id: str, settings: RedisSettings) -> RedisOutcome:
        """Connect from the deployment to `settings.host:port` as EMQX would, and run eredis's handshake."""
        try:
            ipaddress.IPv4Address(settings.host)
        except ValueError:
            return unresolvable(settings)
        if self._privatelinks.by_ip(deployment_id, settings.host) is None:
            return await self._timeout(settings)
        try:
            route = await self._arm().connect(self._subscription_id, settings.host, settings.port)
        except ArmError:
            # No answer from the network itself: the SYN goes nowhere.
            return await self._timeout(settings)
        if not route.get("reachable"):
            if route.get("reason") in _REFUSED_REASONS:
                return unreachable(settings, "econnrefused")
            return await self._timeout(settings)
        return await open_and_check(
            settings,
            str(route["host"]),
            int(route["port"]),
            connect_timeout=self._latency.real_timeout(self._latency.connect_timeout_seconds),
            recv_timeout=self._latency.real_timeout(self._latency.recv_timeout_seconds),
        )
