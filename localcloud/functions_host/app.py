"""The Starlette app of the host: admin API, Event Grid webhook, then every other path for HTTP triggers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route

from localcloud.functions_host.admin import host_status, run_function_now
from localcloud.functions_host.clock import Clock, SystemClock
from localcloud.functions_host.eventgrid import serve_eventgrid_webhook
from localcloud.functions_host.host import FunctionsHost
from localcloud.functions_host.http_triggers import serve_http_trigger
from localcloud.functions_host.keys import HostKeys

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def create_app(
    app_ref: str = "function_app:app",
    *,
    app_settings: Mapping[str, str],
    keys: HostKeys,
    route_prefix: str = "api",
    clock: Clock | None = None,
) -> Starlette:
    """The host as an ASGI app; the function app is imported and indexed, and timers start, in its lifespan."""
    host = FunctionsHost(app_ref, app_settings, keys, route_prefix, clock or SystemClock())

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await host.start()
        try:
            yield
        finally:
            await host.stop()

    app = Starlette(
        routes=[
            Route("/admin/host/status", host_status, methods=["GET"]),
            Route("/admin/functions/{name}", run_function_now, methods=["POST"]),
            Route("/runtime/webhooks/eventgrid", serve_eventgrid_webhook, methods=["POST"]),
            Route("/{path:path}", serve_http_trigger, methods=_ALL_METHODS),
        ],
        lifespan=lifespan,
    )
    app.state.host = host
    return app
