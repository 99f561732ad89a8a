"""An Event Grid custom topic with the CloudEvents v1.0 input schema, as `azure-eventgrid`'s
`EventGridPublisherClient` publishes to it with a managed identity (`shared/eventgrid.py` does).

The publisher POSTs `https://<topic endpoint>/api/events?api-version=2018-01-01` with
`Content-Type: application/cloudevents-batch+json; charset=utf-8` and `Authorization: Bearer <token>` for the scope
`https://eventgrid.azure.net/.default` (azure-eventgrid 4.22.1: `_legacy/aio/_publisher_client_async.py` `send`,
`_legacy/_helpers.py` `_build_request`, `_legacy/_constants.py`). Per request, in this order (`wire.py` has every
answer's wording and source; the service's own order of checks is not documented):

1. the failure switch (`custom_control.py`): an armed failure answers its status, drops the connection or delays;
2. the path (`/api/events`, else 404) and the method (POST, else 405), then `api-version` (`2018-01-01`, else 400);
3. the credential: a bearer token the managed identity endpoint issued (`localcloud.identity.TokenAuthority`: the
   shared key, this tenant's issuer, not expired, audience `https://eventgrid.azure.net`), of an identity holding
   EventGrid Data Sender on the topic (`senders`; the docs: Event Grid checks `Microsoft.EventGrid/events/send/action`,
   `articles/event-grid/authenticate-with-microsoft-entra-id.md`); else 401. Access keys and SAS tokens are refused:
   the deployment disables local authentication (README "Events");
4. the request size (1,536,000 bytes, else 413), the Content-Type (415), the JSON and each event's required
   attributes (400), each event's size (1,049,600 bytes, else 413);
5. 200 with an empty body; the events are recorded and delivered to the topic's webhook subscriptions in the
   CloudEvents schema (`topic.Topic`: abuse-protection handshake, one event per POST, Event Grid's retries).

Every request is recorded (`CustomTopic.publishes`): status, error, the relevant headers and, when accepted, the
events. Never the token itself.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from localcloud.eventgrid import wire
from localcloud.eventgrid.events import event_time
from localcloud.eventgrid.topic import Topic
from localcloud.identity import EVENTGRID_AUDIENCES, TokenAuthority, TokenError
from localcloud.serving import drop_connection

Clock = Callable[[], float]
PUBLISH_PATH = "/api/events"


class DroppedError(Exception):
    """The connection was closed without an answer (the `drop` failure)."""


@dataclass
class Failure:
    """What the next publishes suffer: `kind` `status` (that status, Event Grid's error body), `drop` (the connection
    closed unanswered) or `slow` (the real answer after `delay_seconds`); `count` None: until cleared."""

    kind: str = "status"
    status: int = 503
    count: int | None = 1
    fired: int = 0
    retry_after: float | None = None
    delay_seconds: float = 2.0
    code: str | None = None
    message: str | None = None

    KINDS = ("status", "drop", "slow")

    @classmethod
    def from_spec(cls, spec: Any) -> Failure:
        """The failure a control request describes; ValueError names a bad field."""
        if not isinstance(spec, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(spec) - {"kind", "status", "count", "retryAfter", "delaySeconds", "code", "message"}
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        kind = spec.get("kind", "status")
        if kind not in cls.KINDS:
            raise ValueError(f"'kind' must be one of {', '.join(cls.KINDS)}")
        status = spec.get("status", 503)
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError("'status' must be an HTTP error status (400-599)")
        count = spec.get("count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise ValueError("'count' must be a positive integer, or null: until the failure is cleared")
        numbers = {name: spec.get(name) for name in ("retryAfter", "delaySeconds") if spec.get(name) is not None}
        for name, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"'{name}' must be a non-negative number")
        for name in ("code", "message"):
            if not isinstance(spec.get(name, ""), str):
                raise ValueError(f"'{name}' must be a string")
        return cls(
            kind=kind,
            status=status,
            count=count,
            retry_after=numbers.get("retryAfter"),
            delay_seconds=float(numbers.get("delaySeconds", 2.0)),
            code=spec.get("code"),
            message=spec.get("message"),
        )

    @property
    def remaining(self) -> int | None:
        return None if self.count is None else max(self.count - self.fired, 0)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": self.status,
            "count": self.count,
            "remaining": self.remaining,
            "fired": self.fired,
            "retryAfter": self.retry_after,
            "delaySeconds": self.delay_seconds,
            "code": self.code,
            "message": self.message,
        }

    def error(self) -> wire.EventGridError:
        code = self.code or wire.status_name(self.status)
        message = self.message or (
            "The service is unavailable; retry the request later."
            if self.status == 503
            else f"The request failed with an injected {self.status} {code}."
        )
        headers = {"Retry-After": f"{self.retry_after:g}"} if self.retry_after is not None else {}
        return wire.EventGridError(self.status, code, code, message, headers=headers)


class CustomTopic:
    """The topic's state: its deliveries (`topic`), who may send, the failure switch, every publish received."""

    def __init__(self, *, topic_id: str, senders: Iterable[str], topic: Topic, clock: Clock = time.time) -> None:
        self.topic_id = topic_id
        self.default_senders = tuple(senders)
        self.senders = {sender.lower() for sender in self.default_senders}
        self.topic = topic
        self.clock = clock
        self.failure: Failure | None = None
        self.publishes: list[dict[str, Any]] = []
        self._seq = 0

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Add a request to the publish log, numbered from 1 since the last reset."""
        self._seq += 1
        entry["seq"] = self._seq
        self.publishes.append(entry)
        return entry

    def set_senders(self, senders: Iterable[str]) -> list[str]:
        self.senders = {sender.lower() for sender in senders}
        return sorted(self.senders)

    def take_failure(self) -> Failure | None:
        """The armed failure for this publish, counted; None when there is none (or it is spent)."""
        failure = self.failure
        if failure is None:
            return None
        if failure.remaining == 0:
            return None
        failure.fired += 1
        return failure

    def events(self) -> list[dict[str, Any]]:
        """Every accepted event in order, with the parts of its request a test looks at."""
        return [
            {
                "publish": entry["seq"],
                "requestId": entry["requestId"],
                "clientId": (entry["principal"] or {}).get("clientId"),
                "contentType": entry["contentType"],
                "event": event,
            }
            for entry in self.publishes
            for event in entry["events"]
        ]

    def clear_history(self) -> None:
        self.publishes.clear()
        self.topic.published.clear()

    async def reset(self) -> None:
        """Forget publishes, subscriptions, deliveries and the failure; the default senders again."""
        self.publishes.clear()
        self._seq = 0
        self.failure = None
        self.senders = {sender.lower() for sender in self.default_senders}
        await self.topic.reset({})


def _principal(claims: dict[str, Any]) -> dict[str, Any]:
    return {"clientId": claims.get("appid"), "objectId": claims.get("oid"), "audience": claims.get("aud")}


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, int]:
    """The body (at most `limit` + 1 bytes kept) and its whole length; the rest is read and dropped."""
    chunks: list[bytes] = []
    kept = length = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        length += len(chunk)
        if kept <= limit:
            chunks.append(chunk)
            kept += len(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks), length


class PublishEndpoint:
    """The data plane (an ASGI app): `POST /api/events`; everything else is Event Grid's 404."""

    def __init__(
        self,
        state: CustomTopic,
        authority: TokenAuthority,
        *,
        max_request_bytes: int = wire.MAX_REQUEST_BYTES,
        max_event_bytes: int = wire.MAX_EVENT_BYTES,
    ) -> None:
        self.state = state
        self.authority = authority
        self.max_request_bytes = max_request_bytes
        self.max_event_bytes = max_event_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = Headers(scope=scope)
        request_id = str(uuid.uuid4())
        entry = self._entry(scope, headers, request_id)
        extra: dict[str, str] = {}
        try:
            await self._serve(scope, receive, headers, entry)
            status, body, content_type = 200, b"", None
        except DroppedError:
            entry["status"] = None
            return
        except wire.EventGridError as error:
            entry["error"] = {"code": error.code, "detailCode": error.detail_code, "message": error.message}
            status = error.status
            body = wire.error_body(error.code, error.full_message(request_id, self.state.clock()), error.detail_code)
            content_type = "application/json; charset=utf-8" if error.json_content_type else None
            extra = error.headers
        entry["status"] = status
        response_headers = [
            (b"api-supported-versions", wire.API_VERSION.encode()),
            (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
            (b"x-ms-request-id", request_id.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        if content_type:
            response_headers.append((b"content-type", content_type.encode()))
        response_headers += [(name.lower().encode(), value.encode()) for name, value in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})

    def _entry(self, scope: Scope, headers: Headers, request_id: str) -> dict[str, Any]:
        """The record of this request, in the publish log from the start (a dropped one shows status null)."""
        query = scope.get("query_string", b"").decode("latin-1")
        entry: dict[str, Any] = {
            "seq": None,
            "time": event_time(self.state.clock()),
            "requestId": request_id,
            "method": scope["method"],
            "path": scope["path"],
            "query": query,
            "contentType": headers.get("content-type"),
            "contentLength": None,
            "clientRequestId": headers.get("x-ms-client-request-id"),
            "userAgent": headers.get("user-agent"),
            "credential": _credential_kind(headers),
            "principal": None,
            "status": None,
            "error": None,
            "failure": None,
            "events": [],
        }
        return self.state.record(entry)

    async def _serve(self, scope: Scope, receive: Receive, headers: Headers, entry: dict[str, Any]) -> None:
        method, path = scope["method"], scope["path"]
        host = headers.get("host", "localhost")
        uri = f"https://{host}{path}" + (f"?{entry['query']}" if entry["query"] else "")
        publishing = path.rstrip("/").lower() == PUBLISH_PATH and method == "POST"
        failure = self.state.take_failure() if publishing else None
        if failure is not None:
            entry["failure"] = failure.kind if failure.kind != "status" else f"status {failure.status}"
            if failure.kind == "drop":
                await drop_connection(receive)
                raise DroppedError
            if failure.kind == "status":
                raise failure.error()
            await asyncio.sleep(failure.delay_seconds)
        if path.rstrip("/").lower() != PUBLISH_PATH:
            raise wire.not_found(uri)
        if method != "POST":
            raise wire.method_not_allowed(method)
        wire.check_api_version(parse_qs(entry["query"]).get("api-version", [None])[0], uri)
        entry["principal"] = self._authenticate(headers, host.rsplit(":", 1)[0].upper())
        body, length = await _read_body(receive, self.max_request_bytes)
        entry["contentLength"] = length
        if length > self.max_request_bytes:
            raise wire.too_large(self.max_request_bytes)
        mode = wire.content_mode(headers.get("content-type"))
        events = wire.parse_events(body, mode)
        if any(wire.event_size(event) > self.max_event_bytes for event in events):
            raise wire.too_large(self.max_event_bytes)
        entry["events"] = events
        for event in events:
            self.state.topic.publish(event)

    def _authenticate(self, headers: Headers, host: str) -> dict[str, Any]:
        """The sender's principal, or 401 (wire.py: which wordings are the service's)."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            if headers.get("aeg-sas-key") or headers.get("aeg-sas-token") or scheme.lower() == "sharedaccesssignature":
                raise wire.unauthorized(
                    f"The request authorization key is not authorized for {host}. This is due to the reason: local "
                    "authentication (access keys and shared access signatures) is disabled for this topic."
                )
            raise wire.unauthorized(
                "Request must contain one of the following authorization signature: aeg-sas-token, aeg-sas-key."
            )
        try:
            claims = self.authority.verify(token.strip(), EVENTGRID_AUDIENCES)
        except TokenError as exc:
            raise wire.unauthorized(
                f"The request authorization key is not authorized for {host}. This is due to the reason: {exc.message}"
            ) from exc
        if str(claims.get("appid", "")).lower() not in self.state.senders:
            raise wire.unauthorized(
                "The principal associated with access token presented with the incoming request does not have "
                f"permission to send data to {self.state.topic_id}."
            )
        return _principal(claims)


def _credential_kind(headers: Headers) -> str | None:
    """Which credential the request carried (never its value)."""
    scheme = headers.get("authorization", "").partition(" ")[0]
    if scheme:
        return scheme
    for name in ("aeg-sas-key", "aeg-sas-token"):
        if name in headers:
            return name
    return None
