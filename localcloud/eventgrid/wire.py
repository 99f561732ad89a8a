"""Event Grid's publishing data plane on the wire (basic tier, `POST https://<topic endpoint>/api/events`): its error
bodies, and what a custom topic with the CloudEvents v1.0 input schema accepts.

Sources, captured answers of the real service unless said otherwise:

- Success: 200, empty body, `api-supported-versions: 2018-01-01`, `x-ms-request-id` (Azure/azure-sdk-for-js
  `sdk/eventgrid/eventgrid/recordings/node/eventgridpublisherclient_send_cloudevent_schema/
  recording_sends_multiple_events.json`).
- Errors: `{"error": {"code": <the status's name>, "message", "details": [{"code": <a finer code>, "message"}]}}`,
  `Content-Type: application/json; charset=utf-8`, laid out with CRLF as `error_body` writes it, the message ending in
  " Report '<x-ms-request-id>:<n>:<M/d/yyyy h:mm:ss tt> (UTC)' to our forums for assistance or raise a support
  ticket." (azure-sdk-for-python `sdk/eventgrid/azure-eventgrid/tests/recordings/`
  `test_exceptions.pyTestEventGridPublisherClientExceptionstest_raise_on_auth_error.json` and
  `test_eg_publisher_client.pyTestEventGridPublisherClienttest_send_token_credential.json`; microsoft/onefuzz#3285).
  - 400 `BadRequest` / `InputJsonInvalid`: "This resource is configured for 'EventGridEvent' schema. Received
    unexpected property ..." (microsoft/onefuzz#3285), and for a CloudEvents topic sent an array as one event "This
    resource is configured to receive event in 'CloudEventV10' schema. The JSON received does not conform to the
    expected schema. Token Expected: StartObject, Actual Token Received: StartArray."
    (Azure/azure-sdk-for-python#15941).
  - 401 `Unauthorized` / `Unauthorized`: a bad key "The request authorization key is not authorized for <HOST>. This is
    due to the reason: <why>." (the auth-error recording above); a bearer token whose principal lacks
    `Microsoft.EventGrid/events/send/action` "The principal associated with access token presented with the incoming
    request does not have permission to send data to <topic resource id>." (the token-credential recording above); no
    credential at all "Request must contain one of the following authorization signature: aeg-sas-token,
    aeg-sas-key." (quoted by azure-eventgrid `_legacy/_signature_credential_policy.py`).
  - 404 `NotFound` / `ResourceNotFound`: "No HTTP resource was found that matches the request URI '<uri>'." with
    "Report '<id>:<time> (UTC)'" (azure-sdk-for-js `.../eventgridpublisherclient_send_error_cases_cloudevent_schema/
    recording_does_not_append_apievents.json`).
  - 413 `RequestEntityTooLarge` / `PayloadTooLarge`: "The maximum size (1536000) has been exceeded.", no report
    suffix, no Content-Type (the `test_raise_on_large_payload` recording of azure-sdk-for-python): the request limit is
    1,536,000 bytes, not the documented 1 MB.
  - 415: "The Content-Type header is either missing or it doesn't have a valid value. The content type header must
    either be application/cloudevents+json; charset=utf-8 or application/cloudevents-batch+json; charset=UTF-8."
    (Azure/azure-sdk-for-net#10684; the status: arcus-azure/arcus.eventgrid#117, Azure/azure-sdk-for-java#8103).
- Limits: "Event size 1 MB" and 5,000 events per batch (MicrosoftDocs/azure-docs
  `articles/event-grid/quotas-limits.md`); measured against the service, one event may be 1,049,600 bytes
  (pm7y/AzureEventGridSimulator#201, consistent with Azure/azure-sdk-for-go#16160) and a request 1,536,000 (above).
- The CloudEvents attributes `id`, `source`, `type` and `specversion` are required (azure-rest-api-specs
  `specification/eventgrid/data-plane/EventGrid/stable/2018-01-01/EventGrid.json`, `CloudEventEvent`), and
  `specversion` is "1.0" (CloudEvents 1.0 `spec.md`).

Written in the service's style but not captured (codes and statuses as above): the 400 wordings for unparsable JSON,
a missing attribute and a wrong `specversion`; the 413 for one event over its limit; 415's codes; 401's reasons for a
bearer token that is invalid, expired or for another audience, and for a key on a topic with local auth disabled; the
api-version errors (the wording of ASP.NET API Versioning, which `api-supported-versions` shows the service uses) and
405 (ASP.NET Web API's, whose 404 wording the service answers).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

API_VERSION = "2018-01-01"
MAX_REQUEST_BYTES = 1_536_000
MAX_EVENT_BYTES = 1_049_600
MAX_EVENTS = 5_000
SCHEMA_NAME = "CloudEventV10"
BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
SINGLE_MEDIA_TYPE = "application/cloudevents+json"
REQUIRED_ATTRIBUTES = ("id", "source", "type", "specversion")
SUPPORT = "to our forums for assistance or raise a support ticket."
CONTENT_TYPE_MESSAGE = (
    "The Content-Type header is either missing or it doesn't have a valid value. The content type header must either "
    "be application/cloudevents+json; charset=utf-8 or application/cloudevents-batch+json; charset=UTF-8."
)
_JSON_TOKENS = {dict: "StartObject", list: "StartArray", str: "String", bool: "Boolean", int: "Integer", float: "Float"}


@dataclass
class EventGridError(Exception):
    """One refusal, as the service words it. `report`: the message ends in the report suffix (`"count"`: with the
    number the 400/401 answers carry, `"plain"`: without it, as the 404 does; `None`: none, as the 413)."""

    status: int
    code: str
    detail_code: str
    message: str
    report: str | None = "count"
    json_content_type: bool = True
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def full_message(self, request_id: str, now: float) -> str:
        if self.report is None:
            return self.message
        number = "1:" if self.report == "count" else ""
        return f"{self.message} Report '{request_id}:{number}{report_time(now)} (UTC)' {SUPPORT}"


def status_name(status: int) -> str:
    """The status as .NET's HttpStatusCode names it (the errors' `code`): 503 -> ServiceUnavailable."""
    names = {413: "RequestEntityTooLarge", 415: "UnsupportedMediaType"}
    try:
        return names.get(status) or HTTPStatus(status).phrase.replace(" ", "").replace("-", "")
    except ValueError:
        return str(status)


def report_time(epoch: float) -> str:
    """`M/d/yyyy h:mm:ss tt`, as the report suffix writes the time (UTC)."""
    t = time.gmtime(epoch)
    hour = t.tm_hour % 12 or 12
    return f"{t.tm_mon}/{t.tm_mday}/{t.tm_year} {hour}:{t.tm_min:02d}:{t.tm_sec:02d} {'AM' if t.tm_hour < 12 else 'PM'}"


def error_body(code: str, message: str, detail_code: str) -> bytes:
    """The error JSON byte for byte as the service lays it out (CRLF; the recordings above)."""
    message_json = json.dumps(message)
    return (
        "{\r\n"
        '    "error": {\r\n'
        f'        "code": {json.dumps(code)},\r\n'
        f'        "message": {message_json},\r\n'
        '        "details": [{\r\n'
        f'            "code": {json.dumps(detail_code)},\r\n'
        f'            "message": {message_json}\r\n'
        "    }]\r\n"
        "  }\r\n"
        "}"
    ).encode()


def bad_request(message: str, detail_code: str = "InputJsonInvalid") -> EventGridError:
    return EventGridError(400, "BadRequest", detail_code, message)


def unauthorized(message: str) -> EventGridError:
    return EventGridError(401, "Unauthorized", "Unauthorized", message)


def too_large(limit: int) -> EventGridError:
    return EventGridError(
        413,
        "RequestEntityTooLarge",
        "PayloadTooLarge",
        f"The maximum size ({limit}) has been exceeded.",
        report=None,
        json_content_type=False,
    )


def not_found(uri: str) -> EventGridError:
    message = f"No HTTP resource was found that matches the request URI '{uri}'."
    return EventGridError(404, "NotFound", "ResourceNotFound", message, report="plain")


def method_not_allowed(method: str) -> EventGridError:
    message = f"The requested resource does not support http method '{method}'."
    return EventGridError(405, "MethodNotAllowed", "MethodNotAllowed", message, headers={"Allow": "POST"})


def check_api_version(api_version: str | None, uri: str) -> None:
    if not api_version:
        raise bad_request("An API version is required, but was not specified.", "ApiVersionUnspecified")
    if api_version != API_VERSION:
        raise bad_request(
            f"The HTTP resource that matches the request URI '{uri}' does not support the API version '{api_version}'.",
            "UnsupportedApiVersion",
        )


def content_mode(content_type: str | None) -> str:
    """`batch` or `single` (structured mode) from the Content-Type, else 415. A single event is CloudEvents'
    structured mode, which the 415 message names and Event Grid's product manager confirms for CloudEvents topics
    (MicrosoftDocs/azure-docs#42797); `application/json` is one event too: the service parses it as a single
    CloudEvent (the StartObject/StartArray answer of Azure/azure-sdk-for-python#15941)."""
    media, _, parameters = (content_type or "").partition(";")
    media = media.strip().lower()
    charset = "utf-8"
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    modes = {BATCH_MEDIA_TYPE: "batch", SINGLE_MEDIA_TYPE: "single", "application/json": "single"}
    if media not in modes or charset not in ("utf-8", "utf8"):
        raise EventGridError(415, "UnsupportedMediaType", "UnsupportedMediaType", CONTENT_TYPE_MESSAGE)
    return modes[media]


def _token(value: Any) -> str:
    return "Null" if value is None else _JSON_TOKENS.get(type(value), "Undefined")


def _schema_mismatch(expected: str, received: Any) -> EventGridError:
    return bad_request(
        f"This resource is configured to receive event in '{SCHEMA_NAME}' schema. The JSON received does not conform "
        f"to the expected schema. Token Expected: {expected}, Actual Token Received: {_token(received)}."
    )


def parse_events(body: bytes, mode: str) -> list[dict[str, Any]]:
    """The CloudEvents of a structured-mode body (`mode` from `content_mode`), each checked; 400 for the first fault."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        where = f" Path '', line {exc.lineno}, position {exc.colno}." if isinstance(exc, json.JSONDecodeError) else ""
        raise bad_request(
            f"This resource is configured to receive event in '{SCHEMA_NAME}' schema. The JSON received could not be "
            f"parsed.{where}"
        ) from exc
    if mode == "batch":
        if not isinstance(document, list):
            raise _schema_mismatch("StartArray", document)
        events = document
    else:
        events = [document]
    for event in events:
        if not isinstance(event, dict):
            raise _schema_mismatch("StartObject", event)
        for attribute in REQUIRED_ATTRIBUTES:
            value = event.get(attribute)
            if not isinstance(value, str) or not value:
                raise bad_request(
                    f"This resource is configured for '{SCHEMA_NAME}' schema and requires '{attribute}' property to "
                    "be set."
                )
        if event["specversion"] != "1.0":
            raise bad_request(
                f"This resource is configured for '{SCHEMA_NAME}' schema and requires 'specversion' property to be "
                f"'1.0', not '{event['specversion']}'."
            )
    if len(events) > MAX_EVENTS:
        raise bad_request(f"The number of events ({len(events)}) exceeds the maximum of {MAX_EVENTS} per request.")
    return events


def event_size(event: dict[str, Any]) -> int:
    """An event's size as counted against the per-event limit: its compact UTF-8 JSON."""
    return len(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode())
