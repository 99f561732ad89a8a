"""Four races of the life cycle, each driven over the wire with localcloud's faults (and, for the last, a killed
Functions host), each of which once ended badly:

1. the monitor judged a registration it had just finished against EMQX's PrivateLinks listed before the create,
   and marked a healthy link failed;
2. a removal started while EMQX's PrivateLink was still pending stayed `deleting` for ever: EMQX deletes only a
   settled PrivateLink, and nothing approved the connection it was waiting for;
3. a register call answered 202 while it was still provisioning was forgotten: the link stayed `provisioned`;
4. an EMQX PrivateLink created by a run whose host died before it could record it was left behind by removal;
5. a host killed during a DELETE left a `running` record whose EMQX PrivateLink was gone, and the next monitor
   run marked the link failed (found by the randomized test, `test_randomized.py`).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from localcloud.stack import Stack
from tests.reliability.client import (
    bring_up,
    check_answer,
    drive,
    provision,
    registered,
    remove,
    running,
    settle,
)
from tests.reliability.invariants import assert_nothing_left, assert_one_of_each
from tests.reliability.secret_watch import SecretWatch
from tests.reliability.stacks import BUDGET_SECONDS, stack_options, watched_world
from tests.reliability.world import LinkPaths, ReliableWorld
from tests.waiting import eventually

# The app's ARM client retries three times: a status fault must answer four times to reach the app.
ARM_ATTEMPTS = 4


def failed_steps(link: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for step in link["status"]["history"] if step["step"].endswith("-> failed")]


def test_the_monitor_never_fails_a_registration_it_just_finished(world: ReliableWorld) -> None:
    # A running link of the same deployment makes the monitor list EMQX's PrivateLinks early in its run.
    running_network = world.network()
    provision(world, "race-settled", world.link_body(running_network))
    drive(world, "race-settled", lambda: world.register("race-settled"), done=(200,), accepted_until=registered)
    settle(world, "race-settled", running)

    network = world.network()
    paths = LinkPaths.of(network, "race-fresh")
    provision(world, "race-fresh", world.link_body(network))
    # The register call runs out of budget on the PLS visibility PUT: the registration is left to the monitor.
    world.arm_fault("PUT", paths.exactly(paths.private_link_service), "slow", 1, delaySeconds=BUDGET_SECONDS + 1)
    world.hour_passes()
    check_answer(world.register("race-fresh"), (202,))
    assert world.get_link("race-fresh")["status"]["phase"] == "registering"
    # The monitor's create of the PrivateLink lands after its list of them.
    world.emqx_fault("POST", f"^{world.privatelinks_path}$", "slow", 1, delaySeconds=1.0)
    # A monitor run may find the link held by another run (an Event Grid delivery, say) and leave it to the next.
    for _ in range(10):
        world.hour_passes()
        world.monitor_once()
        link = world.get_link("race-fresh")
        assert link["status"]["phase"] != "failed", link["status"]
        if link["status"]["emqx"].get("id"):
            break
    assert link["status"]["emqx"].get("id"), link["status"]
    assert failed_steps(link) == []
    link = settle(world, "race-fresh", running)
    assert link is not None and failed_steps(link) == []
    for name in ("race-fresh", "race-settled"):
        remove(world, name)


def test_a_removal_waiting_for_a_pending_privatelink_finishes(world: ReliableWorld) -> None:
    network = world.network()
    paths = LinkPaths.of(network, "race-pending")
    provision(world, "race-pending", world.link_body(network))
    # No approval while the register call runs (its budget leaves no time to wait for the connection, and every
    # approval would fail): EMQX's PrivateLink stays pending; the monitor, which would approve, does not run.
    world.arm_fault("PUT", paths.connections(), "status", 1000, status=500)
    world.hour_passes()
    check_answer(world.register("race-pending"), (200, 202, 502, 503))
    world.clear_faults()
    alias = world.get_link("race-pending")["status"]["plsAlias"]
    theirs = [pl for pl in world.emqx_privatelinks() if pl["privateLinkServiceId"].lower() == alias.lower()]
    assert [pl["status"] for pl in theirs] == ["pending"], theirs

    # Forced past the pre-check (EMQX's PrivateLink is not running): the teardown has to get EMQX to let go.
    answer = world.api.delete("/links/race-pending", params={"force": "true"})
    check_answer(answer, (202,))
    assert answer.json()["status"]["phase"] == "deleting"
    settle(world, "race-pending", lambda link: link is None, timeout=60)
    assert_nothing_left(world, paths, "race-pending", alias)
    # Approved once: by the teardown itself, saying why, unless a late Event Grid delivery of the failed approval
    # got there before the DELETE did.
    decisions = [a for a in world.audits("race-pending") if a["action"] == "decide connection"]
    approved = [a for a in decisions if a["decision"] == "approve"]
    assert len(approved) == 1, decisions
    if not approved[0]["actor"].startswith("event"):
        assert "being deleted" in approved[0]["reason"], decisions
    assert {a["decision"] for a in decisions} <= {"approve", "leave"}, decisions


def test_a_register_answered_while_still_provisioning_is_finished_by_the_monitor(world: ReliableWorld) -> None:
    network = world.network()
    paths = LinkPaths.of(network, "race-early")
    # The PUT runs out of budget at the NIC, before the PLS; the register call right after it, at the PLS.
    world.arm_fault("PUT", paths.exactly(paths.nic), "slow", 1, delaySeconds=BUDGET_SECONDS + 1)
    check_answer(world.put_link("race-early", world.link_body(network)), (202,))
    assert world.arm_get(paths.private_link_service) is None
    world.arm_fault("PUT", paths.exactly(paths.private_link_service), "slow", 1, delaySeconds=BUDGET_SECONDS + 1)
    world.hour_passes()
    check_answer(world.register("race-early"), (202,))
    assert world.get_link("race-early")["status"]["phase"] == "provisioning"

    # No other call of the API: the monitor alone takes the link through its registration.
    link = settle(world, "race-early", running, timeout=60)
    assert link is not None
    assert_one_of_each(world, paths, "race-early")
    remove(world, "race-early")


def test_removal_finds_a_privatelink_whose_creator_died_before_recording_it(
    tmp_path: Path, secret_watch: SecretWatch
) -> None:
    with Stack(stack_options(tmp_path)) as stack:
        with watched_world(stack, secret_watch, collect=False) as before:
            network = before.network()
            paths = LinkPaths.of(network, "race-orphan")
            provision(before, "race-orphan", before.link_body(network))
            alias = before.get_link("race-orphan")["status"]["plsAlias"]
            # EMQX creates the PrivateLink at once but its answer is late: the host dies before it hears of it.
            before.emqx_fault("POST", f"^{before.privatelinks_path}$", "late", 1, delaySeconds=5)
            with ThreadPoolExecutor(max_workers=1) as pool:
                registering = pool.submit(_register_that_dies, before)

                def created() -> bool:
                    if [pl for pl in before.emqx_privatelinks() if pl["privateLinkServiceId"] == alias]:
                        return True
                    assert not registering.done(), "EMQX never got the create"
                    return False

                eventually(created, "EMQX to get the create", 30, interval=0.02)
                stack.kill_host()
                stack.restart_host()
                registering.result()

        with watched_world(stack, secret_watch) as after:
            after.dead_leases_expire()
            recorded = after.get_link("race-orphan")["status"]["emqx"]
            assert "id" not in recorded, f"the host died too late: the PrivateLink was recorded ({recorded})"
            remove(after, "race-orphan")
            assert_nothing_left(after, paths, "race-orphan", alias)


def _register_that_dies(world: ReliableWorld) -> None:
    try:
        answer = world.api.post("/links/race-orphan/register")
    except httpx.TransportError:
        return
    pytest.fail(f"the register call was answered ({answer.status_code}): the host did not die in the middle of it")


def test_a_delete_whose_host_dies_after_emqx_let_go_carries_on(tmp_path: Path, secret_watch: SecretWatch) -> None:
    with Stack(stack_options(tmp_path)) as stack:
        with watched_world(stack, secret_watch, collect=False) as before:
            network = before.network()
            paths = LinkPaths.of(network, "race-dying-delete")
            alias = bring_up(before, "race-dying-delete", before.link_body(network))["status"]["plsAlias"]
            # EMQX deletes its PrivateLink slowly: the host dies while the DELETE waits for it.
            slow = before.emqx_fault("DELETE", f"^{before.privatelinks_path}/[^/]+$", "slow", 1, delaySeconds=3)
            with ThreadPoolExecutor(max_workers=1) as pool:
                deleting = pool.submit(_call_that_dies, lambda: before.api.delete("/links/race-dying-delete"))

                def reached() -> bool:
                    if before.fired()[("emqx", slow)] != 0:
                        return True
                    assert not deleting.done(), "the DELETE never reached EMQX"
                    return False

                eventually(reached, "the DELETE to reach EMQX", 30, interval=0.02)
                stack.kill_host()
                deleting.result()
            time.sleep(3.5)  # EMQX finishes the delete the dead host asked for
            before.dead_leases_expire()
            stack.restart_host()

        with watched_world(stack, secret_watch) as after:
            after.monitor_once()  # carries the recorded teardown on, maybe to its end
            answer = after.api.get("/links/race-dying-delete")
            if answer.status_code == 200:
                link = answer.json()
                assert link["status"]["phase"] == "deleting", link["status"]
                assert failed_steps(link) == []
            else:
                assert answer.status_code == 404, answer.text
            assert "-> failed" not in after.host_log.read_text(errors="replace")
            remove(after, "race-dying-delete")
            assert_nothing_left(after, paths, "race-dying-delete", alias)


def _call_that_dies(call: Any) -> None:
    try:
        answer = call()
    except httpx.TransportError:
        return
    pytest.fail(f"the call was answered ({answer.status_code}): the host did not die in the middle of it")
