"""The monitor against localcloud: EMQX status polling, the Redis test, drift, one link's failure, steady costs.

A monitor run is started through the host's admin API, which answers before the run ends; `Monitor.run` waits for
the host's `Executed 'Functions.monitor'` line and hands back what the host logged meanwhile.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.stack import APP_CLIENT_ID, REDIS_PASSWORD_SETTING
from tests.e2e.helpers import Monitor, platform_calls, reset_emqx_calls, running_link
from tests.e2e.world import World
from tests.waiting import eventually

# An app setting of the e2e stack holding a password Redis refuses (see tests/e2e/world.py, `stack_world`).
WRONG_PASSWORD_SETTING = "WRONG_REDIS_PASSWORD"


@pytest.fixture(scope="module")
def monitor(world: World) -> Monitor:
    return Monitor(world)


@pytest.fixture(autouse=True)
def fresh_rate_budgets(world: World) -> None:
    """EMQX's and the app's hourly budgets unspent, whatever the session's earlier tests spent."""
    world.hour_passes()


@pytest.fixture(scope="module")
def steady(world: World) -> Iterator[list[str]]:
    """Two links running with a passing Redis test, shared by the tests that leave them as they found them."""
    names = ["steady-a", "steady-b"]
    for name in names:
        running_link(world, name)
    yield names
    for name in names:
        world.delete_until_gone(name)


def _group_of(link: dict[str, Any]) -> str:
    azure = link["spec"]["azure"]
    return f"/subscriptions/{azure['subscriptionId']}/resourceGroups/{azure['resourceGroup']}".lower()


def _pls_id(link: dict[str, Any]) -> str:
    return str(link["status"]["resources"]["privateLinkServiceId"])


def _pls_list_of(link: dict[str, Any]) -> str:
    """The monitor's one read for the link's resource group: the list of its private link services."""
    return f"{_group_of(link)}/providers/microsoft.network/privatelinkservices"


def _put_spec(world: World, name: str, **emqx: Any) -> dict[str, Any]:
    spec = world.get_link(name)["spec"]
    spec["emqx"].update(emqx)
    answer = world.put_link(name, spec)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _console_record(world: World, private_link_id: str) -> dict[str, Any]:
    answer = world.cloud.get(str(world.emqx["consoleUrl"]))
    answer.raise_for_status()
    return next(r for r in answer.json()["privateLinks"] if r["privateLinkID"] == private_link_id)


def test_a_wrong_redis_password_fails_the_test_and_the_right_one_recovers(world: World, monitor: Monitor) -> None:
    running_link(world, "password")
    start = monitor.offset()
    _put_spec(world, "password", redisPasswordSetting=WRONG_PASSWORD_SETTING)
    run = monitor.run()

    status = world.get_link("password")["status"]
    assert status["health"] == "failed"
    test = status["lastRedisTest"]
    assert test["passed"] is False
    assert "WRONGPASS" in test["reason"], test
    steps = [s for s in status["history"] if s["step"] == "redis test"]
    assert steps[-1]["outcome"] == "failed" and "WRONGPASS" in steps[-1]["detail"]
    assert run.outcomes == ["Succeeded"]
    log = monitor.log_since(start)
    assert re.search(r" WARNING emqx_privatelink: link password: health healthy -> failed: .*WRONGPASS", log)
    for secret in (world.stack.app_settings[WRONG_PASSWORD_SETTING], world.endpoints["redis"]["password"]):
        assert secret not in log

    _put_spec(world, "password", redisPasswordSetting=REDIS_PASSWORD_SETTING)
    monitor.run()
    status = world.get_link("password")["status"]
    assert status["health"] == "healthy"
    assert status["lastRedisTest"]["passed"] is True
    world.delete_until_gone("password")


def test_a_private_link_service_deleted_behind_the_apps_back_is_detected(world: World, monitor: Monitor) -> None:
    link = running_link(world, "vanished")
    pls_id = _pls_id(link)
    pls = world.arm_get(pls_id)
    assert pls is not None
    for connection in pls["properties"]["privateEndpointConnections"]:
        world.arm_delete(connection["id"])
    world.arm_delete(pls_id)
    emqx_id = link["status"]["emqx"]["id"]
    eventually(
        lambda: _console_record(world, emqx_id),
        "EMQX to notice",
        30,
        accept=lambda record: record["status"] == "failed",
        interval=0.2,
    )

    monitor.run()
    status = world.get_link("vanished")["status"]
    assert status["phase"] == "failed"
    assert status["health"] == "failed"
    assert status["emqx"]["status"] == "failed"
    assert any("deleted outside this app" in note for note in status["drift"]), status["drift"]
    assert any(s["step"] == "phase running -> failed" for s in status["history"])
    world.delete_until_gone("vanished")


def test_the_redis_test_runs_on_demand_and_answers_with_its_result(world: World, steady: list[str]) -> None:
    name = steady[0]
    answer = world.api.post(f"/links/{name}/test")
    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    assert result["passed"] is True and result["latencyMs"] >= 0
    assert answer.json()["link"]["status"]["lastRedisTest"]["at"] == result["at"]

    _put_spec(world, name, redisPasswordSetting=WRONG_PASSWORD_SETTING)
    answer = world.api.post(f"/links/{name}/test")
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["passed"] is False
    assert "WRONGPASS" in answer.json()["result"]["reason"]
    assert answer.json()["link"]["status"]["health"] == "failed"

    _put_spec(world, name, redisPasswordSetting=REDIS_PASSWORD_SETTING)
    assert world.api.post(f"/links/{name}/test").json()["result"]["passed"] is True


def test_the_redis_test_fails_with_a_reason_before_the_privatelink_ip_is_known(world: World) -> None:
    network = world.network()
    world.provision("no-ip-yet", world.link_body(network))
    answer = world.api.post("/links/no-ip-yet/test")
    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    assert result["passed"] is False
    assert result["reason"] == "the PrivateLink IP is not known yet"
    world.delete_until_gone("no-ip-yet")


def test_one_links_failure_does_not_stop_the_others_and_fails_the_run(
    world: World, monitor: Monitor, steady: list[str]
) -> None:
    broken, healthy = (world.get_link(name) for name in steady)
    before = healthy["status"]["updatedAt"]
    monitor.settle()
    world.reset_calls()
    # The list of the broken link's resource group is refused: that link fails, alone.
    world.inject_fault(method="GET", path=f"(?i){re.escape(_pls_list_of(broken))}$", kind="status", status=403, count=1)
    run = monitor.run(settle=False)

    assert run.outcomes == ["Failed"]
    assert run.summaries[0][2] >= 1
    assert f" WARNING emqx_privatelink: link {broken['name']}: monitor failed: Azure refused to" in run.log
    assert re.search(rf"MonitorRunFailedError: \d+ link\(s\) errored: .*\b{broken['name']}\b", run.log)
    after = world.get_link(healthy["name"])
    assert after["status"]["updatedAt"] > before
    assert after["status"]["phase"] == "running" and after["status"]["health"] == "healthy"
    reads = [c["path"].lower() for c in world.calls() if c["kind"] == "read" and c["identity"] == APP_CLIENT_ID]
    assert _pls_list_of(healthy) in reads

    assert monitor.run().outcomes == ["Succeeded"]


def test_a_steady_monitor_run_reads_once_per_link_and_writes_nothing(
    world: World, monitor: Monitor, steady: list[str]
) -> None:
    links = [world.get_link(name) for name in steady]
    monitor.settle()
    world.reset_calls()
    reset_emqx_calls(world)
    run = monitor.run(settle=False)

    assert run.outcomes == ["Succeeded"]
    for link in links:
        assert world.get_link(link["name"])["status"]["updatedAt"] > link["status"]["updatedAt"], "not checked"
    app_calls = [c for c in world.calls() if c["identity"] == APP_CLIENT_ID and c["kind"] != "poll"]
    for link in links:
        group = _group_of(link)
        ours = [c for c in app_calls if c["path"].lower().startswith(group)]
        assert [c for c in ours if c["kind"] != "read"] == [], ours
        assert len(ours) <= 1, ours
    per_deployment: dict[str, int] = {}
    for call in platform_calls(world):
        deployment = call["path"].split("/deployments/")[1].split("/")[0]
        per_deployment[deployment] = per_deployment.get(deployment, 0) + 1
    assert per_deployment and max(per_deployment.values()) <= 1, per_deployment
