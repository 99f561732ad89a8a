"""Shared pieces of the custom topic tests: the emulated tenant, the running topic, a CloudEvents webhook."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from azure.eventgrid.aio import EventGridPublisherClient
from azure.identity.aio import ManagedIdentityCredential
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from localcloud import eventgrid, identity
from localcloud.serving import BackgroundServer
from localcloud.tls import LocalCA
from tests.localcloud.identity_tokens import token_from

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUBSCRIPTION = "6d3f0c10-2b1e-4c61-9f0e-6c1c2f1b7a01"
APP = "4c0c1d9e-5b6a-47f1-a1c2-0a9e8d7c6b03"  # the Function App's identity: an EventGrid Data Sender
OTHER = "b7e2f0a1-3c4d-4e5f-8a9b-1c2d3e4f5a04"  # an identity without the role
TOKEN_KEY = "localcloud-eventgrid-tests-token-key"
IDENTITY_HEADER = "localcloud-eventgrid-tests-identity-header"
TOPIC_ID = eventgrid.topic_resource_id(SUBSCRIPTION, "rg-events", "evgt-links")
EVENTGRID_RESOURCE = "https://eventgrid.azure.net"
FAST = 1000.0  # delivery retries 1000 times faster than Event Grid's schedule
BATCH = "application/cloudevents-batch+json; charset=utf-8"
WAIT_SECONDS, POLL_SECONDS = 5.0, 0.01


@dataclass
class Cloud:
    topic: str  # the topic's base URL
    identity: str  # the managed identity endpoint
    ca_bundle: str

    @property
    def endpoint(self) -> str:
        """The topic endpoint, as Azure shows it (and the stack passes it as EVENTGRID_TOPIC_ENDPOINT)."""
        return f"{self.topic}/api/events"

    @property
    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_bundle)

    def token(self, client_id: str = APP, resource: str = EVENTGRID_RESOURCE) -> str:
        return token_from(self.identity, IDENTITY_HEADER, client_id, resource)

    def control(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.topic}/localcloud", verify=self.tls)

    def post(
        self,
        body: bytes | str,
        *,
        token: str | None = None,
        content_type: str | None = BATCH,
        path: str = "/api/events",
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A raw publish, as the SDK sends it unless told otherwise."""
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        with httpx.Client(verify=self.tls) as client:
            return client.post(
                f"{self.topic}{path}",
                params=params if params is not None else {"api-version": "2018-01-01"},
                content=body,
                headers=headers,
            )

    def publishes(self) -> list[dict[str, Any]]:
        with self.control() as control:
            return list(control.get("/publishes").json()["publishes"])

    def events(self) -> list[dict[str, Any]]:
        with self.control() as control:
            return list(control.get("/events").json()["events"])


@contextlib.contextmanager
def running_cloud(ca: LocalCA) -> Iterator[Cloud]:
    identity_app = identity.create_app(
        identities={APP: [f"/subscriptions/{SUBSCRIPTION}"], OTHER: [f"/subscriptions/{SUBSCRIPTION}"]},
        default_client_id=APP,
        header=IDENTITY_HEADER,
        token_key=TOKEN_KEY,
        tenant_id=TENANT,
    )
    topic_app = eventgrid.create_app(
        token_key=TOKEN_KEY,
        tenant_id=TENANT,
        topic_id=TOPIC_ID,
        senders=[APP],
        speed=FAST,
        ca_bundle=str(ca.ca_bundle),
    )
    with BackgroundServer(identity_app) as ids, BackgroundServer(topic_app, ca.server) as topic:
        yield Cloud(topic=topic.base_url, identity=f"{ids.base_url}/msi/token", ca_bundle=str(ca.ca_bundle))


def cloud_event(number: int = 1, **changes: Any) -> dict[str, Any]:
    """A CloudEvent as the app writes them (shared/events.py: source, `links/{name}` subjects, the type prefix)."""
    event = {
        "id": f"00000000-0000-4000-8000-{number:012d}",
        "source": "/emqx-azure-privatelink",
        "type": "Com.Emqx.PrivateLink.LinkProvisioned",
        "specversion": "1.0",
        "subject": f"links/link-{number}",
        "time": "2026-01-01T00:00:00Z",
        "datacontenttype": "application/json",
        "data": {"name": f"link-{number}", "phase": "provisioned"},
    }
    event.update(changes)
    return {name: value for name, value in event.items() if value is not None}


@dataclass
class Webhook:
    """A CloudEvents receiver: grants the abuse-protection handshake (unless told not to), fails the first
    `failures` deliveries, and keeps every request it saw."""

    grants: bool = True
    failures: int = 0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def deliveries(self) -> list[tuple[dict[str, str], bytes]]:
        return [(headers, body) for method, headers, body in self.requests if method == "POST"]

    def app(self) -> Starlette:
        async def receive(request: Request) -> Response:
            self.requests.append((request.method, dict(request.headers), await request.body()))
            if request.method == "OPTIONS":
                origin = request.headers.get("webhook-request-origin")
                if not self.grants or not origin:
                    return Response(status_code=200)  # handles OPTIONS, but no consent
                return Response(status_code=200, headers={"WebHook-Allowed-Origin": origin, "Allow": "POST"})
            if self.failures:
                self.failures -= 1
                return Response(status_code=503)
            return Response(status_code=200)

        return Starlette(routes=[Route("/api/updates", receive, methods=["OPTIONS", "POST"])])


@contextlib.contextmanager
def served(hook: Webhook) -> Iterator[str]:
    """The webhook on loopback; its URL (with a key in the query, which Azure never shows back)."""
    with BackgroundServer(hook.app()) as server:
        yield f"{server.base_url}/api/updates?code=secret-webhook-key"


@contextlib.asynccontextmanager
async def publisher(cloud: Cloud, credential: Any = None, **options: Any) -> AsyncIterator[EventGridPublisherClient]:
    """The app's way to publish (shared/eventgrid.py): the SDK's async client with the managed identity and the CA
    bundle to trust (`connection_verify`); `options` go to the client (retry_total, retry_backoff_factor...)."""
    credential = credential if credential is not None else ManagedIdentityCredential()
    async with (
        credential,
        EventGridPublisherClient(cloud.endpoint, credential, connection_verify=cloud.ca_bundle, **options) as client,
    ):
        yield client
