"""A system topic over the emulated subscriptions, delivering to webhooks the way Event Grid does.

- Creating an event subscription first runs the validation handshake (POST with `aeg-event-type:
  SubscriptionValidation`; the endpoint must answer 200 `{"validationResponse": <code>}`), else creation fails.
- Each published event goes to every subscription whose filters accept it, one event per POST (an array of one),
  with the `aeg-*` headers; at least once: non-2xx answers and connection errors are retried on Event Grid's
  schedule (10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, then hourly; at most 30 attempts; longer minimum waits
  after 401/403/404, 408 and 503), every wait divided by the speed factor.
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


class HandshakeError(Exception):
    pass


@dataclass
class EventSubscription:
    name: str
    endpoint: str
    subject_begins_with: str = ""
    subject_ends_with: str = ""
    included_event_types: tuple[str, ...] | None = None

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
        return types is None or str(event.get("eventType", "")).lower() in {t.lower() for t in types}

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpointBaseUrl": self.endpoint_base_url,
            "subjectBeginsWith": self.subject_begins_with,
            "subjectEndsWith": self.subject_ends_with,
            "includedEventTypes": list(self.included_event_types) if self.included_event_types is not None else None,
            "provisioningState": "Succeeded",
        }


class SystemTopic:
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
        self.settings: dict[str, Any] = {"pendingConnectionEvents": False, "duplicates": 0, "shuffle": False}
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
        self.settings = {"pendingConnectionEvents": False, "duplicates": 0, "shuffle": False}
        self.update_settings(settings)

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a partial settings change; ValueError names a bad field."""
        checks: dict[str, Callable[[Any], bool]] = {
            "pendingConnectionEvents": lambda v: isinstance(v, bool),
            "duplicates": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10,
            "shuffle": lambda v: isinstance(v, bool),
        }
        for name, value in changes.items():
            if name not in checks or not checks[name](value):
                raise ValueError(f"bad setting {name!r}: {value!r}")
        self.settings.update(changes)
        return dict(self.settings)

    async def subscribe(self, subscription: EventSubscription) -> bool:
        """Validate the endpoint with the handshake, then start delivering to it. True when newly created."""
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
        created = subscription.name.lower() not in self.subscriptions
        self.subscriptions[subscription.name.lower()] = subscription
        return created

    @staticmethod
    def _handshake_message(subscription: EventSubscription, outcome: str) -> str:
        return (
            f"Webhook validation handshake failed for {subscription.endpoint_base_url}. Http POST request failed "
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

    async def _deliver(self, event: dict[str, Any], subscription: EventSubscription, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        waited = 0.0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if self.subscriptions.get(subscription.name.lower()) is not subscription:
                return
            headers = {
                "aeg-event-type": "Notification",
                **self._headers(subscription, attempt - 1, str(event.get("dataVersion", ""))),
            }
            status: int | None = None
            error: str | None = None
            try:
                response = await self._http().post(subscription.endpoint, content=json.dumps([event]), headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.deliveries.append(
                {
                    "eventId": event["id"],
                    "eventType": event.get("eventType"),
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
