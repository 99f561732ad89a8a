"""A local Azure Functions host for a Python v2 `FunctionApp`, since Core Tools cannot be installed here.

In process (`python -m localcloud up`, tests)::

    app = create_app(
        "function_app:app",                 # module:attribute; the module must be importable
        app_settings={"MONITOR_SCHEDULE": "0 */5 * * * *"},   # resolves %SETTING% in schedules
        keys=HostKeys.generate(),           # function, master and system (eventgrid_extension) keys
        route_prefix="api",                 # host.json extensions.http.routePrefix
        clock=ScaledClock(speed=20),        # optional; timers only; default wall-clock UTC
    )
    with BackgroundServer(app) as server: ...   # localcloud.serving

The app is imported, indexed and its timers started in the Starlette lifespan, and the timers stop on
shutdown. Served: HTTP triggers under `/<routePrefix>/<route>`, `POST /runtime/webhooks/eventgrid`,
`POST /admin/functions/{name}`, `GET /admin/host/status`. As a process:
`python -m localcloud.functions_host --app function_app:app --app-dir . --port 7071 --keys-file keys.json`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.functions_host.clock import Clock, ScaledClock, SystemClock
from localcloud.functions_host.keys import HostKeys

if TYPE_CHECKING:
    from localcloud.functions_host.app import create_app

__all__ = ["Clock", "HostKeys", "ScaledClock", "SystemClock", "create_app"]


def __getattr__(name: str) -> Any:
    # create_app pulls in Starlette and azure.functions; processes that only need HostKeys do not pay for them
    if name == "create_app":
        from localcloud.functions_host.app import create_app  # noqa: PLC0415

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
