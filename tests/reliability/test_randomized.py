"""Three links living their lives at once while faults on ARM and EMQX and kills of the Functions host come at
random moments; afterwards every link reaches the end it was meant to, and nothing is failed, left or doubled.

One seed decides everything: each link's life (PUT, register, sometimes a re-PUT of its frontend port, for some
a DELETE at the end, with pauses and waits in between) and the chaos (which fault, on which link's ARM or EMQX
path, how often, when; when the host dies). Each seed runs on its own stack. What happens between the threads
is up to the machine; a failure names the seed, the plan and the chaos as it happened, so it can be replayed.

After the chaos every fault is cleared and the links are carried to their ends by monitor runs (the timer is off)
within `CONVERGE_SECONDS`. What must hold:
- no link is ever `failed`: not in any view of it the app gave, nor in its history, nor in the host's log;
- every link reaches its end (running with a passing Redis test at its last desired state, or gone);
- a deleted link leaves nothing in ARM or EMQX, and no EMQX PrivateLink is left for an alias no live link has;
- a live link has one load balancer, one Private Link Service, at most one EMQX PrivateLink, its record as PUT,
  and its approval audited once.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from localcloud.stack import Stack
from tests.reliability.client import Check, check_answer, gone, provisioned, registered, running
from tests.reliability.invariants import (
    assert_approved_once,
    assert_nothing_left,
    assert_one_of_each,
    assert_record_intact,
)
from tests.reliability.live_host import LiveHost
from tests.reliability.secret_watch import SecretWatch
from tests.reliability.stacks import BUDGET_SECONDS, stack_options
from tests.reliability.world import LinkPaths, ReliableWorld
from tests.waiting import eventually

# Other seeds to explore with: RANDOMIZED_SEEDS=1,2,3 (a failure's seed is replayed with `-k seed-<n>`).
SEEDS = tuple(int(seed) for seed in os.environ.get("RANDOMIZED_SEEDS", "").split(",") if seed) or (7, 1337, 20240611)
LINKS = ("rnd-a", "rnd-b", "rnd-c")
# The chaos acts within this many seconds of the lives' start; the lives take about as long.
CHAOS_SECONDS = 12.0
# Bounds: a life's calls under the chaos, and every link reaching its end once the chaos is over.
LIFE_SECONDS = 60.0
CONVERGE_SECONDS = 90.0

# A slow answer outlasts the run's budget, as a timeout would; a dead host's request is served by then at the latest.
SLOW_SECONDS = BUDGET_SECONDS + 1
IN_FLIGHT_SECONDS = SLOW_SECONDS + 1.5
KINDS: dict[str, dict[str, Any]] = {
    "status-500": {"kind": "status", "status": 500},
    "throttle-429": {"kind": "throttle"},  # Retry-After by cloud below
    "slow": {"kind": "slow", "delaySeconds": SLOW_SECONDS},
    "drop": {"kind": "drop"},
}
# ARM's SDK client honours a fraction of a second; the app reads EMQX's Retry-After in whole seconds.
RETRY_AFTER = {"arm": 0.25, "emqx": 1}
# What the app calls, by cloud and path: the methods a fault may be armed for.
ARM_TARGETS = {
    "subnet": ("GET", "PUT"),
    "LB": ("GET", "PUT", "DELETE"),
    "NIC": ("GET", "PUT"),
    "PLS": ("GET", "PUT", "DELETE"),
    "connection": ("PUT", "DELETE"),
}
EMQX_TARGETS = {"privatelinks": ("GET", "POST"), "privatelink": ("DELETE",)}
# A frontend port is changed in place: the NAT rule moves, the Private Link Service stays (no replacing field).
OTHER_PORTS = (6380, 6381, 6390)
FAILED_STEP = re.compile(r"^phase \S+ -> failed$")


# -- the plan a seed makes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Life:
    name: str
    reput_port: int | None  # a re-PUT with this frontend port after the register, or none
    delete: bool  # a DELETE at the end; else the link must end running
    waits: tuple[bool, bool]  # whether the life waits for the link to run before its re-PUT, its DELETE
    pauses: tuple[float, float, float, float]  # seconds before each of its calls

    def describe(self) -> str:
        steps = [f"pause {self.pauses[0]:.2f}s", "PUT", f"pause {self.pauses[1]:.2f}s", "register"]
        if self.reput_port is not None:
            steps += [*self._wait(0), f"pause {self.pauses[2]:.2f}s", f"PUT port {self.reput_port}"]
        if self.delete:
            steps += [*self._wait(1), f"pause {self.pauses[3]:.2f}s", "DELETE"]
        return f"{self.name}: " + ", ".join(steps)

    def _wait(self, step: int) -> list[str]:
        return ["wait until running"] if self.waits[step] else []


@dataclass(frozen=True)
class Fault:
    link: str
    cloud: str  # "arm" or "emqx"
    target: str
    method: str
    kind: str
    count: int

    def describe(self) -> str:
        # EMQX's paths are the deployment's, which every link shares.
        whose = f" of {self.link}" if self.cloud == "arm" else ""
        return f"{self.cloud} {self.method} {self.target}{whose}: {self.kind} x{self.count}"


@dataclass(frozen=True)
class Action:
    at: float  # seconds after the lives start
    fault: Fault | None  # None: kill the Functions host and start a new one

    def describe(self) -> str:
        return f"at {self.at:5.2f}s " + (self.fault.describe() if self.fault else "kill the Functions host")


def plan(seed: int) -> tuple[list[Life], list[Action]]:
    rng = random.Random(seed)
    deleted = set(rng.sample(LINKS, rng.randint(1, len(LINKS) - 1)))
    lives = [
        Life(
            name=name,
            reput_port=rng.choice(OTHER_PORTS) if rng.random() < 0.6 else None,
            delete=name in deleted,
            waits=(rng.random() < 0.5, rng.random() < 0.5),
            pauses=(rng.uniform(0, 1.5), rng.uniform(0, 3), rng.uniform(0, 3), rng.uniform(0, 3)),
        )
        for name in LINKS
    ]
    actions = []
    for _ in range(rng.randint(12, 18)):
        cloud = rng.choices(("arm", "emqx"), weights=(3, 1))[0]
        targets = ARM_TARGETS if cloud == "arm" else EMQX_TARGETS
        target = rng.choice(sorted(targets))
        method = rng.choice(targets[target])
        # Only a link that is deleted is ever sent a DELETE.
        fault = Fault(
            link=rng.choice(sorted(deleted) if method == "DELETE" else LINKS),
            cloud=cloud,
            target=target,
            method=method,
            kind=rng.choice(sorted(KINDS)),
            count=rng.randint(1, 4),
        )
        actions.append(Action(rng.uniform(0, CHAOS_SECONDS), fault))
    actions += [Action(rng.uniform(1, CHAOS_SECONDS), None) for _ in range(rng.randint(1, 2))]
    return lives, sorted(actions, key=lambda action: action.at)


# -- the run ------------------------------------------------------------------------------------------------


class Stopped(Exception):
    """Another thread of the run failed: this one stops too."""


@dataclass
class Record:
    """What happened, for the checks and for a replay."""

    seed: int
    lives: list[Life]
    actions: list[Action]
    chaos: list[str] = field(default_factory=list)
    calls: dict[str, list[str]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, line: str) -> None:
        with self.lock:
            self.chaos.append(f"{time.monotonic() - self.started:6.2f}s {line}")

    def call(self, name: str, line: str) -> None:
        with self.lock:
            self.calls.setdefault(name, []).append(f"{time.monotonic() - self.started:.2f}s {line}")

    def replay(self) -> str:
        lines = [f"seed {self.seed} (pytest -k seed-{self.seed}); the plan:"]
        lines += [f"  {life.describe()}" for life in self.lives]
        lines += [f"  {action.describe()}" for action in self.actions]
        lines += ["the chaos as it happened:", *(f"  {line}" for line in self.chaos)]
        for name, calls in sorted(self.calls.items()):
            lines += [f"{name}'s calls:", *(f"  {call}" for call in calls)]
        return "\n".join(lines)


class Scenario:
    def __init__(self, seed: int, host: LiveHost) -> None:
        lives, actions = plan(seed)
        self.record = Record(seed, lives, actions)
        self.host = host
        self.control = host.world  # ARM's and EMQX's control APIs: the same whatever host runs
        self.lives = {life.name: life for life in lives}
        self.networks = {name: self.control.network() for name in LINKS}
        self.paths = {name: LinkPaths.of(self.networks[name], name) for name in LINKS}
        self.bodies = {
            name: self.control.link_body(
                self.networks[name], **({"frontendPort": life.reput_port} if life.reput_port else {})
            )
            for name, life in self.lives.items()
        }
        self.aliases: dict[str, str] = {}
        self.stop = threading.Event()
        self.errors: dict[str, BaseException] = {}
        self.fault_ids: list[tuple[tuple[str, str], str]] = []
        self.kills = 0

    # -- the lives ----------------------------------------------------------------------------------

    def live(self, life: Life) -> None:
        name = life.name
        first = self.control.link_body(self.networks[name])
        self.pause(life.pauses[0])
        self.send(name, "PUT", lambda w: w.put_link(name, first), (200, 201), provisioned)
        self.pause(life.pauses[1])
        self.send(name, "register", lambda w: w.register(name), (200,), registered, not_yet=("AliasNotReady",))
        if life.reput_port is not None:
            self.wait_until_running(name, life.waits[0])
            self.pause(life.pauses[2])
            self.send(name, "re-PUT", lambda w: w.put_link(name, self.bodies[name]), (200,), provisioned)
        if life.delete:
            self.wait_until_running(name, life.waits[1])
            link = self.wait_until(name, lambda link: link is not None and bool(link["status"].get("plsAlias")))
            assert link is not None
            self.aliases[name] = link["status"]["plsAlias"]
            self.pause(life.pauses[3])
            # EMQX removes a PrivateLink only once it settled: a client asked to wait does, and asks again.
            self.send(
                name,
                "DELETE",
                lambda w: w.api.delete(f"/links/{name}"),
                (204,),
                gone,
                not_yet=("PrivateLinkNotRunning",),
            )

    def pause(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Stopped

    def send(
        self,
        name: str,
        what: str,
        request: Callable[[ReliableWorld], httpx.Response],
        done: tuple[int, ...],
        accepted_until: Check,
        *,
        not_yet: tuple[str, ...] = (),
    ) -> None:
        """Make a call as a client does (`client.drive`): again on a temporary failure (502, 503) or on a 409 that
        says to wait (`not_yet`, the monitor going on meanwhile), against the next host after a kill; and a 202
        followed until `accepted_until` shows the work done, the monitor carrying it on."""
        last: list[httpx.Response] = []  # the last answer that did not take the call

        def attempt() -> httpx.Response:
            self.pause(0)
            self.host.hour_passes()
            answer = self.host.call(
                request, lambda error: self.record.call(name, f"{what} -> no answer ({type(error).__name__})")
            )
            code = error_code(answer)
            self.record.call(name, f"{what} -> {answer.status_code} {code}".rstrip())
            if answer.status_code in (*done, 202):
                return answer
            check_answer(answer, (409, 502, 503) if not_yet else (502, 503))
            assert answer.status_code != 409 or code in not_yet, f"{what} {name}: {answer.text}"
            last[:] = [answer]
            return answer

        def monitor_after_a_409() -> None:
            if last[-1].status_code == 409:
                self.host.monitor_once()

        answer = eventually(
            attempt,
            lambda answer: f"{what} {name} to be taken; the last answer: {answer.text}",
            LIFE_SECONDS,
            accept=lambda answer: answer.status_code in (*done, 202),
            meanwhile=monitor_after_a_409,
            interval=0.1,
        )
        check_answer(answer, (*done, 202))
        if answer.status_code == 202:
            assert answer.headers["Operation-Location"] == f"/api/links/{name}", answer.headers
            self.wait_until(name, accepted_until)

    def wait_until_running(self, name: str, wait: bool) -> None:
        if wait:
            self.wait_until(name, running)

    def wait_until(self, name: str, check: Check, timeout: float = LIFE_SECONDS) -> dict[str, Any] | None:
        """GET the link until `check` holds, with a monitor run after each look (as the timer would)."""

        def shown() -> dict[str, Any] | None:
            self.pause(0)
            return self.host.get_link(name)

        return eventually(
            shown,
            lambda link: f"{name} to get there; last state: {link and link['status']}",
            timeout,
            accept=check,
            meanwhile=self.host.monitor_once,
            interval=0.05,
        )

    # -- the chaos ----------------------------------------------------------------------------------

    def chaos(self) -> None:
        """The planned actions, each at its moment; and the dead hosts' leases let go when due."""
        actions = list(self.record.actions)
        while actions or self.host.next_release() is not None:
            next_action = self.record.started + actions[0].at if actions else float("inf")
            wake = min(next_action, self.host.next_release() or float("inf"))
            if self.stop.wait(max(0.0, wake - time.monotonic())):
                return
            if released := self.host.release_dead_leases():
                self.record.note(f"let go of the {released} leases the dead host's runs held")
            if actions and time.monotonic() >= next_action:
                self.act(actions.pop(0))

    def act(self, action: Action) -> None:
        if action.fault is None:
            self.record.note("killing the Functions host (SIGKILL)")
            away = self.host.kill_and_restart(IN_FLIGHT_SECONDS)
            self.kills += 1
            self.record.note(f"a new Functions host answered {away:.2f}s after the kill")
        else:
            fault_id = self.arm(action.fault)
            self.fault_ids.append(((action.fault.cloud, fault_id), action.fault.describe()))
            self.record.note(f"{action.fault.describe()} ({fault_id})")

    def arm(self, fault: Fault) -> str:
        paths, world = self.paths[fault.link], self.control
        spec = dict(KINDS[fault.kind])
        if fault.kind == "throttle-429":
            spec["retryAfter"] = RETRY_AFTER[fault.cloud]
        if fault.cloud == "emqx":
            path = f"^{world.privatelinks_path}" + ("$" if fault.target == "privatelinks" else "/[^/]+$")
            return world.emqx_fault(fault.method, path, count=fault.count, **spec)
        resource = {
            "subnet": paths.subnet,
            "LB": paths.load_balancer,
            "NIC": paths.nic,
            "PLS": paths.private_link_service,
        }
        path = paths.connections() if fault.target == "connection" else LinkPaths.exactly(resource[fault.target])
        return world.arm_fault(fault.method, path, count=fault.count, **spec)

    def note_fired(self) -> None:
        fired = self.control.fired()
        for key, description in self.fault_ids:
            self.record.note(f"{key[1]} fired {fired.get(key, 0)} times: {description}")

    # -- the whole run --------------------------------------------------------------------------------

    def run(self) -> None:
        self.record.started = time.monotonic()
        threads = [threading.Thread(target=self.guarded, args=("chaos", self.chaos), name="chaos", daemon=True)]
        threads += [
            threading.Thread(
                target=self.guarded, args=(name, lambda life=life: self.live(life)), name=name, daemon=True
            )
            for name, life in self.lives.items()
        ]
        for thread in threads:
            thread.start()
        threads[0].join(timeout=CHAOS_SECONDS + 60)
        assert not threads[0].is_alive(), "the chaos did not end"
        self.note_fired()
        self.control.clear_faults()
        self.control.clear_emqx_faults()
        self.record.note("every fault cleared")
        for thread in threads[1:]:
            thread.join(timeout=max(0.0, self.record.started + LIFE_SECONDS * 3 - time.monotonic()))
            assert not thread.is_alive(), f"the life of {thread.name} did not end"
        for where, error in self.errors.items():
            raise AssertionError(f"{where}: {error!r}") from error
        assert self.kills == sum(1 for action in self.record.actions if action.fault is None)
        self.converge()
        self.check()

    def guarded(self, where: str, work: Callable[[], None]) -> None:
        try:
            work()
        except Stopped:
            pass
        except BaseException as error:  # raised by `run`, with the replay
            self.errors.setdefault(where, error)
            self.stop.set()

    def converge(self) -> None:
        """Monitor runs (and GETs) until every link is at its end; the links not there in time name themselves."""
        started = time.monotonic()
        pending = dict(self.lives)
        last: dict[str, Any] = {}

        def not_at_end() -> dict[str, Life]:
            for name, life in list(pending.items()):
                link = self.host.get_link(name)
                last[name] = link and link["status"]
                if self.at_end(life, link):
                    del pending[name]
            return pending

        eventually(
            not_at_end,
            lambda still: (
                "every link at its end after the chaos; not there: "
                + "; ".join(
                    f"{name} ({'to be deleted' if life.delete else 'to run'}): {last[name]}"
                    for name, life in still.items()
                )
            ),
            CONVERGE_SECONDS,
            accept=lambda pending: not pending,
            meanwhile=self.host.monitor_once,
            interval=0.05,
        )
        self.record.note(f"every link at its end {time.monotonic() - started:.2f}s after the chaos")

    def at_end(self, life: Life, link: dict[str, Any] | None) -> bool:
        if life.delete:
            return link is None
        return (
            running(link)
            and link is not None
            and link["status"]["observedGeneration"] == link["generation"]
            and link["spec"]["azure"]["frontendPort"] == self.bodies[life.name]["azure"]["frontendPort"]
        )

    # -- what must hold -------------------------------------------------------------------------------

    def check(self) -> None:
        world = self.host.current()[1]
        self.assert_never_failed(world)
        live_aliases = set()
        for name, life in self.lives.items():
            paths = self.paths[name]
            if life.delete:
                assert_nothing_left(world, paths, name, self.aliases[name])
                continue
            assert_one_of_each(world, paths, name)
            assert_approved_once(world, name)
            assert_record_intact(world, name, self.bodies[name], generation=2 if life.reput_port else 1)
            assert frontend_ports(world, paths) == [self.bodies[name]["azure"]["frontendPort"]]
            live_aliases.add(world.get_link(name)["status"]["plsAlias"].lower())
        orphans = [pl for pl in world.emqx_privatelinks() if pl["privateLinkServiceId"].lower() not in live_aliases]
        assert orphans == [], orphans

    def assert_never_failed(self, world: ReliableWorld) -> None:
        failed = [
            f"{name} ({view['status']['phase']}): {view['status'].get('history')}"
            for name, views in self.host.seen.items()
            for view in views
            if view["status"]["phase"] == "failed"
            or any(FAILED_STEP.match(step["step"]) for step in view["status"].get("history", []))
        ]
        assert failed == [], "a link was seen failed:\n" + "\n".join(failed[:5])
        names = "|".join(re.escape(name) for name in LINKS)
        log = world.host_log.read_text(errors="replace")
        logged = re.findall(rf"link (?:{names}): phase \S+ -> failed.*", log)
        assert logged == [], logged
        # Every phase change the lives made is one the phase machine (shared.model.PHASE_MOVES) lists.
        unexpected = re.findall(r"link \S+: unexpected phase change .*", log)
        assert unexpected == [], unexpected


def error_code(answer: httpx.Response) -> str:
    """The code of an error answer ("" for a success, or an answer not in the REST guidelines' shape)."""
    if answer.status_code < 400:
        return ""
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def frontend_ports(world: ReliableWorld, paths: LinkPaths) -> list[int]:
    """The frontend port of each NAT rule of the link's balancer (a V1 rule's own, or a V2 rule's one-port range)."""
    lb = world.arm_get(paths.load_balancer) or {}
    rules = [rule["properties"] for rule in lb["properties"]["inboundNatRules"]]
    return [rule.get("frontendPort") or rule.get("frontendPortRangeStart") for rule in rules]


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed-{seed}" for seed in SEEDS])
def test_links_reach_their_ends_through_random_faults_and_host_kills(
    seed: int, tmp_path: Path, secret_watch: SecretWatch
) -> None:
    scenario: Scenario | None = None
    try:
        with Stack(stack_options(tmp_path)) as stack, ExitStack() as worlds:
            host = LiveHost(stack, secret_watch, worlds)
            scenario = Scenario(seed, host)
            try:
                scenario.run()
                print(scenario.record.replay())  # shown with -rP: what the chaos did
            finally:
                scenario.stop.set()
                secret_watch.collect_stored(host.current()[1])
    except BaseException as error:
        replay = scenario.record.replay() if scenario else f"seed {seed}: the stack did not start"
        print(replay)
        print(host_log_excerpt(tmp_path / "logs" / "functions-host.log"))
        error.add_note(replay)
        raise


def host_log_excerpt(log: Path) -> str:
    """What the host logged about the links, and every warning and error (the log of every host, one after another)."""
    if not log.exists():
        return f"no host log at {log}"
    lines = log.read_text(errors="replace").splitlines()
    wanted = re.compile(r"rnd-|WARNING|ERROR|Traceback|Host started|Executed 'Functions\.(?!approve)")
    return "\n".join([f"the host log {log}, in part:", *(line for line in lines if wanted.search(line))])
