"""Control API of a topic's webhook subscriptions (no token): the system topic's, mounted under `/localcloud/eventgrid`
of the ARM app, and the custom topic's, under `/localcloud` of its own app (`custom_control.py`).

PUT    /subscriptions/{name}  {"endpoint", "subjectBeginsWith"?, "subjectEndsWith"?, "includedEventTypes"?,
                               "eventDeliverySchema"?}
       -> 201/200 after a successful handshake of the delivery schema (the system topic's is `EventGridSchema`, the
       custom topic's `CloudEventSchemaV1_0`: the only one each accepts); 400 {"error": {"code": "Url validation"}}
       when the endpoint does not answer the handshake
DELETE /subscriptions/{name}  -> 204
GET    /subscriptions         -> {"subscriptions": [...]}
PUT    /settings  {"pendingConnectionEvents": bool, "duplicates": int, "shuffle": bool} (any subset) -> settings
GET    /settings
GET    /deliveries            -> {"deliveries": [every attempt: {eventId, eventType, subject, subscription,
                                                   attempt, status, error, time}]}
GET    /events                -> {"events": [every event published, in order]} (the system topic's; the custom
                                 topic serves its own, with the publish request of each)
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from localcloud.eventgrid.topic import EVENTGRID_SCHEMA, EventSubscription, HandshakeError, Topic


def _error(code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=400)


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        return None


def _subscription(name: str, body: Any, schema: str) -> EventSubscription:
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https"):
        raise ValueError("'endpoint' must be an http(s) URL")
    types = body.get("includedEventTypes")
    if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
        raise ValueError("'includedEventTypes' must be an array of strings")
    for field in ("subjectBeginsWith", "subjectEndsWith"):
        if not isinstance(body.get(field, ""), str):
            raise ValueError(f"'{field}' must be a string")
    if body.get("eventDeliverySchema", schema) != schema:
        raise ValueError(f"'eventDeliverySchema' must be {schema}: the only schema this topic delivers in")
    return EventSubscription(
        name=name,
        endpoint=endpoint,
        subject_begins_with=body.get("subjectBeginsWith", ""),
        subject_ends_with=body.get("subjectEndsWith", ""),
        included_event_types=tuple(types) if types is not None else None,
        delivery_schema=schema,
    )


def eventgrid_routes(topic: Topic, *, delivery_schema: str = EVENTGRID_SCHEMA, events: bool = True) -> list[Route]:
    """The routes above; every subscription delivers in `delivery_schema`; `events=False` leaves `/events` out."""

    async def put_subscription(request: Request) -> Response:
        try:
            subscription = _subscription(request.path_params["name"], await _body(request), delivery_schema)
        except ValueError as exc:
            return _error("InvalidRequest", str(exc))
        try:
            created = await topic.subscribe(subscription)
        except HandshakeError as exc:
            return _error("Url validation", str(exc))
        return JSONResponse(subscription.body(), status_code=201 if created else 200)

    async def delete_subscription(request: Request) -> Response:
        topic.unsubscribe(request.path_params["name"])
        return Response(status_code=204)

    async def list_subscriptions(request: Request) -> Response:
        return JSONResponse({"subscriptions": [s.body() for s in topic.subscriptions.values()]})

    async def put_settings(request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            return _error("InvalidRequest", "the body must be a JSON object")
        try:
            return JSONResponse(topic.update_settings(body))
        except ValueError as exc:
            return _error("InvalidRequest", str(exc))

    async def get_settings(request: Request) -> Response:
        return JSONResponse(topic.settings)

    async def deliveries(request: Request) -> Response:
        return JSONResponse({"deliveries": topic.deliveries})

    async def published(request: Request) -> Response:
        return JSONResponse({"events": topic.published})

    routes = [
        Route("/subscriptions", list_subscriptions, methods=["GET"]),
        Route("/subscriptions/{name}", put_subscription, methods=["PUT"]),
        Route("/subscriptions/{name}", delete_subscription, methods=["DELETE"]),
        Route("/settings", put_settings, methods=["PUT"]),
        Route("/settings", get_settings, methods=["GET"]),
        Route("/deliveries", deliveries, methods=["GET"]),
    ]
    if events:
        routes.append(Route("/events", published, methods=["GET"]))
    return routes
