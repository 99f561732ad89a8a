"""Assembles the EMQX Cloud stand-in: one Starlette app serving every API and the control routes.

Routing is by host first: `{deploymentId}.deployments.localhost` is that deployment's API
(`deployment_api.route`); every other host gets the Platform API, the PrivateLink contract and the controls.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp

from localcloud.emqx import control, deployment_api, platform_api, privatelink_api
from localcloud.emqx.arm_client import ArmClient, ArmSettings
from localcloud.emqx.clock import AdjustableClock, Clock
from localcloud.emqx.cloud import EmqxCloud
from localcloud.emqx.config import Account, Deployment, PlatformKey, Project
from localcloud.emqx.deployment_create import create_deployment
from localcloud.emqx.latency import LatencyProfile
from localcloud.emqx.traffic import TrafficMiddleware

# Generous: an ARM LRO poll or the data-path lookup answers at once; a slow-fault test sets its own delay.
_HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class EmqxCloudApp(Starlette):
    """A Starlette app whose faults and call log sit outside every other layer, next to the server."""

    def build_middleware_stack(self) -> ASGIApp:
        cloud: EmqxCloud = self.state.emqx
        return TrafficMiddleware(super().build_middleware_stack(), cloud.traffic)


def create_app(
    *,
    arm_endpoint: str,
    identity_endpoint: str,
    identity_header: str,
    emqx_subscription_id: str,
    emqx_client_id: str,
    ca_bundle: Path,
    platform_keys: Sequence[PlatformKey],
    deployments: Sequence[Deployment],
    projects: Sequence[Project],
    speed: float = 1.0,
    clock: Clock = time.time,
) -> EmqxCloudApp:
    account = Account(projects=tuple(projects), platform_keys=tuple(platform_keys), deployments=tuple(deployments))
    for deployment in account.deployments:
        if account.project(deployment.project_id) is None:
            raise ValueError(f"deployment {deployment.deployment_id}: unknown project {deployment.project_id}")
    cloud = EmqxCloud(
        account=account,
        clock=AdjustableClock(clock),
        latency=LatencyProfile(speed=speed),
        subscription_id=emqx_subscription_id,
    )
    settings = ArmSettings(
        arm_endpoint=arm_endpoint,
        identity_endpoint=identity_endpoint,
        identity_header=identity_header,
        client_id=emqx_client_id,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        tls = ssl.create_default_context(cafile=str(ca_bundle))
        async with (
            httpx.AsyncClient(verify=tls, timeout=_HTTP_TIMEOUT) as arm_http,
            httpx.AsyncClient(timeout=_HTTP_TIMEOUT) as identity_http,
        ):
            cloud.attach_arm(ArmClient(settings, arm_http, identity_http))
            try:
                yield
            finally:
                await cloud.privatelinks.close()
                cloud.attach_arm(None)

    app = EmqxCloudApp(
        routes=[
            deployment_api.route,
            *platform_api.routes,
            Route(f"{platform_api.PREFIX}/deployments", create_deployment, methods=["POST"]),
            *privatelink_api.routes,
            *privatelink_api.console_routes,
            *control.routes,
        ],
        lifespan=lifespan,
    )
    app.state.emqx = cloud
    return app
