"""Event Grid, the only module that imports azure.eventgrid: publish a link's pending life-cycle events.

`EventGridPublisherClient` (basic tier: a custom topic) with the app's managed identity, never an access key: the
SDK asks the credential for `https://eventgrid.azure.net/.default` and POSTs the batch as
`application/cloudevents-batch+json; charset=utf-8` (what `shared.events` builds is CloudEvents 1.0 JSON).
A refusal or a failure raises TemporaryError: the events stay in the outbox and the next run sends them again,
with the same ids.
"""

from __future__ import annotations

from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.eventgrid.aio import EventGridPublisherClient

from shared.errors import TemporaryError, cut
from shared.settings import Settings


class EventPublisher:
    """One publisher client for the process, made on first use. Close with `close()`."""

    def __init__(self, settings: Settings, credential: AsyncTokenCredential) -> None:
        if settings.eventgrid_topic_endpoint is None:
            raise ValueError("EVENTGRID_TOPIC_ENDPOINT is not set")
        self._endpoint = settings.eventgrid_topic_endpoint
        self._credential = credential
        self._verify: Any = str(settings.tls_ca_bundle) if settings.tls_ca_bundle else True
        self._client: EventGridPublisherClient | None = None

    def _publisher(self) -> EventGridPublisherClient:
        if self._client is None:
            self._client = EventGridPublisherClient(
                self._endpoint,
                self._credential,
                connection_verify=self._verify,
                retry_total=2,
                connection_timeout=10,
                read_timeout=30,
            )
        return self._client

    async def publish(self, events: list[dict[str, Any]]) -> None:
        """Send CloudEvents (JSON) as one batch; TemporaryError when Event Grid did not take them."""
        try:
            await self._publisher().send(events)
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as error:
            status = getattr(error, "status_code", None)
            detail = cut(getattr(error, "message", None) or type(error).__name__)
            raise TemporaryError(
                f"Event Grid did not take the events ({status or 'no answer'}): {detail}", code="EventPublishFailed"
            ) from error

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
