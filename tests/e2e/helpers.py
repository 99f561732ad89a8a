"""What several end-to-end test modules share on top of `World`: the monitor run to its end and its log, a running
link kept on the real Redis, EMQX's control API (calls, faults), EMQX's PrivateLinks as the Platform API lists
them, the app's audit decisions and its Platform API budget, both through the app's store API.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcloud.seed import GuideNetwork
from shared.model import AuditRecord
from shared.store import Store
from tests.e2e.world import World
from tests.waiting import eventually

_EXECUTED = re.compile(r"Executed 'Functions\.monitor' \((Succeeded|Failed), ")
_SUMMARY = re.compile(r"monitor: (\d+) links checked, (\d+) skipped, (\d+) errored")
# The runs `World.wait_for` starts (a few links each) end within a second: this long without one means none is left.
_QUIET_SECONDS = 1.5
# The window of the app's Platform API budget (shared.services: 60 calls per 3600 s).
PLATFORM_BUDGET_WINDOW_SECONDS = 3600


# -- the monitor, run to its end -----------------------------------------------------------------------------


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
        text = eventually(
            lambda: self.log_since(offset),
            lambda _log: "the monitor to finish",
            timeout,
            accept=lambda log: len(_EXECUTED.findall(log)) >= times,
        )
        return MonitorRun(outcomes=_EXECUTED.findall(text), log=text)


# -- a running link on the real Redis ------------------------------------------------------------------------


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


# -- EMQX's control API: its calls and faults ----------------------------------------------------------------


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


# -- EMQX's PrivateLinks, as the Platform API lists them -----------------------------------------------------


def platform_auth(world: World) -> tuple[str, str]:
    return world.emqx["platformApiKey"], world.emqx["platformApiSecret"]


def privatelinks_for(world: World, alias: str) -> list[dict[str, Any]]:
    answer = world.emqx_call(
        "GET",
        f"{world.emqx['platformApiUrl']}/deployments/{world.emqx['deploymentId']}/privatelinks",
        auth=platform_auth(world),
    )
    assert answer.status_code == 200, answer.text
    return [r for r in answer.json() if r["privateLinkServiceId"].lower() == alias.lower()]


# -- the app's records, through its store API ---------------------------------------------------------------


def audit_of(world: World, link: str) -> list[AuditRecord]:
    return world.with_store(lambda store: store.list_audit(link))


def decisions(world: World, link: str, connection: str) -> list[AuditRecord]:
    return [r for r in audit_of(world, link) if r.action == "decide connection" and r.subject == connection]


def set_platform_budget_spent(world: World, spent: int) -> None:
    """Make the app's Platform API budget hold `spent` calls made just now (60 per hour are allowed)."""

    async def spend(store: Store) -> list[bool]:
        await store.clear_budget(world.platform_budget_key)
        now = datetime.now(UTC)
        return [
            await store.try_spend(world.platform_budget_key, spent, PLATFORM_BUDGET_WINDOW_SECONDS, now)
            for _ in range(spent)
        ]

    assert world.with_store(spend) == [True] * spent


def platform_budget_spent(world: World) -> int:
    """How many Platform API calls the app's budget counts in the last hour."""
    return world.with_store(
        lambda store: store.spends_in_window(
            world.platform_budget_key, PLATFORM_BUDGET_WINDOW_SECONDS, datetime.now(UTC)
        )
    )
