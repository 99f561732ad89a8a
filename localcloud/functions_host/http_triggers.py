"""Serving HTTP-triggered functions: pick the route, check the key, invoke, answer.

Routes are tried in the host's order; the first whose template matches and whose methods allow the request's
method wins. No match answers 404 with an empty body, also when only the method differs: the host's router
treats the method as part of the route (Azure/azure-functions-host#10098), so it never answers 405.
A missing or wrong key answers 401 with an empty body; an unhandled exception 500 with an empty body.
A path with an escaped NUL (`%00`) answers 400 with an empty body, as Kestrel refuses it before any routing.
Routes are matched on the path as Kestrel gives it to ASP.NET routing (decoded but for `%2F`, dot segments
removed: see `aspnet.request_path`); the function's request is built as described in `http_conversion`.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from localcloud.functions_host.aspnet import BadRequestError, request_path
from localcloud.functions_host.host import FunctionsHost
from localcloud.functions_host.http_conversion import (
    raw_path,
    raw_query,
    request_body_length,
    to_http_request,
    to_response,
)
from localcloud.functions_host.invocation import InvocationFailedError
from localcloud.functions_host.keys import is_authorized, presented_key
from localcloud.functions_host.loading import IndexedFunction


def _for_router(path: str) -> str:
    """`path` (Kestrel's, decoded) in the raw form `RouteTemplate.match` decodes back to exactly `path`."""
    # the matcher decodes every escape but %2F, so a literal `%` is escaped unless it begins `%2F`
    return re.sub("%(?!2[fF])", "%25", path)


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
    raw = raw_path(request)
    try:
        path = request_path(raw)
    except BadRequestError:
        return Response(status_code=400)
    found = _find_route(host, request.method, _for_router(path))
    if found is None:
        return Response(status_code=404)
    function, route_values = found
    assert function.http is not None
    presented = presented_key(request.headers, raw_query(request))
    if not is_authorized(host.keys, function.http.auth_level, presented):
        return Response(status_code=401)
    # ToRpcHttp reads the body only when `request.ContentLength > 0`
    body = await request.body() if request_body_length(request) > 0 else b""
    try:
        return await host.invoker.invoke(
            function, lambda: to_http_request(request, path, body, route_values), to_response
        )
    except InvocationFailedError:
        return Response(status_code=500)
