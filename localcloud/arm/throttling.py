"""ARM's request throttling: token buckets per subscription and principal, per kind of operation.

Azure Resource Manager throttles with a token bucket per region ("Understand how Azure Resource Manager throttles
requests", learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling, source
MicrosoftDocs/azure-docs articles/azure-resource-manager/management/request-limits-and-throttling.md, ms.date
2025-05-28, section "Regional throttling and token bucket algorithm"):

| Scope        | Operations | Bucket size | Refill rate per sec |
| Subscription | reads      | 250         | 25                  |
| Subscription | deletes    | 200         | 10                  |
| Subscription | writes     | 200         | 10                  |

"The subscription limits apply per subscription, per service principal, and per operation type. There are also
global subscription limits that are equivalent to 15 times the individual service principal limits for each
operation type. The global limits apply across all service principals." Every request takes a token from its
principal's bucket and from the subscription's global bucket; when either is empty ARM answers 429 with
`Retry-After` ("the number of seconds your application should wait before sending the next request") and takes
nothing, so a refused request costs no token.

Headers, on every answer to an authenticated request under a subscription (success or error), for the request's
kind only: `x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}` (the principal's bucket) and
`x-ms-ratelimit-remaining-subscription-global-{reads,writes,deletes}` (the subscription's). The values are the
tokens left after this request, rounded down: a fresh bucket answers 249 / 3749 to a read (the managed HSM GET
shown in Azure/azure-powershell's Invoke-AzRestMethod help: `x-ms-ratelimit-remaining-subscription-reads: 249`,
`x-ms-ratelimit-remaining-subscription-global-reads: 3749`) and 199 / 2999 to a write (`az --debug` captures quoted
in public repositories: `...-subscription-writes: 199`, `...-subscription-global-writes: 2999`); the `-deletes` /
`-global-deletes` pair is the same for deletes. The resource provider's `x-ms-ratelimit-remaining-resource`
is Compute's; the network RP does not send one (azure-sdk-for-java ResourceManagerThrottlingInfo: "Some service
has different rate limit but not visible in response header, like network/storage"), so neither does localcloud.
Writes are PUT, PATCH and POST (an action: a captured container `exec`, a POST, answered
`x-ms-ratelimit-remaining-subscription-writes: 199`), reads GET and HEAD (operation status polls too), deletes
DELETE. The 429's body is errors.subscription_throttled.

Speed: buckets refill `refillPerSecond * speed` tokens per second of the stand-in's clock, as every other emulated
duration is divided by the speed. `Retry-After` is the clock seconds until every bucket that refused has a token
again, rounded up and at least 1: the wall-clock time the client must wait, in ARM's integer-seconds form (ARM's
429 carries `Retry-After` only, and azure-core's retry policy and the app read that header first). At a high speed
the wait is therefore longer than the refill needs (a read bucket at speed 50 has a token back within 1 ms, the
client still waits 1 s): throttling costs wall time a sped-up test pays in full, which is why the default limits
never throttle the suites (see README.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from localcloud.arm.clock import Clock

KINDS = ("reads", "writes", "deletes")
GLOBAL_MULTIPLIER = 15.0


@dataclass(frozen=True)
class Limit:
    capacity: float
    refill_per_second: float

    def as_json(self) -> dict[str, float]:
        return {"capacity": self.capacity, "refillPerSecond": self.refill_per_second}


AZURE_LIMITS = {"reads": Limit(250, 25), "writes": Limit(200, 10), "deletes": Limit(200, 10)}


def kind_of(method: str) -> str:
    """The bucket a request draws from: reads (GET, HEAD), deletes (DELETE), writes (PUT, PATCH, POST)."""
    return {"GET": "reads", "HEAD": "reads", "DELETE": "deletes"}.get(method.upper(), "writes")


@dataclass
class Bucket:
    limit: Limit
    tokens: float
    updated: float

    def refill(self, now: float, speed: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.limit.capacity, self.tokens + elapsed * self.limit.refill_per_second * speed)
        self.updated = now

    def wait(self, speed: float) -> float:
        """Clock seconds until one token is back (0 when one is there)."""
        return max(0.0, 1 - self.tokens) / (self.limit.refill_per_second * speed)


@dataclass(frozen=True)
class Verdict:
    """One request's draw: its kind, the tokens left (principal's, global), and when refused the Retry-After."""

    kind: str
    remaining: int
    global_remaining: int
    retry_after: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {
            f"x-ms-ratelimit-remaining-subscription-{self.kind}": str(self.remaining),
            f"x-ms-ratelimit-remaining-subscription-global-{self.kind}": str(self.global_remaining),
        }


@dataclass(frozen=True)
class Override:
    """Limits for the buckets of one subscription and/or principal (client or object id); None matches any."""

    subscription: str | None
    principal: str | None
    limits: dict[str, Limit] = field(default_factory=dict)

    def matches(self, subscription: str, client_id: str, principal_id: str) -> bool:
        return (self.subscription is None or self.subscription == subscription) and (
            self.principal is None or self.principal in (client_id.lower(), principal_id.lower())
        )

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"subscription": self.subscription, "principal": self.principal}
        body.update({kind: limit.as_json() for kind, limit in self.limits.items()})
        return body


class SettingsError(ValueError):
    pass


class RateLimiter:
    """The buckets of one ARM stand-in. Used from its event loop only (requests and control calls alike)."""

    def __init__(self, clock: Clock, speed: float):
        self._clock = clock
        self._speed = speed
        self.reset()

    def reset(self) -> None:
        """Azure's limits, no overrides, every bucket full."""
        self.limits = dict(AZURE_LIMITS)
        self.global_multiplier = GLOBAL_MULTIPLIER
        self.overrides: list[Override] = []
        # (subscription, principal id or None for the global bucket, kind) -> bucket; client ids for display.
        self._buckets: dict[tuple[str, str | None, str], Bucket] = {}
        self._clients: dict[str, str] = {}

    def _limit(self, subscription: str, client_id: str, principal_id: str | None, kind: str) -> Limit:
        if principal_id is None:
            base = self.limits[kind]
            return Limit(base.capacity * self.global_multiplier, base.refill_per_second * self.global_multiplier)
        limit = self.limits[kind]
        for override in self.overrides:
            if kind in override.limits and override.matches(subscription, client_id, principal_id):
                limit = override.limits[kind]
        return limit

    def _bucket(self, subscription: str, client_id: str, principal_id: str | None, kind: str, now: float) -> Bucket:
        slot = (subscription, principal_id, kind)
        bucket = self._buckets.get(slot)
        if bucket is None:
            limit = self._limit(subscription, client_id, principal_id, kind)
            bucket = self._buckets[slot] = Bucket(limit, limit.capacity, now)
        bucket.refill(now, self._speed)
        return bucket

    def take(self, subscription: str, client_id: str, principal_id: str, method: str) -> Verdict:
        """Draw one token for a request, or refuse it (`retry_after` set) leaving the buckets as they were."""
        kind, now, subscription = kind_of(method), self._clock(), subscription.lower()
        self._clients[principal_id] = client_id
        own = self._bucket(subscription, client_id, principal_id, kind, now)
        shared = self._bucket(subscription, client_id, None, kind, now)
        empty = [bucket for bucket in (own, shared) if bucket.tokens < 1]
        if empty:
            wait = max(bucket.wait(self._speed) for bucket in empty)
            return Verdict(kind, math.floor(own.tokens), math.floor(shared.tokens), max(1, math.ceil(wait)))
        own.tokens -= 1
        shared.tokens -= 1
        return Verdict(kind, math.floor(own.tokens), math.floor(shared.tokens))

    # the control API

    def body(self) -> dict[str, Any]:
        now = self._clock()
        buckets = []
        for (subscription, principal_id, kind), bucket in sorted(
            self._buckets.items(), key=lambda item: (item[0][0], item[0][1] or "", KINDS.index(item[0][2]))
        ):
            bucket.refill(now, self._speed)
            buckets.append(
                {
                    "subscription": subscription,
                    "principal": self._clients.get(principal_id) if principal_id else None,
                    "principalId": principal_id,
                    "kind": kind,
                    "capacity": bucket.limit.capacity,
                    "refillPerSecond": bucket.limit.refill_per_second,
                    "tokens": round(bucket.tokens, 3),
                }
            )
        return {
            "limits": {kind: limit.as_json() for kind, limit in self.limits.items()},
            "globalMultiplier": self.global_multiplier,
            "overrides": [override.as_json() for override in self.overrides],
            "speed": self._speed,
            "buckets": buckets,
        }

    def configure(self, body: Any) -> None:
        """Replace the settings (`limits`, `globalMultiplier`, `overrides`; what is left out is Azure's) and start
        every bucket full at its new limits. Nothing changes when the body is refused (SettingsError)."""
        if not isinstance(body, dict) or set(body) - {"limits", "globalMultiplier", "overrides"}:
            raise SettingsError("the settings must be an object with 'limits', 'globalMultiplier' and/or 'overrides'")
        limits = dict(AZURE_LIMITS)
        limits.update(_limits(body.get("limits") or {}, "limits"))
        multiplier = body.get("globalMultiplier", GLOBAL_MULTIPLIER)
        if isinstance(multiplier, bool) or not isinstance(multiplier, int | float) or multiplier < 1:
            raise SettingsError("'globalMultiplier' must be a number of at least 1")
        entries = body.get("overrides") or []
        if not isinstance(entries, list):
            raise SettingsError("'overrides' must be a list")
        overrides = [_override(entry, index) for index, entry in enumerate(entries)]
        self.reset()
        self.limits, self.global_multiplier, self.overrides = limits, float(multiplier), overrides


def _limits(value: Any, where: str) -> dict[str, Limit]:
    if not isinstance(value, Mapping) or set(value) - set(KINDS):
        raise SettingsError(f"'{where}' must map some of {', '.join(KINDS)} to {{capacity, refillPerSecond}}")
    found = {}
    for kind, spec in value.items():
        if not isinstance(spec, Mapping) or set(spec) - {"capacity", "refillPerSecond"}:
            raise SettingsError(f"'{where}.{kind}' must be {{capacity, refillPerSecond}}")
        base = AZURE_LIMITS[kind]
        capacity = spec.get("capacity", base.capacity)
        refill = spec.get("refillPerSecond", base.refill_per_second)
        if isinstance(capacity, bool) or not isinstance(capacity, int | float) or capacity < 1:
            raise SettingsError(f"'{where}.{kind}.capacity' must be a number of at least 1")
        if isinstance(refill, bool) or not isinstance(refill, int | float) or refill <= 0:
            raise SettingsError(f"'{where}.{kind}.refillPerSecond' must be a positive number")
        found[kind] = Limit(capacity, refill)
    return found


def _override(entry: Any, index: int) -> Override:
    where = f"overrides[{index}]"
    if not isinstance(entry, dict):
        raise SettingsError(f"'{where}' must be an object")
    subscription, principal = entry.get("subscription"), entry.get("principal")
    if subscription is None and principal is None:
        raise SettingsError(f"'{where}' must name a 'subscription', a 'principal' or both")
    for name, value in (("subscription", subscription), ("principal", principal)):
        if value is not None and not isinstance(value, str):
            raise SettingsError(f"'{where}.{name}' must be a string")
    limits = _limits({k: v for k, v in entry.items() if k not in ("subscription", "principal")}, where)
    return Override(subscription.lower() if subscription else None, principal.lower() if principal else None, limits)
