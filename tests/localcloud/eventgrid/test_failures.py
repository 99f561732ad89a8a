"""The failure switch: the next N publishes (or every one until cleared) fail as Event Grid can, and the SDK sees it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from tests.localcloud.eventgrid.support import Cloud, cloud_event, publisher


def arm(cloud: Cloud, **spec: Any) -> dict[str, Any]:
    with cloud.control() as control:
        answer = control.put("/failure", json=spec)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["failure"])


def failure(cloud: Cloud) -> dict[str, Any] | None:
    with cloud.control() as control:
        found: dict[str, Any] | None = control.get("/failure").json()["failure"]
        return found


async def test_a_503_for_the_next_publish_is_retried_by_the_sdk(cloud: Cloud) -> None:
    assert arm(cloud, status=503, count=1)["remaining"] == 1
    async with publisher(cloud, retry_backoff_factor=0.01) as client:
        await client.send([cloud_event(1)])
    first, second = cloud.publishes()
    assert (first["status"], first["failure"], first["events"]) == (503, "status 503", [])
    assert first["error"]["code"] == "ServiceUnavailable"
    assert (second["status"], second["failure"]) == (200, None)
    assert [entry["event"]["id"] for entry in cloud.events()] == [cloud_event(1)["id"]]
    assert failure(cloud) == {**arm_state(status=503, count=1), "remaining": 0, "fired": 1}


def arm_state(**spec: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "kind": "status",
        "status": 503,
        "count": None,
        "retryAfter": None,
        "delaySeconds": 2.0,
        "code": None,
        "message": None,
    }
    state.update(spec)
    state.setdefault("remaining", state["count"])
    state.setdefault("fired", 0)
    return state


async def test_a_failure_without_count_lasts_until_cleared(cloud: Cloud) -> None:
    arm(cloud, status=500)
    async with publisher(cloud, retry_total=1, retry_backoff_factor=0.01) as client:
        with pytest.raises(HttpResponseError) as failed:
            await client.send([cloud_event(1)])
        assert failed.value.status_code == 500
        assert json.loads(failed.value.response.text())["error"]["code"] == "InternalServerError"
        assert [entry["status"] for entry in cloud.publishes()] == [500, 500]
        state = failure(cloud)
        assert state is not None and (state["remaining"], state["fired"]) == (None, 2)

        with cloud.control() as control:
            assert control.delete("/failure").status_code == 204
        assert failure(cloud) is None
        await client.send([cloud_event(2)])
    assert [entry["event"]["id"] for entry in cloud.events()] == [cloud_event(2)["id"]]


async def test_a_dropped_connection_fails_the_send_and_the_next_one_goes_through(cloud: Cloud) -> None:
    arm(cloud, kind="drop", count=1)
    async with publisher(cloud, retry_total=0) as client:
        # aiohttp's "Server disconnected", which azure-core raises as ServiceRequestError
        with pytest.raises(ServiceRequestError, match="Server disconnected"):
            await client.send([cloud_event(1)])
        await client.send([cloud_event(2)])
    dropped, served = cloud.publishes()
    assert (dropped["status"], dropped["failure"], dropped["events"]) == (None, "drop", [])
    assert served["status"] == 200
    assert [entry["event"]["id"] for entry in cloud.events()] == [cloud_event(2)["id"]]


def test_a_slow_publish_is_answered_after_the_delay(cloud: Cloud) -> None:
    arm(cloud, kind="slow", delaySeconds=0.3, count=1)
    started = time.monotonic()
    assert cloud.post(json.dumps([cloud_event(1)])).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert cloud.publishes()[0]["failure"] == "slow"


def test_an_injected_status_has_event_grids_body_and_the_asked_retry_after(cloud: Cloud) -> None:
    arm(cloud, status=429, count=2, retryAfter=7, code="TooManyRequests", message="Slow down.")
    answer = cloud.post(json.dumps([cloud_event(1)]))
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "7")
    error = answer.json()["error"]
    assert (error["code"], error["details"][0]["code"]) == ("TooManyRequests", "TooManyRequests")
    assert error["message"].startswith("Slow down. Report '")
    # Only publishes suffer it: the control API and other paths do not count against it.
    assert cloud.post(json.dumps([cloud_event(1)]), path="/other").status_code == 404
    state = failure(cloud)
    assert state is not None and state["remaining"] == 1


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "explode"},
        {"status": 200},
        {"status": "503"},
        {"count": 0},
        {"count": True},
        {"retryAfter": -1},
        {"delaySeconds": "soon"},
        {"statuss": 503},
        [],
    ],
)
def test_a_malformed_failure_is_400_and_changes_nothing(cloud: Cloud, spec: Any) -> None:
    with cloud.control() as control:
        answer = control.put("/failure", json=spec)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "InvalidRequest"
    assert failure(cloud) is None
