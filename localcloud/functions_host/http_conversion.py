"""Between the wire and `azure.functions`: the request the worker builds and the response the host writes.

The request carries the method, the full URL, the headers (names lower-cased; repeated ones joined with `,` as
ASP.NET does), the query (repeated names joined the same way), the route values and the raw body bytes (the
Python worker asks the host for raw bytes). The function's `$return` goes through the library's own
`HttpResponseConverter`, as in the worker: an `HttpResponse` keeps its status, headers, cookies and body, with
`Content-Type` from its mimetype and charset; a `str` becomes a 200 `text/plain; charset=utf-8` answer, as the
host writes a string result; any other value (dict, bytes, None) fails the invocation, so the caller gets 500.
"""

from __future__ import annotations

from collections.abc import Iterable
from http.cookies import SimpleCookie
from typing import Any

import azure.functions as func
from azure.functions.http import HttpRequest as WorkerHttpRequest
from azure.functions.http import HttpResponseConverter
from starlette.requests import Request
from starlette.responses import Response

# Starlette computes these from the body it sends
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})


def _joined(pairs: Iterable[tuple[str, str]], *, lower: bool) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower() if lower else name
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def to_http_request(request: Request, body: bytes, route_params: dict[str, str]) -> func.HttpRequest:
    return WorkerHttpRequest(
        method=request.method,
        url=str(request.url),
        headers=_joined(request.headers.items(), lower=True),
        params=_joined(request.query_params.multi_items(), lower=False),
        route_params=route_params,
        body_type="bytes",
        body=body,
    )


def to_response(result: Any) -> Response:
    try:
        datum = HttpResponseConverter.encode(result, expected_type=None)
    except NotImplementedError:
        kind = type(result).__name__
        raise TypeError(f'unable to encode outgoing TypedData: unsupported Python type "{kind}" for http') from None
    if datum.type == "string":
        return Response(datum.value.encode("utf-8"), status_code=200, media_type="text/plain; charset=utf-8")
    value = datum.value
    headers = {name: header.value for name, header in value["headers"].items()}
    response = Response(
        value["body"].value,
        status_code=int(value["status_code"].value),
        headers={name: text for name, text in headers.items() if name.lower() not in _FRAMING_HEADERS},
    )
    cookies: list[SimpleCookie] = value["cookies"] or []
    for cookie in cookies:
        for morsel in cookie.values():
            response.raw_headers.append((b"set-cookie", morsel.OutputString().encode("latin-1")))
    return response
