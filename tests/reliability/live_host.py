"""The app of one stack as its clients see it while its Functions host may be killed and restarted at any moment.

A call that meets a dead host (connection refused or reset, no answer) is made again, as a client would, against
whichever host runs by then: a restarted host has a new port and new keys, so every restart brings a new world
(`stacks.watched_world`, its answers watched for secrets). A monitor run is awaited only while its host lives.
Every link the app shows (a GET, or a link in an answer) is kept, for checks over the whole run.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from typing import Any

import httpx
from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, UpdateMode

from localcloud.stack import Stack
from tests.e2e.world import TABLE_PREFIX
from tests.reliability.client import check_answer
from tests.reliability.secret_watch import SecretWatch
from tests.reliability.stacks import watched_world
from tests.reliability.world import ReliableWorld
from tests.waiting import eventually

# How long a call keeps meeting a dead host before the run is given up on.
HOST_DOWN_SECONDS = 60.0
# After a kill, until the store has served what the dead host had sent it.
SETTLE_SECONDS = 0.2


@dataclass
class DeadLeases:
    """The leases a killed host's runs held, as the store had them just after the kill, and when to end them.

    `ReliableWorld.dead_leases_expire` ends every lease, which is right only while no host runs; these end only
    the dead runs' own (unchanged since: same ETag), so they can be let go while a new host works.
    """

    connection_string: str
    leases: list[TableEntity]
    due: float

    @classmethod
    def of(cls, world: ReliableWorld, due: float) -> DeadLeases:
        connection_string = world.endpoints["storage"]["connectionString"]
        with _leases_table(connection_string) as table:
            try:
                leases = list(table.list_entities())
            except ResourceNotFoundError:
                leases = []
        return cls(connection_string, leases, due)

    def expire(self) -> None:
        with _leases_table(self.connection_string) as table:
            for lease in self.leases:
                # Taken over or released meanwhile: not the dead run's any more.
                with suppress(ResourceModifiedError, ResourceNotFoundError):
                    table.update_entity(
                        {**lease, "Until": 0.0},
                        mode=UpdateMode.REPLACE,
                        etag=lease.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )


def _leases_table(connection_string: str) -> TableClient:
    return TableClient.from_connection_string(connection_string, table_name=f"{TABLE_PREFIX}Leases")


class LiveHost:
    def __init__(self, stack: Stack, watch: SecretWatch, worlds: ExitStack) -> None:
        self.stack, self.watch, self._worlds = stack, watch, worlds
        self._lock = threading.Lock()
        self._monitor_lock = threading.Lock()
        self._up = threading.Event()
        self.generation = 0
        self.world = self._new_world()
        self._up.set()
        self._releases: list[DeadLeases] = []
        # Every view of a link the app gave, by link name, in the order they arrived.
        self.seen: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def _new_world(self) -> ReliableWorld:
        return self._worlds.enter_context(watched_world(self.stack, self.watch, collect=False))

    def current(self) -> tuple[int, ReliableWorld]:
        """The world of the host that runs now (waiting for one while it is being restarted), and its generation."""
        if not self._up.wait(timeout=HOST_DOWN_SECONDS):
            raise AssertionError(f"no Functions host for {HOST_DOWN_SECONDS} s")
        with self._lock:
            return self.generation, self.world

    def _gone(self, generation: int) -> bool:
        return not self._up.is_set() or self.generation != generation

    # -- the host's death and its successor ---------------------------------------------------------------

    def kill_and_restart(self, in_flight_seconds: float) -> float:
        """SIGKILL the host and start a new one at once; the seconds the app was away.

        The dead host's runs leave their leases behind. A lease outlives its dead holder by a minute so that what
        the holder had sent (a request ARM or EMQX is still holding on to) is served before another run takes
        over; here that takes at most `in_flight_seconds`, after which those leases, and only those, are let go
        (see `DeadLeases`). The new host's runs keep theirs: its Event Grid deliveries and the clients' calls may
        start runs the moment it answers.
        """
        started = time.monotonic()
        self._up.clear()
        with self._lock:
            dead = self.world
        self.stack.kill_host()
        time.sleep(SETTLE_SECONDS)
        self._releases.append(DeadLeases.of(dead, started + in_flight_seconds))
        self.stack.restart_host()
        world = self._new_world()
        with self._lock:
            self.world, self.generation = world, self.generation + 1
        self._up.set()
        return time.monotonic() - started

    def next_release(self) -> float | None:
        """When the next dead host's leases are due to be let go (`time.monotonic`), if any are left."""
        return min((release.due for release in self._releases), default=None)

    def release_dead_leases(self) -> int:
        """Let go of the dead hosts' leases that are due; how many there were."""
        count = 0
        for release in list(self._releases):
            if release.due <= time.monotonic():
                release.expire()
                self._releases.remove(release)
                count += len(release.leases)
        return count

    # -- calls to the app, made again on a dead host --------------------------------------------------------

    def call(
        self,
        request: Callable[[ReliableWorld], httpx.Response],
        lost: Callable[[httpx.TransportError], None] = lambda _error: None,
    ) -> httpx.Response:
        """Make `request` until the app answers it; `lost` hears of every attempt that got no answer."""

        def attempt() -> httpx.Response | httpx.TransportError:
            _generation, world = self.current()
            try:
                return request(world)
            except httpx.TransportError as error:
                lost(error)
                # A dead host: `current` waits for the next one. Any other lost connection: a moment, then again.
                return error

        answer = eventually(
            attempt,
            lambda error: f"the app to answer; no answer for {HOST_DOWN_SECONDS} s: {error!r}",
            HOST_DOWN_SECONDS,
            accept=lambda outcome: isinstance(outcome, httpx.Response),
            interval=0.05,
        )
        assert isinstance(answer, httpx.Response)
        self._keep_links(answer)
        return answer

    def _keep_links(self, answer: httpx.Response) -> None:
        if answer.headers.get("content-type", "").split(";")[0] != "application/json":
            return
        body = answer.json()
        if not isinstance(body, dict):
            return
        for link in (body, body.get("link")):
            if isinstance(link, dict) and isinstance(link.get("status"), dict) and "name" in link:
                self.seen[link["name"]].append(link)

    def get_link(self, name: str) -> dict[str, Any] | None:
        """The link as GET shows it, or None once it is gone."""
        answer = self.call(lambda world: world.api.get(f"/links/{name}"))
        check_answer(answer, (200, 404))
        return answer.json() if answer.status_code == 200 else None

    def hour_passes(self) -> None:
        """EMQX's hourly budgets renewed (`World.hour_passes`: the store and EMQX, not the host)."""
        self.current()[1].hour_passes()

    def monitor_once(self, timeout: float = 60) -> None:
        """One whole monitor run, one at a time (as `ReliableWorld.monitor_once`); a run whose host dies is over."""
        with self._monitor_lock:
            generation, world = self.current()
            world.hour_passes()
            before = world.monitor_runs_done()
            try:
                world.run_monitor()
            except httpx.TransportError:
                return
            eventually(
                lambda: world.monitor_runs_done() > before or self._gone(generation),
                "the monitor run to finish",
                timeout,
                interval=0.05,
            )
