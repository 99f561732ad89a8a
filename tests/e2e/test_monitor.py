"""The monitor against localcloud: EMQX status polling, the Redis test, drift, one link's failure, steady costs.

A monitor run is started through the host's admin API, which answers before the run ends; `Monitor.run` waits for
the host's `Executed 'Functions.monitor'` line and hands back what the host logged meanwhile.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableClient

from localcloud.seed import GuideNetwork
from localcloud.stack import APP_CLIENT_ID, REDIS_PASSWORD_SETTING
from tests.e2e.world import World

# An app setting of the e2e stack holding a password Redis refuses (see conftest).
WRONG_PASSWORD_SETTING = "WRONG_REDIS_PASSWORD"
_EXECUTED = re.compile(r"Executed 'Functions\.monitor' \((Succeeded|Failed), ")
_SUMMARY = re.compile(r"monitor: (\d+) links checked, (\d+) skipped, (\d+) errored")
# The runs `World.wait_for` starts (a few links each) end within a second: this long without one means none is left.
_QUIET_SECONDS = 1.5


@dataclass
class MonitorRun:
    outcomes: list[str]
    log: str

    @property
    def summaries(self) -> list[tuple[int, int, int]]:
        """(checked, skipped, errored) per run, as the monitor logs them."""
        return [(int(c), int(s), int(e)) for c, s, e in _SUMMARY.findall(self.log)]


class Monitor:
    """Runs the monitor now and waits for it, reading the host's log (the admin API answers before the run ends)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.log_file: Path = world.stack.log_dir / "functions-host.log"

    def offset(self) -> int:
        return self.log_file.stat().st_size

    def log_since(self, offset: int) -> str:
        with self.log_file.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")

    def settle(self) -> None:
        """Wait until runs started earlier (`World.wait_for` starts them without waiting) have finished."""
        offset = self.offset()
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < _QUIET_SECONDS:
            time.sleep(0.25)
            if _EXECUTED.search(self.log_since(offset)):
                offset, quiet_since = self.offset(), time.monotonic()

    def run(self, times: int = 1, timeout: float = 60, settle: bool = True) -> MonitorRun:
        """Start `times` runs at once and wait for all of them (after those in flight, unless just `settle`d)."""
        if settle:
            self.settle()
        offset = self.offset()
        for _ in range(times):
            self.world.run_monitor()
        deadline = time.monotonic() + timeout
        while len(_EXECUTED.findall(text := self.log_since(offset))) < times:
            assert time.monotonic() < deadline, "the monitor did not finish"
            time.sleep(0.1)
        return MonitorRun(outcomes=_EXECUTED.findall(text), log=text)


@pytest.fixture(scope="module")
def monitor(world: World) -> Monitor:
    return Monitor(world)


# The app's Platform API budget in its state store (shared.store: table <prefix>Budget, the default prefix).
BUDGET_TABLE = "emqxplBudget"
BUDGET_ROW = "spends"


def budget_key(world: World) -> str:
    return f"emqx-platform:{world.emqx['platformApiKey']}"


def set_platform_budget_spent(world: World, spent: int) -> None:
    """Make the app's Platform API budget hold `spent` calls made just now (60 per hour are allowed)."""
    with TableClient.from_connection_string(world.endpoints["storage"]["connectionString"], BUDGET_TABLE) as table:
        table.upsert_entity(
            {"PartitionKey": budget_key(world), "RowKey": BUDGET_ROW, "Spends": json.dumps([time.time()] * spent)}
        )


def platform_budget_spent(world: World) -> int:
    with TableClient.from_connection_string(world.endpoints["storage"]["connectionString"], BUDGET_TABLE) as table:
        spends = json.loads(table.get_entity(budget_key(world), BUDGET_ROW)["Spends"])
    return len([moment for moment in spends if moment > time.time() - 3600])


@pytest.fixture(autouse=True)
def fresh_rate_budgets(world: World) -> None:
    """EMQX's and the app's hourly budgets unspent, whatever the session's earlier tests spent."""
    world.hour_passes()


def running_link(world: World, name: str) -> dict[str, Any]:
    """`World.running_link`, its VM kept mapped to the real Redis after other tests seed theirs.

    Every seeded network names its VM `demo-redis` and ARM keeps one VM per name, so the next seed would take the
    data path away from this link's backend NIC; a VM of its own keeps it.
    """
    network, link = world.running_link(name)
    keep_vm(world, network)
    return link


def keep_vm(world: World, network: GuideNetwork) -> None:
    redis = world.endpoints["redis"]
    answer = world.cloud.put(
        f"{world.arm_url}/localcloud/vms/redis-{network.resource_group}",
        json={"nicId": network.nic_id, "ports": {"6379": f"{redis['host']}:{redis['port']}"}},
    )
    answer.raise_for_status()


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


def _put_spec(world: World, name: str, **emqx: Any) -> dict[str, Any]:
    spec = world.get_link(name)["spec"]
    spec["emqx"].update(emqx)
    answer = world.put_link(name, spec)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _emqx_control(world: World) -> str:
    return str(world.emqx["consoleUrl"]).removesuffix("/console/privatelinks")


def emqx_calls(world: World) -> list[dict[str, Any]]:
    answer = world.cloud.get(f"{_emqx_control(world)}/calls")
    answer.raise_for_status()
    return list(answer.json()["calls"])


def reset_emqx_calls(world: World) -> None:
    world.cloud.delete(f"{_emqx_control(world)}/calls").raise_for_status()


def platform_calls(world: World) -> list[dict[str, Any]]:
    return [c for c in emqx_calls(world) if "/public_api/" in c["path"]]


def inject_emqx_fault(world: World, **fault: Any) -> None:
    world.cloud.post(f"{_emqx_control(world)}/faults", json=fault).raise_for_status()


def clear_emqx_faults(world: World) -> None:
    world.cloud.delete(f"{_emqx_control(world)}/faults").raise_for_status()


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
    deadline = time.monotonic() + 30
    while (record := _console_record(world, emqx_id))["status"] != "failed":
        assert time.monotonic() < deadline, f"EMQX never noticed: {record}"
        time.sleep(0.2)

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
    world.inject_fault(method="GET", path=f"(?i){re.escape(_pls_id(broken))}$", kind="status", status=403, count=1)
    run = monitor.run(settle=False)

    assert run.outcomes == ["Failed"]
    assert run.summaries[0][2] >= 1
    assert f" WARNING emqx_privatelink: link {broken['name']}: monitor failed: Azure refused to" in run.log
    assert re.search(rf"MonitorRunFailedError: \d+ link\(s\) errored: .*\b{broken['name']}\b", run.log)
    after = world.get_link(healthy["name"])
    assert after["status"]["updatedAt"] > before
    assert after["status"]["phase"] == "running" and after["status"]["health"] == "healthy"
    reads = [c["path"].lower() for c in world.calls() if c["kind"] == "read" and c["identity"] == APP_CLIENT_ID]
    assert _pls_id(healthy).lower() in reads

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
