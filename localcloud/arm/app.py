"""Assembly of the ARM app: the front door for ARM paths, the control APIs under /localcloud, and the
background task that finishes operations when their time comes (so events fire even when nobody polls).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount

from localcloud.arm.authorization import Rbac, rbac_routes
from localcloud.arm.calls import CallLog
from localcloud.arm.clock import Clock
from localcloud.arm.control import control_routes
from localcloud.arm.frontend import ArmFrontend
from localcloud.arm.protocol import Runtime
from localcloud.arm.router import Router
from localcloud.arm.state import ArmState, Resource
from localcloud.arm.throttling import RateLimiter
from localcloud.eventgrid.control import eventgrid_routes
from localcloud.eventgrid.topic import SystemTopic
from localcloud.faults import FaultBook
from localcloud.identity import TokenAuthority, identities_from

SETTLE_INTERVAL = 0.02
logger = logging.getLogger(__name__)


def create_app(
    *,
    identities: Mapping[str, Sequence[str]],
    token_key: str,
    tenant_id: str,
    state: ArmState | None = None,
    speed: float = 1.0,
    clock: Clock = time.time,
    eventgrid: Mapping[str, Any] | None = None,
    rbac: Mapping[str, Any] | None = None,
) -> Starlette:
    if speed <= 0:
        raise ValueError("speed must be positive")
    state = state if state is not None else ArmState()
    known = identities_from(identities)
    # Azure RBAC for the identities the document names (authorization.py); the others keep their scope prefixes.
    access = Rbac(rbac, [identity.client_id for identity in known.values()])
    subscriptions = sorted(
        {scope.split("/")[2] for ids in identities.values() for scope in ids if scope.count("/") >= 2}
    )
    options = dict(eventgrid or {})
    topic = SystemTopic(
        topic=f"/subscriptions/{subscriptions[0]}" if subscriptions else "/subscriptions",
        speed=speed,
        clock=clock,
        ca_bundle=options.pop("caBundle", None),
    )
    topic.update_settings(options)

    def vm_id_of(nic: Resource) -> str | None:
        vm = state.vm_for_nic(nic.id)
        if vm is None:
            return None
        return (
            f"/subscriptions/{nic.rid.subscription}/resourceGroups/{nic.rid.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{vm.name}"
        )

    runtime = Runtime(
        state=state,
        clock=clock,
        speed=speed,
        tenant_id=tenant_id,
        publish=topic.publish,
        pending_connection_events=lambda: bool(topic.settings["pendingConnectionEvents"]),
    )
    # A late answer (served, then held back) is modelled by the EMQX stand-in only; ARM's writes answer at once
    # and go on as long-running operations, which `slow` and `lro-failed` cover.
    faults, calls = FaultBook(refused={"late": "not modelled by the ARM stand-in; use slow or lro-failed"}), CallLog()
    # ARM's token buckets (throttling.py), refilled `speed` times faster on the same clock as every duration.
    limiter = RateLimiter(clock, speed)

    async def reset() -> None:
        state.clear()
        faults.clear()
        calls.clear()
        limiter.reset()
        access.restore()
        await topic.reset(options)

    authority = TokenAuthority(key=token_key, tenant_id=tenant_id, clock=clock)
    frontend = ArmFrontend(
        rt=runtime,
        router=Router(vm_id_of),
        authority=authority,
        identities=known,
        faults=faults,
        calls=calls,
        rbac=access,
        limiter=limiter,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settler = asyncio.create_task(_settle_forever(state, clock))
        try:
            yield
        finally:
            settler.cancel()
            await asyncio.gather(settler, return_exceptions=True)
            await topic.close()

    app = Starlette(
        routes=[
            Mount("/localcloud/eventgrid", routes=eventgrid_routes(topic)),
            Mount(
                "/localcloud",
                routes=[*control_routes(state, faults, calls, reset, limiter), *rbac_routes(access)],
            ),
            Mount("/", app=frontend),  # everything else is ARM (paths are case-insensitive there)
        ],
        lifespan=lifespan,
    )
    app.state.arm = state
    app.state.topic = topic
    app.state.faults = faults
    app.state.calls = calls
    app.state.rbac = access
    app.state.ratelimits = limiter
    return app


async def _settle_forever(state: ArmState, clock: Clock) -> None:
    while True:
        try:
            state.settle(clock())
        except Exception:  # one broken completion must not stop every later operation from finishing
            logger.exception("finishing an operation failed")
        await asyncio.sleep(SETTLE_INTERVAL)
