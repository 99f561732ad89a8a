"""What an entry point returns to its adapter in functions/ (status, body, headers), and a link as the API shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.model import Link


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def link_view(link: Link) -> dict[str, Any]:
    return {
        "name": link.name,
        "generation": link.generation,
        "spec": link.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        "status": link.status.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
