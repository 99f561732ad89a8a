"""How long EMQX Cloud takes for each step: realistic at speed 1, every duration divided by the speed factor
(as in the other stand-ins: speed 100 runs a hundred times faster).

EMQX does not publish these figures. The profile is chosen so that a PrivateLink reaches `running` one to
two minutes after it is created (plus however long the provider takes to approve), which matches the
guide's "wait for a while" and what users report; the Redis timeouts are eredis's own defaults
(`emqx/eredis` `eredis.erl` `?TIMEOUT` 5000 ms connect, `eredis.hrl` `?RECV_TIMEOUT` 5000 ms).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LatencyProfile:
    speed: float = 1.0
    # EMQX's control plane picks up a new PrivateLink and creates its private endpoint in Azure.
    accept_seconds: float = 15.0
    # How often EMQX re-reads its private endpoint's connection state from ARM.
    watch_seconds: float = 10.0
    # Once the connection is Approved: routes and DNS inside EMQX's network, then `running`.
    activate_seconds: float = 30.0
    # A Dedicated Flex deployment created through the Platform API is `starting` this long, then `running`.
    deployment_start_seconds: float = 120.0
    # A deleted PrivateLink's private endpoint is removed from Azure this long after the request.
    teardown_seconds: float = 10.0
    # Redis client timeouts (eredis defaults), applied to the real connection and to an unreachable address.
    connect_timeout_seconds: float = 5.0
    recv_timeout_seconds: float = 5.0
    # A real loopback connection is never given less than this, so a loaded machine does not fail a probe.
    min_real_timeout_seconds: float = 0.5

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")

    def scaled(self, seconds: float) -> float:
        return seconds / self.speed

    def real_timeout(self, seconds: float) -> float:
        return max(self.scaled(seconds), self.min_real_timeout_seconds)
