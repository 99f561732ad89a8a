"""The in-process tier's world: the life cycle called as functions, on a clock a test can jump, against localcloud.

The app runs in the test's own event loop, built by `shared.services.build_services(settings, clock)`: the real
Azure SDK and httpx over HTTPS to localcloud's ARM and EMQX, real Azurite, real Redis. No Functions host is
started. A "host" is one set of services on one event loop; `DyingHost` runs one on a loop of its own, and
killing it freezes that loop where it stands, so nothing of it gets to clean up (its lease stays held, its ARM
request stays in flight), as a SIGKILL would leave it.

`JumpClock` is the app's clock: it runs at localcloud's speed, so the app's budgets, back-offs and leases agree with
the stand-ins' timings, and jumps forward when a test says, so a dead run's lease runs out at once rather than
after the budget and margin of real time.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from localcloud.seed import GuideNetwork, operator_client, seed_guide_network
from localcloud.stack import DEPLOYMENT_KEY_SETTING, DEPLOYMENT_SECRET_SETTING, REDIS_PASSWORD_SETTING, Stack
from shared.run import Services
from shared.services import build_services
from shared.settings import Settings
from tests.bodies import Deployment


class JumpClock:
    """App time: `speed` times real time since the clock was made, plus every jump a test asked for."""

    def __init__(self, speed: float) -> None:
        self._speed = speed
        self._real_start = time.monotonic()
        self._wall_start = datetime.now(UTC)
        self._jumped = 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return (time.monotonic() - self._real_start) * self._speed + self._jumped

    def now(self) -> datetime:
        return self._wall_start + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self._speed)

    def jump(self, seconds: float) -> None:
        with self._lock:
            self._jumped += seconds


def exactly(path: str) -> str:
    """A fault's path pattern matching `path` alone."""
    return f"(?i)^{re.escape(path)}$"


class InProcessCloud:
    """A running localcloud stack without a Functions host, the app's settings for it, and its control APIs."""

    def __init__(self, stack: Stack, speed: float) -> None:
        self.stack = stack
        self.endpoints = stack.endpoints
        self.settings = Settings.from_mapping(stack.app_settings)
        self.clock = JumpClock(speed)
        self.arm_url = self.endpoints["arm"]["endpoint"]
        emqx = self.endpoints["emqx"]
        self.deployment = Deployment(
            emqx["deploymentId"],
            emqx["deploymentApiUrl"],
            DEPLOYMENT_KEY_SETTING,
            DEPLOYMENT_SECRET_SETTING,
            REDIS_PASSWORD_SETTING,
        )
        self._groups = 0

    def control(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(verify=ssl.create_default_context(cafile=self.endpoints["caBundle"]), timeout=60)

    @asynccontextmanager
    async def host(self) -> AsyncIterator[Services]:
        """The app's services on the running event loop (one host), closed at the end."""
        services = build_services(self.settings, self.clock)
        try:
            yield services
        finally:
            await services.close()

    async def network(self) -> GuideNetwork:
        """A fresh resource group with the guide's VNet, subnet and a Redis VM behind its NIC."""
        self._groups += 1
        group = f"rg-inprocess-{self._groups}-{int(time.time() * 1000) % 100000}"
        async with self.control() as arm_http, httpx.AsyncClient(timeout=30) as identity_http:
            arm = operator_client(self.endpoints, arm_http, identity_http)
            return await seed_guide_network(
                arm, arm_http, self.endpoints, resource_group=group, vm_name=f"demo-redis-inprocess-{self._groups}"
            )

    async def arm_fault(self, method: str, path: str, kind: str, count: int, **extra: Any) -> str:
        spec = {"method": method, "path": path, "kind": kind, "count": count, **extra}
        async with self.control() as client:
            answer = await client.post(f"{self.arm_url}/localcloud/faults", json=spec)
            answer.raise_for_status()
            return str(answer.json()["id"])

    async def fault_fired(self, fault_id: str) -> int:
        async with self.control() as client:
            answer = await client.get(f"{self.arm_url}/localcloud/faults")
            answer.raise_for_status()
            return next(int(f["fired"]) for f in answer.json()["faults"] if f["id"] == fault_id)

    async def arm_writes_to(self, path: str) -> list[dict[str, Any]]:
        async with self.control() as client:
            answer = await client.get(f"{self.arm_url}/localcloud/calls")
            answer.raise_for_status()
            calls = answer.json()["calls"]
        return [c for c in calls if c["kind"] == "write" and c["path"].lower() == path.lower()]


class DyingHost:
    """A host on its own event loop and thread, running one call until `kill()` freezes it mid-way."""

    def __init__(self, cloud: InProcessCloud) -> None:
        self._cloud = cloud
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._services: Services | None = None
        self.outcome: BaseException | object | None = None

    def start(self, call: Callable[[Services], Awaitable[object]]) -> None:
        async def work() -> None:
            self._services = build_services(self._cloud.settings, self._cloud.clock)
            self.outcome = await call(self._services)

        def run() -> None:
            try:
                self._loop.run_until_complete(work())
            except BaseException as error:  # frozen ("Event loop stopped before Future completed"), or failed
                self.outcome = error

        self._thread = threading.Thread(target=run, name="dying-host", daemon=True)
        self._thread.start()

    def kill(self) -> None:
        """Stop the loop where it stands: no finally block, no lease release, no save of the run."""
        assert self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "the dying host did not stop"

    def bury(self) -> None:
        """After the test: cancel what the dead host left and close its clients, so nothing leaks into later tests.
        (On a thread of its own: the test's loop is running on this one.)"""
        if self._thread is not None and self._thread.is_alive():
            self.kill()

        def clean_up() -> None:
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            if self._services is not None:
                self._loop.run_until_complete(self._services.close())
            self._loop.close()

        undertaker = threading.Thread(target=clean_up, name="dying-host-burial", daemon=True)
        undertaker.start()
        undertaker.join(timeout=30)
