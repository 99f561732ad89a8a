"""The read-only entry points: they need Table Storage only, so the routes that serve them load neither the ARM
SDK nor the EMQX client (`shared.lifecycle` loads both), which keeps a cold start on a GET short.

get_link    GET /api/links/{name}   desired + observed
list_links  GET /api/links          paged
"""

from __future__ import annotations

from typing import Any

from shared.answers import Answer, link_view
from shared.store import Store


async def get_link(store: Store, name: str) -> Answer:
    return Answer(200, link_view(await store.get_link(name)))


async def list_links(store: Store, page_size: int, continuation: str | None, base_url: str) -> Answer:
    links, token = await store.list_links(page_size, continuation)
    body: dict[str, Any] = {"value": [link_view(link) for link in links]}
    if token:
        body["nextLink"] = f"{base_url}?top={page_size}&skipToken={token}"
    return Answer(200, body)
