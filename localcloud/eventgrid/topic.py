"""A topic delivering to webhooks the way Event Grid does: the system topic over the emulated subscriptions, and the
custom topic's deliveries (`custom_topic.py`).

- Creating an event subscription first runs the handshake of its delivery schema, else creation fails:
  - `EventGridSchema`: the validation event (POST with `aeg-event-type: SubscriptionValidation`; the endpoint must
    answer 200 `{"validationResponse": <code>}`);
  - `CloudEventSchemaV1_0`: CloudEvents v1.0 abuse protection instead of the validation event: `OPTIONS` with
    `WebHook-Request-Origin: eventgrid.azure.net`; the endpoint consents with a 2xx answer carrying
    `WebHook-Allowed-Origin` set to that origin or `*` (MicrosoftDocs/azure-docs
    `articles/event-grid/end-point-validation-cloud-events-schema.md`; the origin Event Grid names is
    `eventgrid.azure.net`, the value the Functions Event Grid extension answers, Azure/azure-sdk-for-net#21612).
- Each published event goes to every subscription whose filters accept it, one event per POST: an array of one in
  the Event Grid schema; in the CloudEvents schema the event object itself, structured mode, `Content-Type:
  application/cloudevents+json; charset=utf-8` ("An event subscription that's configured for CloudEvent schema
  receives each event individually"; the headers are the Event Grid schema's but for content-type:
  `articles/event-grid/cloudevents-schema.md`, `cloud-event-schema.md`), with the `aeg-*` headers
  (`aeg-metadata-version` is the spec version and `aeg-data-version` does not apply to CloudEvents:
  `articles/event-grid/includes/message-headers.md`). At least once: non-2xx answers and connection errors are
  retried on Event Grid's schedule (10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, then hourly; at most 30 attempts;
  longer minimum waits after 401/403/404, 408 and 503), every wait divided by the speed factor.
- On demand: `duplicates` extra copies of every delivery, and `shuffle` (random delays, so order is lost).
- Deliveries run as tasks in the serving event loop; `close()` cancels those still waiting.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from localcloud.eventgrid.events import event_time, validation_event

SUCCESS = frozenset({200, 201, 202, 203, 204})
RETRY_SCHEDULE = (10, 30, 60, 300, 600, 1800, 3600)
MAX_ATTEMPTS = 30
TTL_SECONDS = 24 * 3600
SHUFFLE_WINDOW = 2.0
DELIVERY_TIMEOUT = 30.0
_MINIMUM_WAIT = {400: 10, 413: 10, 401: 300, 403: 300, 404: 300, 408: 120, 503: 30}
# The `eventDeliverySchema` values of an event subscription (Microsoft.EventGrid eventSubscriptions, ARM).
EVENTGRID_SCHEMA = "EventGridSchema"
CLOUDEVENTS_SCHEMA = "CloudEventSchemaV1_0"
DELIVERY_SCHEMAS = (EVENTGRID_SCHEMA, CLOUDEVENTS_SCHEMA)
# The sender's name in the CloudEvents abuse-protection handshake and, once granted, in every delivery's `Origin`.
WEBHOOK_ORIGIN = "eventgrid.azure.net"
CLOUDEVENT_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"


class HandshakeError(Exception):
    pass


@dataclass
class EventSubscription:
    name: str
    endpoint: str
    subject_begins_with: str = ""
    subject_ends_with: str = ""
    included_event_types: tuple[str, ...] | None = None
    delivery_schema: str = EVENTGRID_SCHEMA

    @property
    def cloud_events(self) -> bool:
        return self.delivery_schema == CLOUDEVENTS_SCHEMA

    @property
    def endpoint_base_url(self) -> str:
        """The endpoint without its query (which may carry a key), as Azure shows it."""
        parts = urlsplit(self.endpoint)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

    def wants(self, event: dict[str, Any]) -> bool:
        subject = str(event.get("subject", "")).lower()
        if not subject.startswith(self.subject_begins_with.lower()) or not subject.endswith(
            self.subject_ends_with.lower()
        ):
            return False
        types = self.included_event_types
        return types is None or event_type_of(event).lower() in {t.lower() for t in types}

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpointBaseUrl": self.endpoint_base_url,
            "subjectBeginsWith": self.subject_begins_with,
            "subjectEndsWith": self.subject_ends_with,
            "includedEventTypes": list(self.included_event_types) if self.included_event_types is not None else None,
            "eventDeliverySchema": self.delivery_schema,
            "provisioningState": "Succeeded",
        }


def event_type_of(event: dict[str, Any]) -> str:
    """The type an event subscription filters on: `eventType` in the Event Grid schema, `type` in CloudEvents."""
    return str(event.get("type", "") if "specversion" in event else event.get("eventType", ""))


class Topic:
    """Subscriptions and deliveries of one topic. Settings: `duplicates`, `shuffle` (see the module docstring)."""

    SETTINGS: dict[str, Any] = {"duplicates": 0, "shuffle": False}
    CHECKS: dict[str, Callable[[Any], bool]] = {
        "duplicates": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10,
        "shuffle": lambda v: isinstance(v, bool),
    }

    def __init__(
        self,
        *,
        topic: str,
        speed: float = 1.0,
        clock: Callable[[], float] = time.time,
        ca_bundle: str | None = None,
        location: str = "westeurope",
    ):
        self.topic = topic
        self.speed = speed
        self.clock = clock
        self.location = location
        self._verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        self.subscriptions: dict[str, EventSubscription] = {}
        self.settings: dict[str, Any] = dict(self.SETTINGS)
        self.published: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(verify=self._verify, timeout=DELIVERY_TIMEOUT)
        return self._client

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def reset(self, settings: dict[str, Any]) -> None:
        """Drop subscriptions, pending deliveries and history; start over with `settings`."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.subscriptions.clear()
        self.published.clear()
        self.deliveries.clear()
        self.settings = dict(self.SETTINGS)
        self.update_settings(settings)

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a partial settings change; ValueError names a bad field."""
        for name, value in changes.items():
            if name not in self.CHECKS or not self.CHECKS[name](value):
                raise ValueError(f"bad setting {name!r}: {value!r}")
        self.settings.update(changes)
        return dict(self.settings)

    async def subscribe(self, subscription: EventSubscription) -> bool:
        """Validate the endpoint with the handshake, then start delivering to it. True when newly created."""
        if subscription.cloud_events:
            await self._abuse_protection_handshake(subscription)
        else:
            await self._validation_handshake(subscription)
        created = subscription.name.lower() not in self.subscriptions
        self.subscriptions[subscription.name.lower()] = subscription
        return created

    async def _validation_handshake(self, subscription: EventSubscription) -> None:
        code = str(uuid.uuid4())
        event = validation_event(
            topic=self.topic,
            validation_code=code,
            validation_url=(
                f"https://rp-{self.location}.eventgrid.azure.net:553/eventsubscriptions/{subscription.name}"
                f"/validate?id={code}&t={event_time(self.clock())}&apiVersion=2018-05-01-preview&token={uuid.uuid4().hex}"
            ),
            occurred_at=event_time(self.clock()),
        )
        headers = {"aeg-event-type": "SubscriptionValidation", **self._headers(subscription, 0, "1")}
        try:
            response = await self._http().post(subscription.endpoint, content=json.dumps([event]), headers=headers)
        except httpx.HTTPError as exc:
            raise HandshakeError(self._handshake_message(subscription, type(exc).__name__)) from exc
        answered = None
        if response.status_code == 200:
            try:
                answered = response.json().get("validationResponse")
            except (ValueError, AttributeError):
                answered = None
        if answered != code:
            raise HandshakeError(self._handshake_message(subscription, str(response.status_code)))

    async def _abuse_protection_handshake(self, subscription: EventSubscription) -> None:
        """CloudEvents v1.0 abuse protection: the `WebHook-Allowed-Origin` header is the consent, not the status
        (cloudevents/spec `http-webhook.md` section 4, and its author in cloudevents/spec#328)."""
        try:
            response = await self._http().options(
                subscription.endpoint, headers={"WebHook-Request-Origin": WEBHOOK_ORIGIN}
            )
        except httpx.HTTPError as exc:
            raise HandshakeError(self._handshake_message(subscription, type(exc).__name__, "OPTIONS")) from exc
        allowed = response.headers.get("webhook-allowed-origin", "").strip()
        if not 200 <= response.status_code < 300 or allowed not in (WEBHOOK_ORIGIN, "*"):
            raise HandshakeError(self._handshake_message(subscription, str(response.status_code), "OPTIONS"))

    @staticmethod
    def _handshake_message(subscription: EventSubscription, outcome: str, method: str = "POST") -> str:
        return (
            f"Webhook validation handshake failed for {subscription.endpoint_base_url}. Http {method} request failed "
            f"with response code {outcome}. For troublehooting, visit https://aka.ms/esvalidation."
        )

    def unsubscribe(self, name: str) -> bool:
        return self.subscriptions.pop(name.lower(), None) is not None

    def publish(self, event: dict[str, Any]) -> None:
        """Queue an event for every subscription that wants it (call from the serving event loop)."""
        self.published.append(event)
        for subscription in list(self.subscriptions.values()):
            if not subscription.wants(event):
                continue
            for _ in range(1 + int(self.settings["duplicates"])):
                delay = random.uniform(0, SHUFFLE_WINDOW) / self.speed if self.settings["shuffle"] else 0.0
                task = asyncio.get_running_loop().create_task(self._deliver(event, subscription, delay))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _headers(self, subscription: EventSubscription, attempt: int, data_version: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json; charset=utf-8",
            "aeg-subscription-name": subscription.name.upper(),
            "aeg-delivery-count": str(attempt),
            "aeg-data-version": data_version,
            "aeg-metadata-version": "1",
        }

    @staticmethod
    def _notification(
        event: dict[str, Any], subscription: EventSubscription, attempt: int
    ) -> tuple[str, dict[str, str]]:
        """The body and headers of one delivery attempt (`attempt` counts from 1)."""
        headers = {
            "aeg-event-type": "Notification",
            "aeg-subscription-name": subscription.name.upper(),
            "aeg-delivery-count": str(attempt - 1),
        }
        if subscription.cloud_events:
            # The sender names itself in `Origin` on every delivery once the handshake granted it
            # (end-point-validation-cloud-events-schema.md, "WebHook-Request-Origin").
            headers |= {
                "Content-Type": CLOUDEVENT_CONTENT_TYPE,
                "aeg-metadata-version": str(event.get("specversion", "")),
                "Origin": WEBHOOK_ORIGIN,
            }
            return json.dumps(event), headers
        headers |= {
            "Content-Type": "application/json; charset=utf-8",
            "aeg-data-version": str(event.get("dataVersion", "")),
            "aeg-metadata-version": "1",
        }
        return json.dumps([event]), headers

    async def _deliver(self, event: dict[str, Any], subscription: EventSubscription, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        waited = 0.0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if self.subscriptions.get(subscription.name.lower()) is not subscription:
                return
            body, headers = self._notification(event, subscription, attempt)
            status: int | None = None
            error: str | None = None
            try:
                response = await self._http().post(subscription.endpoint, content=body, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.deliveries.append(
                {
                    "eventId": event["id"],
                    "eventType": event_type_of(event),
                    "subject": event.get("subject"),
                    "subscription": subscription.name,
                    "attempt": attempt,
                    "status": status,
                    "error": error,
                    "time": event_time(self.clock()),
                }
            )
            if status in SUCCESS:
                return
            wait = max(RETRY_SCHEDULE[min(attempt - 1, len(RETRY_SCHEDULE) - 1)], _MINIMUM_WAIT.get(status or 0, 0))
            waited += wait
            if waited > TTL_SECONDS:
                return
            await asyncio.sleep(wait / self.speed)


class SystemTopic(Topic):
    """The subscription's system topic of ARM events; also `pendingConnectionEvents` (see `localcloud.arm`)."""

    SETTINGS: dict[str, Any] = {"pendingConnectionEvents": False, **Topic.SETTINGS}
    CHECKS: dict[str, Callable[[Any], bool]] = {
        "pendingConnectionEvents": lambda v: isinstance(v, bool),
        **Topic.CHECKS,
    }
