"""Control API of the custom topic, under `/localcloud` of its app (no token, loopback only, JSON).

GET    /publishes        -> {"publishes": [every request to the data plane, in order: {"seq", "time", "requestId",
                             "method", "path", "query", "contentType", "contentLength", "clientRequestId",
                             "userAgent", "credential" (the scheme or header, never its value), "principal":
                             {"clientId", "objectId", "audience"} | null, "status" (null: dropped), "error": {"code",
                             "detailCode", "message"} | null, "failure" (what the failure switch did) | null,
                             "events": [the accepted CloudEvents]}]}
GET    /events           -> {"events": [every accepted event, in order: {"publish" (its request's seq), "requestId",
                             "clientId", "contentType", "event"}]}
DELETE /publishes, /events -> 204: forget both
PUT    /failure          {"kind": "status"|"drop"|"slow", "status"?: 400-599 (503), "count"?: N | null (null or
                          absent: until DELETE), "retryAfter"?, "delaySeconds"?, "code"?, "message"?}
                          -> 200 {"failure": {... "remaining", "fired"}}: the next `count` publishes (POST
                          /api/events) answer `status` with Event Grid's error body (and Retry-After when given), have
                          their connection closed unanswered (`drop`), or are answered normally after `delaySeconds`
                          (`slow`); 400 {"error": {"code": "InvalidRequest", "message"}} for a bad body
GET    /failure          -> {"failure": {...} | null}
DELETE /failure          -> 204: publishes succeed again
GET    /senders          -> {"senders": [client ids holding EventGrid Data Sender on the topic]}
PUT    /senders          {"senders": [client id, ...]} -> 200 {"senders"}; a token of any other identity is 401
DELETE /senders          -> 204: the senders the topic was built with
POST   /reset            -> 204: forget publishes, subscriptions, deliveries and the failure; default senders
PUT    /subscriptions/{name}, DELETE /subscriptions/{name}, GET /subscriptions, PUT/GET /settings, GET /deliveries:
                          webhook subscriptions delivering in the CloudEvents schema (`control.py`, `topic.py`)
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from localcloud.eventgrid.control import eventgrid_routes
from localcloud.eventgrid.custom_topic import CustomTopic, Failure
from localcloud.eventgrid.topic import CLOUDEVENTS_SCHEMA


def _invalid(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "InvalidRequest", "message": message}}, status_code=400)


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        return None


def custom_control_routes(state: CustomTopic) -> list[Route]:
    async def publishes(request: Request) -> Response:
        return JSONResponse({"publishes": state.publishes})

    async def events(request: Request) -> Response:
        return JSONResponse({"events": state.events()})

    async def clear(request: Request) -> Response:
        state.clear_history()
        return Response(status_code=204)

    async def put_failure(request: Request) -> Response:
        try:
            state.failure = Failure.from_spec(await _body(request))
        except ValueError as exc:
            return _invalid(str(exc))
        return JSONResponse({"failure": state.failure.as_json()})

    async def get_failure(request: Request) -> Response:
        return JSONResponse({"failure": state.failure.as_json() if state.failure else None})

    async def clear_failure(request: Request) -> Response:
        state.failure = None
        return Response(status_code=204)

    async def get_senders(request: Request) -> Response:
        return JSONResponse({"senders": sorted(state.senders)})

    async def put_senders(request: Request) -> Response:
        body = await _body(request)
        senders = body.get("senders") if isinstance(body, dict) else None
        if not isinstance(senders, list) or not all(isinstance(sender, str) and sender for sender in senders):
            return _invalid('the body must be {"senders": [client id, ...]}')
        return JSONResponse({"senders": state.set_senders(senders)})

    async def reset_senders(request: Request) -> Response:
        state.set_senders(state.default_senders)
        return Response(status_code=204)

    async def reset(request: Request) -> Response:
        await state.reset()
        return Response(status_code=204)

    return [
        Route("/publishes", publishes, methods=["GET"]),
        Route("/publishes", clear, methods=["DELETE"]),
        Route("/events", events, methods=["GET"]),
        Route("/events", clear, methods=["DELETE"]),
        Route("/failure", put_failure, methods=["PUT"]),
        Route("/failure", get_failure, methods=["GET"]),
        Route("/failure", clear_failure, methods=["DELETE"]),
        Route("/senders", get_senders, methods=["GET"]),
        Route("/senders", put_senders, methods=["PUT"]),
        Route("/senders", reset_senders, methods=["DELETE"]),
        Route("/reset", reset, methods=["POST"]),
        *eventgrid_routes(state.topic, delivery_schema=CLOUDEVENTS_SCHEMA, events=False),
    ]
