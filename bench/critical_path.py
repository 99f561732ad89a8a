"""The critical path of one link, from the first PUT to EMQX reporting `running`, as localcloud's latency
profile implies it: computed from the stand-ins' own constants, never typed in by hand.

ARM's waits come from each resource kind's `Timing` (`localcloud/arm/`): an operation is done `put` seconds
after it starts, and a client that honours `Retry-After` (azure-core does, and so does EMQX's own client)
learns it at the first poll at or after that moment; the PUT's answer hints `retry_after`, and the n-th poll
that finds the operation running hints n times that (`localcloud/arm/operations.py`). EMQX's waits come from
`localcloud/emqx/latency.py`.

The path is the longest chain of dependent waits:

    subnet PUT → LB PUT → NIC PUT → PLS PUT                        (PUT /links/{name})
    → PLS visibility PUT                                           (POST /register)
    → EMQX picks the PrivateLink up → EMQX's private endpoint PUT
    → EMQX sees the connection Approved → activation → `running`

The private endpoint's connection appears on the PLS (Pending) as soon as the endpoint PUT starts, so the
approval and EMQX's next poll run beside the endpoint PUT: they add to the path only when the approval ends
after the endpoint is done (then EMQX sees it at its next poll, a `watch_seconds` tick later).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from localcloud.arm.balancers import LoadBalancers
from localcloud.arm.endpoints import PrivateEndpoints
from localcloud.arm.interfaces import NetworkInterfaces
from localcloud.arm.networks import Subnets
from localcloud.arm.operations import MAX_RETRY_AFTER
from localcloud.arm.privatelink import EndpointConnections, PrivateLinkServices
from localcloud.arm.protocol import Timing
from localcloud.emqx.latency import LatencyProfile


def observed_seconds(timing: Timing) -> float:
    """When a client polling at ARM's `Retry-After` hints first sees a PUT's operation done.

    The PUT's answer says `retry_after`; the n-th poll that finds the operation running says n times that.
    """
    waited, polls = float(timing.retry_after), 0
    while waited < timing.put:
        polls += 1
        waited += min(timing.retry_after * polls, MAX_RETRY_AFTER)
    return waited


@dataclass(frozen=True)
class Wait:
    name: str
    seconds: float  # at speed 1
    lro_seconds: float | None = None  # the operation's own duration, for an ARM write


@dataclass(frozen=True)
class CriticalPath:
    waits: tuple[Wait, ...]
    beside: tuple[Wait, ...]  # the waits that run beside the endpoint PUT, for the record

    @property
    def seconds(self) -> float:
        return sum(wait.seconds for wait in self.waits)

    @property
    def lro_only_seconds(self) -> float:
        """The same path if every client learnt of an operation's end the instant it happened."""
        return sum(wait.lro_seconds if wait.lro_seconds is not None else wait.seconds for wait in self.waits)

    def scaled(self, speed: float) -> list[dict[str, float | str]]:
        return [{"wait": wait.name, "seconds": round(wait.seconds / speed, 3)} for wait in self.waits]


def _arm(name: str, timing: Timing) -> Wait:
    return Wait(name, observed_seconds(timing), timing.put)


def critical_path(latency: LatencyProfile | None = None) -> CriticalPath:
    latency = latency or LatencyProfile()
    endpoint = _arm("EMQX's private endpoint PUT", PrivateEndpoints.timing)
    approval = Wait("connection approval", EndpointConnections.timing.put)
    poll = Wait("EMQX's poll of the connection", latency.watch_seconds)
    waits = [
        _arm("subnet PUT (PLS network policy)", Subnets.timing),
        _arm("load balancer PUT", LoadBalancers.timing),
        _arm("NIC PUT (backend pool / NAT rule)", NetworkInterfaces.timing),
        _arm("PLS PUT", PrivateLinkServices.timing),
        _arm("PLS visibility PUT (register)", PrivateLinkServices.timing),
        Wait("EMQX picks the PrivateLink up", latency.accept_seconds),
        endpoint,
    ]
    # The approval starts when the connection appears, at the start of the endpoint PUT.
    late = approval.seconds - endpoint.seconds
    if late > 0:
        waits.append(Wait("EMQX's next poll after the approval", math.ceil(late / poll.seconds) * poll.seconds))
    waits.append(Wait("EMQX activation (routes, DNS)", latency.activate_seconds))
    return CriticalPath(tuple(waits), (approval, poll))
