"""ARM's token buckets (localcloud/arm/throttling.py): the remaining-token headers, the 429 when a bucket is empty,
refill over (emulated) time, one bucket per subscription, principal and kind plus the subscription's global one,
the control API that reads and shrinks them, and what the real SDK makes of a 429."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from azure.mgmt.network import NetworkManagementClient

from localcloud.arm.clock import ManualClock
from localcloud.arm.throttling import RateLimiter, kind_of
from localcloud.identity import ManagedIdentity
from tests.localcloud.arm.support import (
    EMQX_CLIENT,
    EMQX_RG,
    EMQX_SUB,
    FUNCTION_APP,
    PROVIDER_SUB,
    RG,
    Cloud,
    net,
    provider,
    refusal,
)

VERSION = {"api-version": "2024-05-01"}
LBS = provider("loadBalancers")
APP_OBJECT_ID = ManagedIdentity(FUNCTION_APP, ()).principal_id


def ratelimits(cloud: Cloud) -> dict[str, Any]:
    with cloud.control() as control:
        answer = control.get("/localcloud/ratelimits")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def set_ratelimits(cloud: Cloud, **settings: Any) -> dict[str, Any]:
    with cloud.control() as control:
        answer = control.put("/localcloud/ratelimits", json=settings)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def bucket(cloud: Cloud, kind: str, client_id: str | None = FUNCTION_APP, subscription: str = PROVIDER_SUB) -> Any:
    """One bucket of the control API's listing (client_id None: the subscription's global bucket)."""
    for entry in ratelimits(cloud)["buckets"]:
        if (entry["subscription"], entry["principal"], entry["kind"]) == (subscription.lower(), client_id, kind):
            return entry
    return None


def remaining(answer: httpx.Response, kind: str) -> tuple[int, int]:
    return (
        int(answer.headers[f"x-ms-ratelimit-remaining-subscription-{kind}"]),
        int(answer.headers[f"x-ms-ratelimit-remaining-subscription-global-{kind}"]),
    )


def throttled_message(kind: str, seconds: int, subscription: str = PROVIDER_SUB, actor: str = APP_OBJECT_ID) -> str:
    return (
        f"Number of '{kind}' requests for subscription '{subscription}' actor '{actor}' exceeded. Please try again "
        f"after '{seconds}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling "
        "for additional information."
    )


def test_every_answer_carries_the_remaining_tokens_of_its_kind(held_cloud: Cloud):
    with held_cloud.http() as http:
        listed = http.get(LBS, params=VERSION)
        missing = http.get(provider("loadBalancers", "nope"), params=VERSION)
        refused = http.put(provider("loadBalancers", "lb"), params=VERSION, json={"properties": {}})
        deleted = http.delete(provider("loadBalancers", "nope"), params=VERSION)
        action = http.post(
            f"/subscriptions/{PROVIDER_SUB}/providers/Microsoft.Network/locations/westeurope/"
            "checkPrivateLinkServiceVisibility",
            params=VERSION,
            json={"privateLinkServiceAlias": "nope"},
        )
        foreign = http.get(net(EMQX_SUB, EMQX_RG, "loadBalancers"), params=VERSION)
    # A fresh read bucket: 250 (global 3750), one token per answer, errors included.
    assert (listed.status_code, remaining(listed, "reads")) == (200, (249, 3749))
    assert (missing.status_code, remaining(missing, "reads")) == (404, (248, 3748))
    # The resource group PUT of the test's set-up was the first write of this principal in this subscription.
    assert (refused.status_code, remaining(refused, "writes")) == (400, (198, 2998))
    assert (deleted.status_code, remaining(deleted, "deletes")) == (204, (199, 2999))
    assert (action.status_code, remaining(action, "writes")) == (200, (197, 2997))  # a POST is a write
    # Only the request's own kind.
    assert not any("writes" in name or "deletes" in name for name in listed.headers if "ratelimit" in name)
    assert not any("reads" in name for name in refused.headers if "ratelimit" in name)
    # Another subscription, another bucket: drawn from before the authorization check refuses the call.
    assert (foreign.status_code, remaining(foreign, "reads")) == (403, (249, 3749))
    with httpx.Client(base_url=held_cloud.arm, verify=held_cloud.tls) as anonymous:
        unauthenticated = anonymous.get(LBS, params=VERSION)
    assert unauthenticated.status_code == 401
    assert not [name for name in unauthenticated.headers if "ratelimit" in name]


def test_an_empty_bucket_answers_429_until_a_token_is_back(held_cloud: Cloud):
    clock = held_cloud.clock
    assert isinstance(clock, ManualClock)
    set_ratelimits(held_cloud, limits={"reads": {"capacity": 3, "refillPerSecond": 0.25}})
    with held_cloud.http() as http:
        answers = [http.get(LBS, params=VERSION) for _ in range(3)]
        assert [(a.status_code, remaining(a, "reads")) for a in answers] == [
            (200, (2, 44)),
            (200, (1, 43)),
            (200, (0, 42)),
        ]
        refused = http.get(LBS, params=VERSION)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "4"  # one token at 0.25 a second
        assert refused.json() == {
            "error": {"code": "SubscriptionRequestsThrottled", "message": throttled_message("read", 4)}
        }
        assert remaining(refused, "reads") == (0, 42)  # a refused request takes no token
        assert bucket(held_cloud, "reads")["tokens"] == 0
        clock.advance(2)  # half a token: still refused, for the time the rest takes
        again = http.get(LBS, params=VERSION)
        assert (again.status_code, again.headers["Retry-After"]) == (429, "2")
        assert bucket(held_cloud, "reads")["tokens"] == 0.5
        clock.advance(2)
        assert (http.get(LBS, params=VERSION).status_code, bucket(held_cloud, "reads")["tokens"]) == (200, 0)
        clock.advance(3600)  # refills up to the bucket's size, no further
        full = http.get(LBS, params=VERSION)
        assert (full.status_code, remaining(full, "reads")) == (200, (2, 44))
    with held_cloud.control() as control:
        log = control.get("/localcloud/calls").json()["calls"]
    assert [c["status"] for c in log if c["path"] == LBS][-4:] == [429, 429, 200, 200]


def test_kinds_principals_and_subscriptions_have_their_own_buckets(held_cloud: Cloud):
    set_ratelimits(held_cloud, limits={"writes": {"capacity": 1, "refillPerSecond": 0.1}})
    with held_cloud.http() as http:
        assert http.put(provider("loadBalancers", "lb"), params=VERSION, json={}).status_code == 400
        refused = http.put(provider("loadBalancers", "lb"), params=VERSION, json={})
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "10")
        assert refused.json()["error"]["message"] == throttled_message("write", 10)
        assert http.get(LBS, params=VERSION).status_code == 200  # reads
        assert http.delete(provider("loadBalancers", "lb"), params=VERSION).status_code == 204  # deletes
        # The same principal in another subscription: a fresh bucket (the authorization check then refuses it).
        other = http.put(net(EMQX_SUB, EMQX_RG, "loadBalancers", "lb"), params=VERSION, json={})
        assert (other.status_code, remaining(other, "writes")) == (403, (0, 14))
    with held_cloud.http(EMQX_CLIENT) as emqx:  # another principal: its own bucket, the subscription's shared one
        group = f"/subscriptions/{EMQX_SUB}/resourcegroups/{EMQX_RG}"
        answer = emqx.put(group, params=VERSION, json={"location": "westeurope"})
        assert (answer.status_code, remaining(answer, "writes")) == (200, (0, 13))


def test_the_global_bucket_is_shared_by_every_principal_of_a_subscription(held_cloud: Cloud):
    set_ratelimits(held_cloud, limits={"reads": {"capacity": 2}}, globalMultiplier=1)
    with held_cloud.http() as http:
        assert [remaining(http.get(LBS, params=VERSION), "reads") for _ in range(2)] == [(1, 1), (0, 0)]
    with held_cloud.http(EMQX_CLIENT) as emqx:
        # EMQX's own bucket in the provider's subscription is full; the subscription's is empty.
        refused = emqx.get(LBS, params=VERSION)
        assert refused.status_code == 429, refused.text
        assert remaining(refused, "reads") == (2, 0)
        emqx_object_id = ManagedIdentity(EMQX_CLIENT, ()).principal_id
        assert refused.json()["error"]["message"] == throttled_message("read", 1, actor=emqx_object_id)
        # Its own subscription is another matter.
        assert emqx.get(net(EMQX_SUB, EMQX_RG, "loadBalancers"), params=VERSION).status_code == 200


def test_an_override_shrinks_one_principals_buckets(held_cloud: Cloud):
    settings = set_ratelimits(
        held_cloud, overrides=[{"principal": FUNCTION_APP, "reads": {"capacity": 1, "refillPerSecond": 1}}]
    )
    assert settings["overrides"] == [
        {"subscription": None, "principal": FUNCTION_APP, "reads": {"capacity": 1, "refillPerSecond": 1}}
    ]
    with held_cloud.http() as http:
        assert [http.get(LBS, params=VERSION).status_code for _ in range(2)] == [200, 429]
    with held_cloud.http(EMQX_CLIENT) as emqx:
        answer = emqx.get(net(EMQX_SUB, EMQX_RG, "loadBalancers"), params=VERSION)
        assert (answer.status_code, remaining(answer, "reads")) == (200, (249, 3749))
    assert (bucket(held_cloud, "reads")["capacity"], bucket(held_cloud, "reads", None)["capacity"]) == (1, 3750)


def test_the_control_api_reads_sets_and_resets_the_buckets(held_cloud: Cloud):
    settings = ratelimits(held_cloud)
    assert settings["limits"] == {
        "reads": {"capacity": 250, "refillPerSecond": 25},
        "writes": {"capacity": 200, "refillPerSecond": 10},
        "deletes": {"capacity": 200, "refillPerSecond": 10},
    }
    assert (settings["globalMultiplier"], settings["overrides"], settings["speed"]) == (15, [], 1)
    # The set-up's resource group PUTs: one write per principal, each in its own subscription.
    assert bucket(held_cloud, "writes") == {
        "subscription": PROVIDER_SUB,
        "principal": FUNCTION_APP,
        "principalId": APP_OBJECT_ID,
        "kind": "writes",
        "capacity": 200,
        "refillPerSecond": 10,
        "tokens": 199,
    }
    assert bucket(held_cloud, "writes", None) == {
        "subscription": PROVIDER_SUB,
        "principal": None,
        "principalId": None,
        "kind": "writes",
        "capacity": 3000,
        "refillPerSecond": 150,
        "tokens": 2999,
    }
    assert bucket(held_cloud, "writes", EMQX_CLIENT, EMQX_SUB)["tokens"] == 199
    shrunk = set_ratelimits(held_cloud, limits={"deletes": {"capacity": 5, "refillPerSecond": 0.5}})
    assert shrunk["limits"]["deletes"] == {"capacity": 5, "refillPerSecond": 0.5}
    assert shrunk["limits"]["reads"] == {"capacity": 250, "refillPerSecond": 25}  # left out: Azure's
    assert shrunk["buckets"] == []  # every bucket starts again, full at its new size
    with held_cloud.control() as control:
        for wrong in (
            [],
            {"limits": {"lists": {"capacity": 1}}},
            {"limits": {"reads": {"capacity": 0}}},
            {"limits": {"reads": {"refillPerSecond": 0}}},
            {"limits": {"reads": {"capacity": "many"}}},
            {"globalMultiplier": 0.5},
            {"overrides": [{"reads": {"capacity": 1}}]},
            {"overrides": {"principal": FUNCTION_APP}},
            {"burst": 1},
        ):
            answer = control.put("/localcloud/ratelimits", json=wrong)
            assert answer.status_code == 400, wrong
            assert answer.json()["error"]["code"] == "BadRequest"
        assert ratelimits(held_cloud)["limits"]["deletes"] == {"capacity": 5, "refillPerSecond": 0.5}  # unchanged
        assert control.delete("/localcloud/ratelimits").status_code == 204
        assert ratelimits(held_cloud)["limits"]["deletes"] == {"capacity": 200, "refillPerSecond": 10}
        set_ratelimits(held_cloud, limits={"reads": {"capacity": 1}})
        assert control.post("/localcloud/reset").status_code == 204
        assert ratelimits(held_cloud)["limits"]["reads"] == {"capacity": 250, "refillPerSecond": 25}


def test_the_sdk_waits_out_a_429_and_retries(cloud: Cloud, network: NetworkManagementClient):
    """At speed 1000 a refill of 0.0005 a second is half a token a real second: the second read is refused with
    Retry-After 2, azure-core's retry policy sleeps that long and its retry gets the token back."""
    set_ratelimits(cloud, limits={"reads": {"capacity": 1, "refillPerSecond": 0.0005}})
    assert list(network.load_balancers.list(RG)) == []
    started = time.monotonic()
    assert list(network.load_balancers.list(RG)) == []
    assert time.monotonic() - started >= 2
    with cloud.control() as control:
        log = control.get("/localcloud/calls").json()["calls"]
    assert [c["status"] for c in log if c["path"] == LBS][-3:] == [200, 429, 200]
    refused = refusal(lambda: list(network.load_balancers.list(RG, retry_total=0)))
    assert (refused.status, refused.code) == (429, "SubscriptionRequestsThrottled")
    assert refused.message == throttled_message("read", 2)


def test_the_default_buckets_outlast_a_burst_of_sdk_calls(network: NetworkManagementClient, cloud: Cloud):
    """Azure's limits at speed 1000: 300 reads in a row are never refused (the refill outruns any client)."""
    for _ in range(300):
        list(network.load_balancers.list(RG))
    assert bucket(cloud, "reads")["tokens"] > 200


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("GET", "reads"),
        ("HEAD", "reads"),
        ("PUT", "writes"),
        ("PATCH", "writes"),
        ("POST", "writes"),
        ("DELETE", "deletes"),
    ],
)
def test_kinds_of_requests(method: str, kind: str):
    assert kind_of(method) == kind


def test_refill_is_scaled_by_the_speed():
    """At speed 50 reads refill 25 * 50 = 1250 a clock second; Retry-After stays whole seconds, at least 1."""
    clock = ManualClock(start=0.0)
    limiter = RateLimiter(clock, speed=50)

    def read() -> Any:
        return limiter.take(PROVIDER_SUB, FUNCTION_APP, APP_OBJECT_ID, "GET")

    taken = [read() for _ in range(251)]
    assert [v.remaining for v in taken[:3]] == [249, 248, 247]
    assert (taken[249].remaining, taken[249].retry_after) == (0, None)
    assert taken[250].retry_after == 1  # a token is back in 0.8 ms; the client is told to wait a whole second
    clock.advance(0.001)  # 1.25 tokens
    assert (read().retry_after, read().retry_after) == (None, 1)
    clock.advance(0.1)  # 125 more
    assert read().remaining == 124
    slow = RateLimiter(clock, speed=0.5)
    slow.configure({"limits": {"writes": {"capacity": 1, "refillPerSecond": 0.25}}})
    assert slow.take(PROVIDER_SUB, FUNCTION_APP, APP_OBJECT_ID, "PUT").retry_after is None
    assert slow.take(PROVIDER_SUB, FUNCTION_APP, APP_OBJECT_ID, "PATCH").retry_after == 8  # 0.125 a clock second
