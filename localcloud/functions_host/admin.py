"""The host's admin API (master key only): `POST /admin/functions/{name}` and `GET /admin/host/status`.

`POST /admin/functions/{name}` with `{"input": "..."}` starts the function in the background and answers 202,
as Core Tools and the host do: a timer gets a `TimerRequest` with `past_due=False` and the schedule status its
monitor has stored (see `timers`); an Event Grid function gets the input parsed as one event. A body that is
not a JSON object answers 400, an unknown name 404. An HTTP function cannot be run this way: the run fails
(and is logged) as in the host, the answer is still 202.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from localcloud.functions_host.eventgrid import decode_event
from localcloud.functions_host.host import FunctionsHost
from localcloud.functions_host.http_conversion import raw_query
from localcloud.functions_host.invocation import no_return_value
from localcloud.functions_host.keys import AuthLevel, is_authorized, presented_key
from localcloud.functions_host.loading import IndexedFunction, TriggerKind
from localcloud.functions_host.timers import timer_request


def _is_admin(request: Request, host: FunctionsHost) -> bool:
    return is_authorized(host.keys, AuthLevel.ADMIN, presented_key(request.headers, raw_query(request)))


def _trigger_argument(host: FunctionsHost, function: IndexedFunction, given: Any) -> Any:
    if function.kind is TriggerKind.TIMER:
        assert function.timer is not None
        runner = host.timer_runner(function)
        status = runner.stored_status() if runner else None
        return timer_request(past_due=False, schedule=function.timer.schedule, schedule_status=status)
    if function.kind is TriggerKind.EVENT_GRID:
        return decode_event(json.loads(given) if isinstance(given, str) else given)
    raise TypeError(f"function '{function.name}' is HTTP-triggered: call its route instead of the admin API")


async def run_function_now(request: Request) -> Response:
    host: FunctionsHost = request.app.state.host
    if not _is_admin(request, host):
        return Response(status_code=401)
    try:
        invocation = json.loads(await request.body())
    except ValueError:
        invocation = None
    if not isinstance(invocation, dict):
        return Response(status_code=400)
    function = host.find(request.path_params["name"])
    if function is None:
        return Response(status_code=404)
    given = invocation.get("input")
    host.run_in_background(function, lambda: _trigger_argument(host, function, given), no_return_value(function.name))
    return Response(status_code=202)


async def host_status(request: Request) -> Response:
    host: FunctionsHost = request.app.state.host
    if not _is_admin(request, host):
        return Response(status_code=401)
    return JSONResponse(
        {
            "id": host.instance_id,
            "state": "Running",
            "version": "4 (localcloud)",
            "processUptime": host.uptime_ms,
            "functions": sorted(host.functions),
        }
    )
