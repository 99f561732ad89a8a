"""The read-only entry points: they read the Links table and show what is stored, so the routes that serve them
load neither the ARM SDK nor the EMQX client (`shared.lifecycle` loads both), nor the model (pydantic) and the
Azure SDK when `shared.table_reads` can reach the table (the README's "Cold start").

get_link    GET /api/links/{name}   desired + observed
list_links  GET /api/links          paged
"""

from __future__ import annotations

from typing import Any, Protocol

from shared.answers import Answer, record_view
from shared.errors import NotFoundError
from shared.link_record import StoredLink


class LinkReads(Protocol):
    """Where the links are read from: `shared.table_reads.TableReads`, or the store (`shared.store.Store`)."""

    async def read_link(self, name: str) -> StoredLink: ...

    async def read_links(self, page_size: int, continuation: str | None) -> tuple[list[StoredLink], str | None]: ...


def _gone(link: StoredLink) -> bool:
    """A removed link kept only until its LinkDeleted event is published (`shared.run_frame.save`)."""
    return link.status.get("phase") == "deleted"


async def get_link(reads: LinkReads, name: str) -> Answer:
    link = await reads.read_link(name)
    if _gone(link):
        raise NotFoundError(f"Link {name} does not exist.", target="name")
    return Answer(200, record_view(link))


async def list_links(reads: LinkReads, page_size: int, continuation: str | None, base_url: str) -> Answer:
    links, token = await reads.read_links(page_size, continuation)
    body: dict[str, Any] = {"value": [record_view(link) for link in links if not _gone(link)]}
    if token:
        body["nextLink"] = f"{base_url}?top={page_size}&skipToken={token}"
    return Answer(200, body)
