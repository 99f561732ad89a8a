"""What an entry point returns to its adapter in functions/ (status, body, headers), and a link as the API shows it.

The view is made of a link's JSON (`shared.link_record.StoredLink`), so the read-only routes show a stored link
without loading the model (pydantic): `link_view(link)` is `record_view` of the link's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.link_record import LINK_SPEC_SHAPE, LINK_STATUS_SHAPE, StoredLink, as_current

if TYPE_CHECKING:
    from shared.model import Link


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _without_none(value: Any) -> Any:
    """What pydantic's `exclude_none` leaves of a model's JSON: no field whose value is None, at any depth."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value


def record_view(link: StoredLink) -> dict[str, Any]:
    return {
        "name": link.name,
        "generation": link.generation,
        "spec": _without_none(as_current(link.spec, LINK_SPEC_SHAPE)),
        "status": _without_none(as_current(link.status, LINK_STATUS_SHAPE)),
    }


def link_view(link: Link) -> dict[str, Any]:
    return record_view(StoredLink.of(link))
