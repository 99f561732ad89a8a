"""Every step of a link's life, under every kind of fault Azure or EMQX can answer with.

One link per kind of fault goes through its whole life. Before each part of it (provision, register and approve,
monitor, remove) a fault is armed on every step of that part: each call then fails at the next armed step, after
the writes of the steps before it, and the next call has to pick up from there. A fault on ARM fires once more
than the SDK client retries (so the app, not the client, sees it); a slow answer outlasts the run's budget, as a
timeout would; an operation that ends Failed or Canceled hits ARM's writes and deletes, once each. After each
part: every fault fired, and the link converged to one consistent state.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from tests.reliability.client import (
    drive,
    provisioned,
    registered,
    remove,
    running,
    settle,
)
from tests.reliability.invariants import (
    approvals,
    assert_approved_once,
    assert_nothing_left,
    assert_one_of_each,
    assert_record_intact,
)
from tests.reliability.stacks import BUDGET_SECONDS
from tests.reliability.world import LinkPaths, ReliableWorld

# The app's ARM client retries three times (retry_total=3): a fault must answer four times to reach the app.
ARM_ATTEMPTS = 4

KINDS: dict[str, dict[str, Any]] = {
    "status-500": {"kind": "status", "status": 500},
    "throttle-429": {"kind": "throttle", "retryAfter": 0.25},
    # Past the run's budget: the app gives up waiting while Azure or EMQX carries on.
    "slow": {"kind": "slow", "delaySeconds": BUDGET_SECONDS + 1},
    "drop": {"kind": "drop"},
    # The operation a write starts ends Failed with RetryableError, leaving the resource Failed until it is PUT
    # again (hashicorp/terraform-provider-azurerm#70); or ends Canceled, superseded by another write of it
    # (CanceledAndSupersededDueToAnotherOperation: radius-project/radius, Azure/azure-cli#21156).
    "lro-retryable": {"kind": "lro-failed", "code": "RetryableError"},
    "lro-canceled": {"kind": "lro-failed", "code": "Canceled"},
}


@dataclass(frozen=True)
class Step:
    part: str
    name: str
    cloud: str  # "arm" or "emqx"
    method: str
    target: str  # what the path names: "subnet", "LB", "NIC", "PLS", "PLS list", "connection", "privatelinks" (EMQX)

    def path(self, world: ReliableWorld, paths: LinkPaths) -> str:
        if self.target == "privatelinks":
            return f"^{world.privatelinks_path}$"
        if self.target == "connection":
            return paths.connections()
        if self.target == "PLS list":
            return paths.private_link_services()
        resource = {
            "subnet": paths.subnet,
            "LB": paths.load_balancer,
            "NIC": paths.nic,
            "PLS": paths.private_link_service,
        }
        return LinkPaths.exactly(resource[self.target])


STEPS = [
    Step("provision", "subnet PUT", "arm", "PUT", "subnet"),
    Step("provision", "LB PUT", "arm", "PUT", "LB"),
    Step("provision", "NIC PUT", "arm", "PUT", "NIC"),
    Step("provision", "PLS PUT", "arm", "PUT", "PLS"),
    Step("register", "PLS visibility PUT", "arm", "PUT", "PLS"),
    Step("register", "EMQX PrivateLink create", "emqx", "POST", "privatelinks"),
    Step("register", "connection PUT (the approval)", "arm", "PUT", "connection"),
    Step("monitor", "PLS list of the group", "arm", "GET", "PLS list"),
    Step("monitor", "EMQX PrivateLink list", "emqx", "GET", "privatelinks"),
    Step("remove", "connection DELETE", "arm", "DELETE", "connection"),
    Step("remove", "PLS DELETE", "arm", "DELETE", "PLS"),
    Step("remove", "NIC PUT", "arm", "PUT", "NIC"),
    Step("remove", "LB DELETE", "arm", "DELETE", "LB"),
]


class Armed:
    """The faults armed for one part of the life, to prove afterwards that each of them fired."""

    def __init__(self, world: ReliableWorld, paths: LinkPaths, fault: dict[str, Any]) -> None:
        self.world, self.paths, self.fault = world, paths, fault
        self.expected: dict[tuple[str, str], tuple[str, int]] = {}

    def applies(self, step: Step) -> bool:
        """An operation's fault hits ARM's writes and deletes only: a read starts no operation, EMQX has none."""
        return self.fault["kind"] != "lro-failed" or (step.cloud == "arm" and step.method in ("PUT", "DELETE"))

    def arm(self, part: str) -> None:
        for step in (s for s in STEPS if s.part == part and self.applies(s)):
            # The SDK retries no operation that ended Failed or Canceled: one reaches the app.
            once = step.cloud == "emqx" or self.fault["kind"] in ("slow", "lro-failed")
            count = 1 if once else ARM_ATTEMPTS
            inject = self.world.arm_fault if step.cloud == "arm" else self.world.emqx_fault
            fault_id = inject(step.method, step.path(self.world, self.paths), count=count, **self.fault)
            self.expected[(step.cloud, fault_id)] = (step.name, count)

    def unfired(self) -> list[str]:
        fired = self.world.fired()
        return [
            f"{name}: fired {fired[key]} of {count}"
            for key, (name, count) in self.expected.items()
            if fired[key] != count
        ]

    def assert_all_fired(self) -> None:
        assert self.unfired() == []


def foreign_endpoint(world: ReliableWorld, paths: LinkPaths, location: str, subnet_id: str) -> None:
    """A private endpoint from a subscription EMQX does not use: the app leaves it Pending, and removes it last."""
    world.arm_put(
        f"{paths.group}/providers/Microsoft.Network/privateEndpoints/pe-foreign",
        {
            "location": location,
            "properties": {
                "subnet": {"id": subnet_id},
                "manualPrivateLinkServiceConnections": [
                    {"name": "foreign", "properties": {"privateLinkServiceId": paths.private_link_service}}
                ],
            },
        },
    )


def live_through_faults(world: ReliableWorld, kind: str) -> None:
    """One link's whole life with every step of it faulted once (by `kind`), checked after each part."""
    name = f"fm-{kind}"
    network = world.network()
    paths = LinkPaths.of(network, name)
    body = world.link_body(network)
    armed = Armed(world, paths, KINDS[kind])

    armed.arm("provision")
    drive(world, name, lambda: world.put_link(name, body), done=(200, 201), accepted_until=provisioned)
    armed.assert_all_fired()
    assert_one_of_each(world, paths, name)
    assert_record_intact(world, name, body)

    foreign_endpoint(world, paths, network.location, network.subnet_id)
    armed.arm("register")
    drive(world, name, lambda: world.register(name), done=(200,), accepted_until=registered)
    settle(world, name, lambda link: running(link) and not armed.unfired())
    armed.assert_all_fired()
    assert_one_of_each(world, paths, name)
    assert_approved_once(world, name)

    armed.arm("monitor")
    settle(world, name, lambda _link: not armed.unfired())
    link = settle(world, name, running)
    assert link is not None
    assert_one_of_each(world, paths, name)
    assert_record_intact(world, name, body)
    assert_approved_once(world, name)

    armed.arm("remove")
    remove(world, name)
    armed.assert_all_fired()
    assert_nothing_left(world, paths, name, link["status"]["plsAlias"])
    assert set(approvals(world, name).values()) == {1}


@pytest.fixture(scope="module")
def lives(reliable_world: ReliableWorld) -> Iterator[dict[str, BaseException | None]]:
    """Every kind's life, lived at the same time (the faults cost seconds of retries each): how each one ended."""
    world = reliable_world
    world.clear_faults()
    world.clear_emqx_faults()
    with ThreadPoolExecutor(max_workers=len(KINDS)) as pool:
        futures = {kind: pool.submit(live_through_faults, world, kind) for kind in KINDS}
    yield {kind: future.exception() for kind, future in futures.items()}
    world.clear_faults()
    world.clear_emqx_faults()


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_step_converges_after_a_fault(lives: dict[str, BaseException | None], kind: str) -> None:
    outcome = lives[kind]
    if outcome is not None:
        raise outcome
