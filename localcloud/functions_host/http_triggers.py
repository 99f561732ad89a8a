"""Serving HTTP-triggered functions: pick the route, check the key, invoke, answer.

Routes are tried in the host's order; the first whose template matches and whose methods allow the request's
method wins. No match answers 404 with an empty body, also when only the method differs: the host's router
treats the method as part of the route (Azure/azure-functions-host#10098), so it never answers 405.
A missing or wrong key answers 401 with an empty body; an unhandled exception 500 with an empty body.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from localcloud.functions_host.host import FunctionsHost
from localcloud.functions_host.http_conversion import to_http_request, to_response
from localcloud.functions_host.invocation import InvocationFailedError
from localcloud.functions_host.keys import is_authorized, presented_key
from localcloud.functions_host.loading import IndexedFunction


def _find_route(host: FunctionsHost, method: str, path: str) -> tuple[IndexedFunction, dict[str, str]] | None:
    for function in host.http_functions:
        assert function.http is not None
        route_values = function.http.template.match(path)
        if route_values is None:
            continue
        if function.http.methods is None or method in function.http.methods:
            return function, route_values
    return None


async def serve_http_trigger(request: Request) -> Response:
    host: FunctionsHost = request.app.state.host
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    found = _find_route(host, request.method, raw_path.decode("latin-1"))
    if found is None:
        return Response(status_code=404)
    function, route_values = found
    assert function.http is not None
    presented = presented_key(request.headers, request.query_params)
    if not is_authorized(host.keys, function.http.auth_level, presented):
        return Response(status_code=401)
    body = await request.body()
    try:
        return await host.invoker.invoke(function, lambda: to_http_request(request, body, route_values), to_response)
    except InvocationFailedError:
        return Response(status_code=500)
