"""Faults on demand, the call log and the clock control of the EMQX stand-in."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.localcloud.emqx.support import StandIn


def test_status_fault_fires_count_times_then_stops(emqx: StandIn) -> None:
    with emqx.client() as control, emqx.platform() as client:
        created = control.post(
            "/localcloud/faults",
            json={"method": "GET", "path": r"/deployments/\w+$", "kind": "status", "status": 503, "count": 2},
        )
        assert created.status_code == 201
        statuses = [client.get("/deployments/w41b11c0").status_code for _ in range(3)]
        listed = control.get("/localcloud/faults").json()["faults"]
    assert statuses == [503, 503, 200]
    assert listed[0]["id"] == created.json()["id"]
    assert (listed[0]["fired"], listed[0]["remaining"]) == (2, 0)


def test_throttle_fault_answers_429_with_retry_after(emqx: StandIn) -> None:
    with emqx.client() as control, emqx.v5() as client:
        control.post(
            "/localcloud/faults",
            json={"method": "POST", "path": "connectors_probe", "kind": "throttle", "retryAfter": 7},
        )
        response = client.post("/connectors_probe", json={})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


def test_slow_fault_delays_the_real_answer(emqx: StandIn) -> None:
    with emqx.client() as control, emqx.platform() as client:
        control.post(
            "/localcloud/faults", json={"method": "*", "path": "/projects", "kind": "slow", "delaySeconds": 0.3}
        )
        started = time.monotonic()
        response = client.get("/projects")
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed >= 0.3


def test_drop_fault_closes_the_connection_without_an_answer(emqx: StandIn) -> None:
    with emqx.client() as control, emqx.platform() as client:
        control.post("/localcloud/faults", json={"method": "GET", "path": "/projects", "kind": "drop", "count": 2})
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/projects")
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/projects")
        assert control.get("/localcloud/faults").json()["faults"][0]["remaining"] == 0
        assert client.get("/projects").status_code == 200


def test_bad_fault_specs_are_400(emqx: StandIn) -> None:
    with emqx.client() as control:
        for spec in (
            {"kind": "lro-failed", "path": "x"},
            {"kind": "explode", "path": "x"},
            {"kind": "status", "path": "("},
            {"kind": "status", "path": "x", "count": 0},
            {"kind": "status", "path": "x", "status": 200},
        ):
            assert control.post("/localcloud/faults", json=spec).status_code == 400


def test_calls_are_counted_per_kind_and_endpoint(emqx: StandIn) -> None:
    with emqx.client() as control, emqx.platform() as client, emqx.v5() as v5:
        control.delete("/localcloud/calls")
        client.get("/deployments/w41b11c0")
        client.get("/deployments/v4d0a1b2")
        v5.post("/connectors_probe", json={})
        v5.delete("/connectors/redis:absent")
        control.post("/localcloud/faults", json={"method": "GET", "path": "/projects", "kind": "status"})
        client.get("/projects")
        log = control.get("/localcloud/calls").json()
    assert [c["seq"] for c in log["calls"]] == sorted(c["seq"] for c in log["calls"])
    assert [(c["method"], c["status"], c["kind"]) for c in log["calls"]] == [
        ("GET", 200, "read"),
        ("GET", 200, "read"),
        ("POST", 400, "action"),
        ("DELETE", 404, "delete"),
        ("GET", 500, "read"),
    ]
    assert log["calls"][0]["identity"] == "key-all"
    assert log["calls"][2]["identity"] == "app-v5"
    assert log["calls"][4]["fault"] == "status"
    assert log["counts"] == {"read": 3, "write": 0, "delete": 1, "action": 1, "poll": 0}
    assert log["endpoints"]["GET /public_api/v1/deployments/{deployment_id}"] == 2


def test_the_clock_only_moves_forward(emqx: StandIn) -> None:
    with emqx.client() as control:
        before = control.get("/localcloud/clock").json()
        moved = control.post("/localcloud/clock", json={"advanceSeconds": 3600}).json()
        backwards = control.post("/localcloud/clock", json={"advanceSeconds": -1})
    assert moved["offsetSeconds"] == before["offsetSeconds"] + 3600
    assert moved["now"] >= before["now"] + 3600
    assert backwards.status_code == 400
