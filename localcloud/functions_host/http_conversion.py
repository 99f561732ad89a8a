"""Between the wire and `azure.functions`: the request the worker builds and the response the host writes.

The request is built as the host's `ToRpcHttp` builds `RpcHttp` for a worker with the Python worker's
capabilities, and as the worker turns `RpcHttp` into `func.HttpRequest`
(Azure/azure-functions-host `src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs`;
Azure/azure-functions-python-worker `azure_functions_worker/bindings/datumdef.py`, `Datum.from_typed_data`;
Azure/azure-functions-python-library `azure/functions/http.py`, `HttpRequestConverter.decode`; the message
is `RpcHttp` in Azure/azure-functions-language-worker-protobuf `src/proto/FunctionRpc.proto`):

- `url`: `{scheme}://{Host}{Path}{QueryString}`, ASP.NET's views of them (see `aspnet`): the query exactly as
  sent, the path as Kestrel decoded it and `PathString` escaped it again, so `%2F`, `%20`, `%C3%A9` stay
  escaped while an escaped unreserved character (`%41`) comes out decoded and dot segments are gone.
- `params` (the query): names matched ignoring case, repeated values joined with `,` skipping empty ones,
  and a name whose value is then empty is left out: the Python worker does not declare
  `UseNullableValueDictionaryForHttp`, so the host adds only non-empty values (`?top=` gives no `top`).
- `headers`: names lower-cased, repeated ones joined the same way; a header with an empty value is kept
  (the worker does not declare `IgnoreEmptyValuedRpcHttpHeaders`).
- the body: raw bytes (`RawHttpBodyBytes`, `RpcHttpBodyOnly`), and only when `Content-Length` is above 0: a
  chunked body without `Content-Length` reaches the function empty, as `ToRpcHttp` skips it.
- `route_params`: the route values.

The function's `$return` goes through the library's own `HttpResponseConverter`, as in the worker: an
`HttpResponse` keeps its status, headers, cookies and body, with `Content-Type` from its mimetype and charset;
a `str` becomes a 200 `text/plain; charset=utf-8` answer, as the host writes a string result; any other value
(dict, bytes, None) fails the invocation, so the caller gets 500.
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

from localcloud.functions_host.aspnet import (
    group_ignoring_case,
    path_to_uri_component,
    query_collection,
    query_string,
    string_values_text,
)

# Starlette computes these from the body it sends
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name: string_values_text(values) for name, values in group_ignoring_case(pairs).items()}


def raw_path(request: Request) -> bytes:
    raw: bytes | None = request.scope.get("raw_path")
    return raw or str(request.scope["path"]).encode()


def raw_query(request: Request) -> str:
    return bytes(request.scope.get("query_string", b"")).decode("latin-1")


def request_url(request: Request, path: str) -> str:
    """`RpcHttp.Url` as `ToRpcHttp` writes it; `path` is `request_path(raw_path(request))`."""
    host = request.headers.get("host")
    if host is None:
        server = request.scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else ""
    scheme = request.scope.get("scheme", "http")
    return f"{scheme}://{host}{path_to_uri_component(path)}{query_string(raw_query(request))}"


def request_body_length(request: Request) -> int:
    """`HttpRequest.ContentLength`, 0 when absent (chunked) or unreadable."""
    try:
        return int(request.headers.get("content-length", "0"))
    except ValueError:
        return 0


def to_http_request(request: Request, path: str, body: bytes, route_params: dict[str, str]) -> func.HttpRequest:
    query = {
        name: text
        for name, values in query_collection(raw_query(request)).items()
        if (text := string_values_text(values))  # ToRpcHttp: `if (!string.IsNullOrEmpty(value))`
    }
    headers = {name.lower(): value for name, value in _joined(request.headers.items()).items()}
    return WorkerHttpRequest(
        method=request.method,
        url=request_url(request, path),
        headers=headers,
        params=query,
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
