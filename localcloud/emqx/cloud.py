"""The state of the EMQX Cloud stand-in, shared by its routes (`app.state.emqx`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from localcloud.emqx.arm_client import ArmClient
from localcloud.emqx.clock import AdjustableClock
from localcloud.emqx.config import Account
from localcloud.emqx.datapath import DataPath
from localcloud.emqx.latency import LatencyProfile
from localcloud.emqx.privatelinks import PrivateLinks
from localcloud.emqx.ratelimit import RateLimiter
from localcloud.emqx.traffic import Traffic


@dataclass
class BrokerData:
    """What one deployment's broker holds: v5 connectors by name, v4 resources by id (raw configs)."""

    connectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)

    def servers(self) -> list[str]:
        return [c["parameters"]["server"] for c in self.connectors.values()] + [
            r["config"]["server"] for r in self.resources.values()
        ]


class EmqxCloud:
    def __init__(
        self,
        *,
        account: Account,
        clock: AdjustableClock,
        latency: LatencyProfile,
        subscription_id: str,
    ) -> None:
        self.account = account
        self.clock = clock
        self.latency = latency
        self.subscription_id = subscription_id
        self.limiter = RateLimiter(clock)
        self.traffic = Traffic()
        self.brokers = {d.deployment_id: BrokerData() for d in account.deployments}
        self._arm: ArmClient | None = None
        self.privatelinks = PrivateLinks(clock=clock, latency=latency, subscription_id=subscription_id, arm=self.arm)
        self.datapath = DataPath(
            latency=latency, subscription_id=subscription_id, privatelinks=self.privatelinks, arm=self.arm
        )

    def arm(self) -> ArmClient:
        if self._arm is None:
            raise RuntimeError("the EMQX stand-in reaches ARM only while it is served (lifespan started)")
        return self._arm

    def attach_arm(self, arm: ArmClient | None) -> None:
        self._arm = arm

    def address_in_use(self, deployment_id: str, ip: str) -> bool:
        """True when a connector or resource of the deployment points at `ip` (the console's delete check)."""
        return any(server.rsplit(":", 1)[0] == ip for server in self.brokers[deployment_id].servers())
