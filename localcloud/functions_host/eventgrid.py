"""The Event Grid extension's webhook: `POST /runtime/webhooks/eventgrid?functionName=<name>&code=<key>`.

As the extension answers: the system key `eventgrid_extension` (or the master key) is required, else 401;
an unknown function name 404 `cannot find function: '<name>'`. By the `aeg-event-type` header:
`SubscriptionValidation` answers 200 `{"validationResponse": "<code>"}` (as text/plain, like the extension's
StringContent); `Notification` takes an array (or one object) of events, invokes the function once per event,
all at the same time, and answers 202, or 500 when any run failed so that Event Grid retries the whole
delivery; `Unsubscribe` answers 202; anything else 400. A body that is not the JSON expected answers 500, as
the extension's unhandled parse error does. Events in the CloudEvents schema are decoded to `func.CloudEvent`
by the library's converter, like in the worker.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import azure.functions as func
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from starlette.requests import Request
from starlette.responses import Response

from localcloud.functions_host.host import FunctionsHost
from localcloud.functions_host.http_conversion import raw_query
from localcloud.functions_host.invocation import InvocationFailedError, no_return_value
from localcloud.functions_host.keys import AuthLevel, is_authorized, presented_key
from localcloud.functions_host.loading import IndexedFunction, TriggerKind

EVENT_TYPE_HEADER = "aeg-event-type"


def decode_event(event: Any) -> func.EventGridEvent | func.CloudEvent:
    return EventGridEventInConverter.decode(Datum(json.dumps(event), "json"), trigger_metadata={})


def _validation_code(body: Any) -> str:
    if isinstance(body, list):
        return str(body[0]["data"]["validationCode"])
    # the CloudEvents form carries its data encoded a second time
    data = body["data"]
    return str((json.loads(data) if isinstance(data, str) else data)["validationCode"])


async def _deliver(host: FunctionsHost, function: IndexedFunction, events: list[Any]) -> Response:
    runs = [
        host.invoker.invoke(function, lambda event=event: decode_event(event), no_return_value(function.name))
        for event in events
    ]
    outcomes = await asyncio.gather(*runs, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, InvocationFailedError):
            return Response(str(outcome), status_code=500, media_type="text/plain; charset=utf-8")
        if isinstance(outcome, BaseException):
            raise outcome
    return Response(status_code=202)


async def serve_eventgrid_webhook(request: Request) -> Response:
    host: FunctionsHost = request.app.state.host
    if not is_authorized(host.keys, AuthLevel.SYSTEM, presented_key(request.headers, raw_query(request))):
        return Response(status_code=401)
    name = request.query_params.get("functionName", "")
    function = host.functions.get(name)
    if function is None or function.kind is not TriggerKind.EVENT_GRID:
        return Response(f"cannot find function: '{name}'", status_code=404, media_type="text/plain; charset=utf-8")
    event_type = request.headers.get(EVENT_TYPE_HEADER, "").lower()
    if event_type not in ("subscriptionvalidation", "notification"):
        return Response(status_code=202 if event_type == "unsubscribe" else 400)
    try:
        body = json.loads(await request.body())
        if event_type == "subscriptionvalidation":
            answer = json.dumps({"validationResponse": _validation_code(body)}, separators=(",", ":"))
            return Response(answer, status_code=200, media_type="text/plain; charset=utf-8")
        if not isinstance(body, list | dict):
            raise TypeError("the request content should be a JSON object or array")
    except (ValueError, TypeError, KeyError, IndexError):
        return Response(status_code=500)
    return await _deliver(host, function, body if isinstance(body, list) else [body])
