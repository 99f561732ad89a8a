"""A Functions host killed in the middle of a PUT, a new host started in its place, and the link taken from there
to running and removed by ordinary calls and monitor runs.

The dead run's lease on the link outlives it by the run budget plus LEASE_MARGIN_SECONDS (`shared.reconcile.leased`;
the suite's stacks set a few seconds), on the wall clock. The scenario runs on its own stack and its own thread,
started with the session, and its test collects the outcome at the end.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from localcloud.stack import Stack
from tests.reliability.client import (
    check_answer,
    drive,
    provisioned,
    registered,
    remove,
    running,
    settle,
)
from tests.reliability.invariants import (
    assert_approved_once,
    assert_nothing_left,
    assert_one_of_each,
    assert_record_intact,
)
from tests.reliability.secret_watch import SecretWatch
from tests.reliability.stacks import stack_options, watched_world
from tests.reliability.world import LinkPaths, ReliableWorld

NAME = "crash"
# The host dies while ARM takes this long to answer its NIC PUT.
SLOW_NIC_SECONDS = 3.0
# How long the whole scenario may take: a stack's start, the dead run's lease (budget + margin), the rest.
SCENARIO_SECONDS = 180.0


def kill_and_restart_host(stack: Stack) -> None:
    """SIGKILL the Functions host's process group (nothing of the app gets to clean up), then start a new host."""
    stack.kill_host()
    stack.restart_host()


class CrashRecovery:
    def __init__(self, workdir: Path, watch: SecretWatch) -> None:
        self.workdir = workdir
        self.watch = watch
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="crash-recovery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join(timeout=SCENARIO_SECONDS)
        assert not self._thread.is_alive(), "the crash scenario did not finish"

    def outcome(self) -> None:
        """Wait for the scenario to end and raise what went wrong in it."""
        self.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            with Stack(stack_options(self.workdir)) as stack:
                self._live_through_a_crash(stack)
        except BaseException as error:  # handed to the test by outcome()
            self.error = error

    def _live_through_a_crash(self, stack: Stack) -> None:
        with ExitStack() as worlds:
            before = worlds.enter_context(watched_world(stack, self.watch, collect=False))
            network = before.network()
            paths = LinkPaths.of(network, NAME)
            body = before.link_body(network)
            # Killed between steps: the load balancer is written, the NIC PUT after it is still unanswered.
            slow_nic = before.arm_fault("PUT", paths.exactly(paths.nic), "slow", 1, delaySeconds=SLOW_NIC_SECONDS)
            with ThreadPoolExecutor(max_workers=1) as pool:
                putting = pool.submit(_put_that_dies, before, body)
                deadline = time.monotonic() + 30
                while before.fired()[("arm", slow_nic)] == 0:
                    assert time.monotonic() < deadline and not putting.done(), "the PUT never reached the NIC"
                    time.sleep(0.02)
                kill_and_restart_host(stack)
                putting.result()

            after = worlds.enter_context(watched_world(stack, self.watch))
            assert_record_intact(after, NAME, body, generation=1)
            assert after.arm_get(paths.load_balancer) is not None
            # The dead run still holds the link: a new PUT is accepted and left to later runs.
            check_answer(after.put_link(NAME, body), (202,))
            lease = next(e for e in after.entities("Leases") if e["PartitionKey"] == NAME)
            time.sleep(max(0.0, lease["Until"] - time.time()))

            settle(after, NAME, provisioned)
            assert_one_of_each(after, paths, NAME)
            assert_record_intact(after, NAME, body, generation=1)
            lb_writes = [
                c for c in after.calls() if c["kind"] == "write" and c["path"].lower() == paths.load_balancer.lower()
            ]
            assert len(lb_writes) == 1, lb_writes  # the dead run's, adopted by the next run rather than made again

            drive(after, NAME, lambda: after.register(NAME), done=(200,), accepted_until=registered)
            link = settle(after, NAME, running)
            assert link is not None
            assert_one_of_each(after, paths, NAME)
            assert_approved_once(after, NAME)
            remove(after, NAME)
            assert_nothing_left(after, paths, NAME, link["status"]["plsAlias"])


def _put_that_dies(world: ReliableWorld, body: dict[str, Any]) -> None:
    try:
        answer = world.put_link(NAME, body)
    except httpx.TransportError:
        return
    raise AssertionError(f"the PUT was answered ({answer.status_code}): the host did not die in the middle of it")
