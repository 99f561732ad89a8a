"""Two callers on one link at the same time: each pair ends in one consistent state.

Per-link leases keep two runs off one link's Azure resources, ETags keep two writers off one record; these tests
make the collisions happen on purpose (a slow answer from ARM or EMQX holds a run in the middle of its work) and
check what is left: one load balancer, one Private Link Service, a record that says what ARM holds, every approval
audited once, and after removal nothing at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from tests.reliability.client import (
    bring_up,
    check_answer,
    provision,
    provisioned,
    remove,
    running,
    settle,
)
from tests.reliability.invariants import (
    approvals,
    assert_approved_once,
    assert_nothing_left,
    assert_one_of_each,
)
from tests.reliability.world import LinkPaths, ReliableWorld
from tests.waiting import eventually

T = TypeVar("T")


def at_once(*calls: Callable[[], T]) -> list[T]:
    """Start every call at the same moment (each on its own thread); their results in order."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def wait_until_fired(
    world: ReliableWorld,
    fault: tuple[str, str],
    timeout: float = 20,
    *,
    monitor: bool = False,
    trigger_every: float | None = None,
) -> None:
    """Until the fault has fired; with `monitor`, running the monitor meanwhile (to make the call it waits for); with
    `trigger_every`, starting a monitor run (without waiting for it) that often."""
    last_trigger = time.monotonic()

    def meanwhile() -> None:
        nonlocal last_trigger
        if monitor:
            world.monitor_once()
        elif trigger_every is not None and time.monotonic() - last_trigger >= trigger_every:
            last_trigger = time.monotonic()
            world.run_monitor()

    eventually(lambda: world.fired()[fault] != 0, f"fault {fault} to fire", timeout, meanwhile=meanwhile, interval=0.02)


def frontend_ports(world: ReliableWorld, paths: LinkPaths) -> list[int]:
    lb = world.arm_get(paths.load_balancer) or {}
    # Inbound NAT rules V2: one frontend port each (a range of one).
    return [rule["properties"]["frontendPortRangeStart"] for rule in lb["properties"]["inboundNatRules"]]


def assert_one_winner(answers: list[httpx.Response]) -> dict[str, Any]:
    """At most one silent success per generation; a loser hears 409 ConcurrentUpdate. The winner's answer body."""
    for answer in answers:
        check_answer(answer, (200, 201, 202, 409))
        if answer.status_code == 409:
            assert answer.json()["error"]["code"] == "ConcurrentUpdate", answer.text
    accepted = [answer.json() for answer in answers if answer.status_code != 409]
    generations = [body["generation"] for body in accepted]
    assert accepted and len(set(generations)) == len(generations), [a.text for a in answers]
    return max(accepted, key=lambda body: body["generation"])


def test_two_puts_of_one_link_at_once_end_in_one_of_them(world: ReliableWorld) -> None:
    name = "two-puts"
    network = world.network()
    paths = LinkPaths.of(network, name)
    first, second = (world.link_body(network, frontendPort=port) for port in (6379, 6380))

    created = at_once(lambda: world.put_link(name, first), lambda: world.put_link(name, second))
    assert [a.status_code for a in created].count(201) == 1, [a.text for a in created]
    winner = assert_one_winner(created)
    link = settle(world, name, provisioned)
    assert link is not None and link["generation"] == winner["generation"]
    assert frontend_ports(world, paths) == [winner["spec"]["azure"]["frontendPort"]]

    third, fourth = (world.link_body(network, frontendPort=port) for port in (6381, 6382))
    winner = assert_one_winner(at_once(lambda: world.put_link(name, third), lambda: world.put_link(name, fourth)))
    link = settle(world, name, provisioned)
    assert link is not None and link["generation"] == winner["generation"]
    assert link["spec"] == winner["spec"]
    assert frontend_ports(world, paths) == [link["spec"]["azure"]["frontendPort"]]
    assert_one_of_each(world, paths, name)
    lb_rules = {
        rule["id"].lower() for rule in (world.arm_get(paths.load_balancer) or {})["properties"]["inboundNatRules"]
    }
    assert {ref.lower() for ref in world.nic_references(paths)} <= lb_rules | backend_pools(world, paths)

    remove(world, name)
    assert_nothing_left(world, paths, name, link["status"].get("plsAlias"))


def backend_pools(world: ReliableWorld, paths: LinkPaths) -> set[str]:
    lb = world.arm_get(paths.load_balancer) or {}
    return {pool["id"].lower() for pool in lb["properties"].get("backendAddressPools", [])}


def test_a_delete_during_a_monitor_run_ends_with_nothing_left(world: ReliableWorld) -> None:
    name = "delete-in-monitor"
    network = world.network()
    paths = LinkPaths.of(network, name)
    link = bring_up(world, name, world.link_body(network))

    # The monitor holds the link while ARM takes its time to list the group's services; the DELETE comes meanwhile.
    slow_read = ("arm", world.arm_fault("GET", paths.private_link_services(), "slow", 1, delaySeconds=1.5))
    runs_before = world.monitor_runs_done()
    world.run_monitor()
    # A run that found the link held (by the approver's run on a late event, say) passes it by: trigger another.
    wait_until_fired(world, slow_read, trigger_every=3.0)
    remove(world, name)

    assert world.monitor_runs_done() > runs_before
    assert_nothing_left(world, paths, name, link["status"]["plsAlias"])
    assert set(approvals(world, name).values()) == {1}


def test_a_delete_during_register_sees_the_registration(world: ReliableWorld) -> None:
    name = "delete-in-register"
    network = world.network()
    paths = LinkPaths.of(network, name)
    provision(world, name, world.link_body(network))
    alias = world.get_link(name)["status"]["plsAlias"]

    # Register holds the link while EMQX takes its time to create the PrivateLink; the DELETE waits behind it.
    slow_create = ("emqx", world.emqx_fault("POST", f"^{world.privatelinks_path}$", "slow", 1, delaySeconds=1.5))
    with ThreadPoolExecutor(max_workers=1) as pool:
        registering = pool.submit(world.register, name)
        wait_until_fired(world, slow_create)
        refused = world.api.delete(f"/links/{name}")
        check_answer(registering.result(), (200, 202))

    # Once register is done EMQX's PrivateLink exists: the DELETE sees it, and EMQX removes it only when running.
    check_answer(refused, (409,))
    assert refused.json()["error"]["code"] == "PrivateLinkNotRunning"
    settle(world, name, running)
    remove(world, name)
    assert_nothing_left(world, paths, name, alias)


def test_a_put_during_register_keeps_the_registration(world: ReliableWorld) -> None:
    name = "put-in-register"
    network = world.network()
    paths = LinkPaths.of(network, name)
    provision(world, name, world.link_body(network))
    alias = world.get_link(name)["status"]["plsAlias"]

    # A new desired state arrives while register waits for EMQX; the PUT waits behind it and must build on it.
    slow_create = ("emqx", world.emqx_fault("POST", f"^{world.privatelinks_path}$", "slow", 1, delaySeconds=1.5))
    changed = world.link_body(network, frontendPort=6380)
    with ThreadPoolExecutor(max_workers=1) as pool:
        registering = pool.submit(world.register, name)
        wait_until_fired(world, slow_create)
        put = world.put_link(name, changed)
        check_answer(registering.result(), (200, 202))
    check_answer(put, (200, 202))

    link = settle(world, name, running)
    assert link is not None and link["generation"] == 2
    assert frontend_ports(world, paths) == [6380]
    assert_one_of_each(world, paths, name)
    assert_approved_once(world, name)
    remove(world, name)
    assert_nothing_left(world, paths, name, alias)


def test_two_overlapping_monitor_runs_approve_once(world: ReliableWorld) -> None:
    names = ["overlap-a", "overlap-b"]
    networks = {name: world.network() for name in names}
    paths = {name: LinkPaths.of(networks[name], name) for name in names}
    # Approvals fail for now, so both links wait with EMQX's connection Pending when the two runs start.
    blocked = [
        ("arm", world.arm_fault("PUT", paths[name].connections(), "throttle", 1000, retryAfter=0.01)) for name in names
    ]
    for name in names:
        provision(world, name, world.link_body(networks[name]))
        check_answer(world.register(name), (200, 503))
    for fault in blocked:
        wait_until_fired(world, fault, monitor=True)
    world.clear_faults()

    # Each run holds a link while ARM answers slowly, so the two runs are at work at the same time.
    slow_reads = [
        (
            "arm",
            world.arm_fault("GET", paths[name].exactly(paths[name].private_link_service), "slow", 2, delaySeconds=1),
        )
        for name in names
    ]
    # An Event Grid delivery may hold a link when both runs come by, so they skip it: the pair runs again then.
    for _pair in range(3):
        runs_before = world.monitor_runs_done()
        at_once(world.run_monitor, world.run_monitor)
        eventually(
            lambda done=runs_before + 2: world.monitor_runs_done() >= done,
            "the two monitor runs to finish",
            30,
            interval=0.05,
        )
        fired = world.fired()
        if all(fired[fault] >= 1 for fault in slow_reads):
            break
    assert all(fired[fault] >= 1 for fault in slow_reads), fired

    for name in names:
        settle(world, name, running)
        assert_one_of_each(world, paths[name], name)
        assert_approved_once(world, name)
        remove(world, name)
