"""Assembly of the custom topic's app: the data plane (`custom_topic.PublishEndpoint`) and its control API under
`/localcloud` (`custom_control.py`). Serve it over HTTPS (`localcloud.serving.Listener` with the local CA's
certificate); its topic endpoint is `<base url>/api/events`, as Azure shows a topic's
`https://<topic>.<region>-1.eventgrid.azure.net/api/events`.

Construction (keyword-only, plain values)::

    create_app(
        token_key="<HMAC key shared with localcloud.identity.create_app>",
        tenant_id="<tenant GUID>",
        topic_id="/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.EventGrid/topics/<name>",
        senders=["<client id holding EventGrid Data Sender on the topic>", ...],
        speed=1.0,                    # divides the delivery retry waits
        clock=time.time,              # token expiry, event and report times
        ca_bundle=None,               # CA bundle the deliveries trust (webhooks on localcloud's HTTPS)
        max_request_bytes=1_536_000,  # the service's limits (wire.py)
        max_event_bytes=1_049_600,
    ) -> Starlette   # app.state.custom_topic is the CustomTopic
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterable

from starlette.applications import Starlette
from starlette.routing import Mount

from localcloud.eventgrid import wire
from localcloud.eventgrid.custom_control import custom_control_routes
from localcloud.eventgrid.custom_topic import Clock, CustomTopic, PublishEndpoint
from localcloud.eventgrid.topic import Topic
from localcloud.identity import TokenAuthority


def topic_resource_id(subscription_id: str, resource_group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.EventGrid/topics/{name}"
    )


def create_app(
    *,
    token_key: str,
    tenant_id: str,
    topic_id: str,
    senders: Iterable[str],
    speed: float = 1.0,
    clock: Clock = time.time,
    ca_bundle: str | None = None,
    location: str = "westeurope",
    max_request_bytes: int = wire.MAX_REQUEST_BYTES,
    max_event_bytes: int = wire.MAX_EVENT_BYTES,
) -> Starlette:
    if speed <= 0:
        raise ValueError("speed must be positive")
    topic = Topic(topic=topic_id, speed=speed, clock=clock, ca_bundle=ca_bundle, location=location)
    state = CustomTopic(topic_id=topic_id, senders=senders, topic=topic, clock=clock)
    authority = TokenAuthority(key=token_key, tenant_id=tenant_id, clock=clock)
    endpoint = PublishEndpoint(state, authority, max_request_bytes=max_request_bytes, max_event_bytes=max_event_bytes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await topic.close()

    app = Starlette(
        routes=[Mount("/localcloud", routes=custom_control_routes(state)), Mount("/", app=endpoint)],
        lifespan=lifespan,
    )
    app.state.custom_topic = state
    return app
