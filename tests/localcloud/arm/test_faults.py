"""Injected faults, as the real SDK (and its retry policy) meets them, and the call counters."""

from __future__ import annotations

import time
from typing import Any

from azure.core.exceptions import ServiceResponseError
from azure.mgmt.network import NetworkManagementClient

from tests.localcloud.arm.support import RG, Cloud, lb_body, provider, refusal, vnet_body

LB_PATH = r"/loadBalancers/test01$"


def arm_fault(cloud: Cloud, **spec: Any) -> str:
    with cloud.control() as control:
        answer = control.post("/localcloud/faults", json=spec)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def calls(cloud: Cloud) -> dict[str, Any]:
    with cloud.control() as control:
        return dict(control.get("/localcloud/calls").json())


def lb_calls(cloud: Cloud, method: str = "GET") -> list[dict[str, Any]]:
    return [c for c in calls(cloud)["calls"] if c["method"] == method and c["path"].endswith("/loadBalancers/test01")]


def make_lb(network: NetworkManagementClient) -> None:
    network.virtual_networks.begin_create_or_update(
        RG, "vnet", vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"})
    ).result()
    network.load_balancers.begin_create_or_update(
        RG, "test01", lb_body("test01", provider("virtualNetworks", "vnet", "subnets", "default"))
    ).result()


def test_server_errors_are_retried_by_the_sdk(cloud: Cloud, network: NetworkManagementClient):
    make_lb(network)
    for status in (500, 503):
        fault = arm_fault(cloud, method="GET", path=LB_PATH, kind="status", status=status, count=1)
        with cloud.control() as control:
            control.delete("/localcloud/calls")
        assert network.load_balancers.get(RG, "test01").name == "test01"
        assert [(c["status"], c["fault"]) for c in lb_calls(cloud)] == [(status, "status"), (200, None)]
        with cloud.control() as control:
            listed = {f["id"]: f for f in control.get("/localcloud/faults").json()["faults"]}
        assert (listed[fault]["remaining"], listed[fault]["fired"]) == (0, 1)


def test_server_error_body_has_arm_shape(cloud: Cloud, network: NetworkManagementClient):
    make_lb(network)
    arm_fault(cloud, method="*", path=LB_PATH, kind="status", status=500, count=20)
    refused = refusal(network.load_balancers.get, RG, "test01", retry_total=1)
    assert (refused.status, refused.code) == (500, "InternalServerError")
    assert refused.message.startswith("Encountered internal server error.")


def test_throttling_is_honoured(cloud: Cloud, network: NetworkManagementClient):
    make_lb(network)
    arm_fault(cloud, method="GET", path=LB_PATH, kind="throttle", retryAfter=1, count=1)
    started = time.monotonic()
    network.load_balancers.get(RG, "test01")
    assert time.monotonic() - started >= 1  # azure-core waited for Retry-After
    assert [(c["status"], c["fault"]) for c in lb_calls(cloud)[-2:]] == [(429, "throttle"), (200, None)]
    arm_fault(cloud, method="GET", path=LB_PATH, kind="throttle", retryAfter=1, count=5)
    refused = refusal(network.load_balancers.get, RG, "test01", retry_total=0)
    assert (refused.status, refused.code) == (429, "SubscriptionRequestsThrottled")
    assert refused.message.endswith(
        "Please try again after '1' seconds after additional tokens are available. "
        "Refer to https://aka.ms/arm-throttling for additional information."
    )


def test_slow_answers_and_dropped_connections_are_retried(cloud: Cloud, network: NetworkManagementClient):
    make_lb(network)
    arm_fault(cloud, method="GET", path=LB_PATH, kind="slow", delaySeconds=2, count=1)
    assert network.load_balancers.get(RG, "test01", read_timeout=1).name == "test01"
    arm_fault(cloud, method="GET", path=LB_PATH, kind="drop", count=1)
    assert network.load_balancers.get(RG, "test01").name == "test01"
    log = lb_calls(cloud)[-4:]
    assert [c["fault"] for c in log] == ["slow", None, "drop", None]
    # The slow answer comes after the client gave up (it may still be on its way); the dropped one never comes.
    assert [c["status"] for c in log[1:]] == [200, None, 200]
    arm_fault(cloud, method="GET", path=LB_PATH, kind="drop", count=5)
    try:
        network.load_balancers.get(RG, "test01", retry_total=0)
    except ServiceResponseError:
        pass  # the connection closed without an answer: what azure-core raises then
    else:
        raise AssertionError("a dropped connection must fail the call")


def test_an_lro_that_ends_failed(cloud: Cloud, network: NetworkManagementClient):
    make_lb(network)
    arm_fault(cloud, method="PUT", path=LB_PATH, kind="lro-failed", code="InternalServerError", count=1)
    subnet = provider("virtualNetworks", "vnet", "subnets", "default")
    refused = refusal(
        lambda: network.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", subnet)).result()
    )
    assert refused.code == "InternalServerError"
    assert network.load_balancers.get(RG, "test01").provisioning_state == "Failed"
    polls = [c for c in calls(cloud)["calls"] if c["kind"] == "poll"]
    assert polls[-1]["status"] == 200
    network.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", subnet)).result()
    assert network.load_balancers.get(RG, "test01").provisioning_state == "Succeeded"


def test_counters_by_kind(cloud: Cloud, network: NetworkManagementClient):
    with cloud.control() as control:
        control.delete("/localcloud/calls")
    make_lb(network)
    network.load_balancers.get(RG, "test01")
    network.load_balancers.begin_delete(RG, "test01").result()
    log = calls(cloud)
    counts = log["counts"]
    assert counts["write"] == 2 and counts["read"] >= 3 and counts["delete"] == 1 and counts["poll"] >= 3
    assert counts["action"] == 0
    assert sum(counts.values()) == len(log["calls"])
    assert [c["seq"] for c in log["calls"]] == sorted(c["seq"] for c in log["calls"])
    assert {c["identity"] for c in log["calls"]} == {"4c0c1d9e-5b6a-47f1-a1c2-0a9e8d7c6b03"}
    with cloud.control() as control:
        assert control.delete("/localcloud/calls").status_code == 204
        assert control.get("/localcloud/calls").json() == {
            "calls": [],
            "counts": {"read": 0, "write": 0, "delete": 0, "action": 0, "poll": 0},
        }


def test_fault_specs_are_checked_and_cleared(cloud: Cloud):
    with cloud.control() as control:
        assert control.post("/localcloud/faults", json={"kind": "explode"}).status_code == 400
        assert control.post("/localcloud/faults", json={"kind": "status", "path": "("}).status_code == 400
        assert control.post("/localcloud/faults", json={"kind": "status", "status": 200}).status_code == 400
        assert control.post("/localcloud/faults", json={"kind": "drop", "count": 0}).status_code == 400
        assert control.post("/localcloud/faults", json={"kind": "drop", "method": "PUT"}).status_code == 201
        assert control.delete("/localcloud/faults").status_code == 204
        assert control.get("/localcloud/faults").json() == {"faults": []}
