"""A stored link as JSON, without pydantic: the one codec of the Links table's entities, used by the store (which
validates the JSON into `shared.model.Link`) and by the read-only routes (`shared.table_reads`, which show it as
it is).

    entity ──stored_link_from_entity──> StoredLink(name, generation, spec, status, etag) ──as_current──> the JSON
    JSON ──link_entity──> entity                                                            a pydantic load dumps

The entity (PartitionKey link name, RowKey "link"): `Generation`, and the desired state and the observed status as
JSON split over `Desired0..n` / `Status0..n` (a string property holds at most 64 KiB, an entity 1 MiB; the oldest
history entries are dropped if a status would not fit). The JSON is what `model_dump(mode="json")` gives:
camelCase, every field present.

A record written by an older version may lack fields added since, and hold fields since removed. `as_current`
gives the JSON a load through the current model would dump: unknown fields dropped, missing ones filled with
their defaults, following `LINK_SPEC_SHAPE` and `LINK_STATUS_SHAPE` (tests/unit/test_link_record.py derives
both from `shared.model` and fails, printing the difference, when a model changes without them). Values are
taken as stored: the store wrote them through the model, so they already passed its checks and limits.

Also here: the rule for table keys, and the continuation token of a page of links (base64url of the JSON of the
Table service's next keys, as the Tables SDK hands them out), so a token from either reader works with both.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from shared.errors import InvalidRequestError

if TYPE_CHECKING:
    from shared.model import Link

LINK_ROW: Final = "link"
# A string property holds 64 KiB of UTF-16; the JSON is ASCII-only, so one character is two bytes.
PART_CHARS: Final = 32_000
ENTITY_LIMIT_BYTES: Final = 1024 * 1024
HISTORY_DROP_STEP: Final = 5
# Characters a PartitionKey or RowKey may not contain.
FORBIDDEN_IN_KEY: Final = frozenset("/\\#?") | {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}
# `shared.names.check_link_name`'s rule, here because shared.names loads pydantic (tests/unit/test_link_record.py
# keeps the two the same).
LINK_NAME: Final = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class StoredLink:
    """One link as stored: `spec` and `status` are the JSON objects of `LinkSpec` and `LinkStatus`."""

    name: str
    generation: int
    spec: dict[str, Any]
    status: dict[str, Any]
    etag: str | None = None

    @classmethod
    def of(cls, link: Link) -> StoredLink:
        """`link` as the store writes it."""
        return cls(
            name=link.name,
            generation=link.generation,
            spec=link.spec.model_dump(mode="json"),
            status=link.status.model_dump(mode="json"),
            etag=link.etag,
        )


def is_link_name(name: str) -> bool:
    """Whether `name` can be a stored link's name (no other name needs asking the Table service about)."""
    return LINK_NAME.fullmatch(name) is not None


def check_key(key: str) -> str:
    if not 1 <= len(key) <= 512 or FORBIDDEN_IN_KEY.intersection(key):
        raise ValueError(f"{key!r} cannot be a table key: 1-512 characters, none of / \\ # ? or control characters")
    return key


# The entity


def _to_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def _split(prefix: str, text: str) -> dict[str, Any]:
    parts = [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]
    return {f"{prefix}{index}": part for index, part in enumerate(parts)}


def _join(prefix: str, entity: Mapping[str, Any]) -> str:
    parts: list[str] = []
    while (part := entity.get(f"{prefix}{len(parts)}")) is not None:
        parts.append(part)
    return "".join(parts)


def entity_size(entity: Mapping[str, Any]) -> int:
    """Bytes the Table service counts against its 1 MiB limit (its documented formula)."""
    size = 4 + 2 * (len(entity["PartitionKey"]) + len(entity["RowKey"]))
    for name, value in entity.items():
        if name in ("PartitionKey", "RowKey"):
            continue
        value_size = 4 + 2 * len(value) if isinstance(value, str) else 8
        size += 8 + 2 * len(name) + value_size
    return size


def link_entity(link: StoredLink) -> dict[str, Any]:
    """The entity for `link`, dropping its oldest history entries if that is what it takes to fit."""
    status = dict(link.status)
    while True:
        entity = {
            "PartitionKey": link.name,
            "RowKey": LINK_ROW,
            "Generation": link.generation,
            **_split("Desired", _to_json(link.spec)),
            **_split("Status", _to_json(status)),
        }
        if entity_size(entity) <= ENTITY_LIMIT_BYTES:
            return entity
        if not status.get("history"):
            raise ValueError(f"link {link.name} does not fit one table entity even without its history")
        status["history"] = status["history"][HISTORY_DROP_STEP:]


def stored_link_from_entity(entity: Mapping[str, Any], etag: str | None) -> StoredLink:
    return StoredLink(
        name=entity["PartitionKey"],
        generation=entity["Generation"],
        spec=json.loads(_join("Desired", entity)),
        status=json.loads(_join("Status", entity)),
        etag=etag,
    )


# The continuation token of a page of links


def encode_token(next_keys: Mapping[str, str] | None) -> str | None:
    if not next_keys:
        return None
    return base64.urlsafe_b64encode(json.dumps(next_keys).encode()).decode()


def decode_token(token: str | None) -> dict[str, str] | None:
    if token is None:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        decoded = None
    if not isinstance(decoded, dict) or not all(isinstance(v, str) for v in decoded.values()):
        raise InvalidRequestError("The continuation token is not valid.", target="continuationToken")
    return decoded


# The current shape of the record


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()


@dataclass(frozen=True)
class Field:
    """A field of the record: its default as JSON (`REQUIRED`: none, every record has it), and for an object, or a
    list of objects, that object's shape."""

    default: object = REQUIRED
    shape: Shape | None = None


Shape = Mapping[str, Field]

_NONE = Field(None)
_NAME_OVERRIDES: Shape = {
    name: _NONE
    for name in (
        "loadBalancer",
        "frontend",
        "backendPool",
        "rule",
        "probe",
        "privateLinkService",
        "natIpConfiguration",
    )
}
_AZURE_SPEC: Shape = {
    "subscriptionId": Field(),
    "resourceGroup": Field(),
    "location": Field(),
    "frontendSubnetId": Field(),
    "natSubnetId": _NONE,
    "backendNicIds": Field(),
    "frontendPort": Field(),
    "backendPort": Field(),
    "frontendIp": _NONE,
    "forwarding": Field("natRule"),
    "probePort": _NONE,
    "enableProxyProtocol": Field(False),
    "autoApprove": Field(False),
    "names": Field({}, _NAME_OVERRIDES),
}
_EMQX_SPEC: Shape = {
    "deploymentId": Field(),
    "deploymentApiVersion": Field(),
    "deploymentApiUrl": Field(),
    "apiKeySetting": Field(),
    "apiSecretSetting": Field(),
    "redisPasswordSetting": Field(),
    "redisUsername": _NONE,
    "redisDatabase": Field(0),
    "azureSubscriptionId": _NONE,
    "privateLinkIp": _NONE,
}
LINK_SPEC_SHAPE: Final[Shape] = {
    "name": Field(),
    "azure": Field(shape=_AZURE_SPEC),
    "emqx": Field(shape=_EMQX_SPEC),
}
_CONNECTION: Shape = {"name": Field(), "privateEndpointId": _NONE, "status": Field(), "description": Field("")}
_REDIS_TEST: Shape = {"at": Field(), "passed": Field(), "latencyMs": _NONE, "reason": _NONE}
_STEP: Shape = {"at": Field(), "step": Field(), "outcome": Field(), "detail": Field(""), "durationMs": Field(0.0)}
_EVENT: Shape = {"id": Field(), "type": Field(), "time": Field(), "data": Field()}
LINK_STATUS_SHAPE: Final[Shape] = {
    "phase": Field("provisioning"),
    "health": Field("unknown"),
    "observedGeneration": Field(0),
    "message": _NONE,
    "resources": Field({}, {"loadBalancerId": _NONE, "privateLinkServiceId": _NONE, "frontendIp": _NONE}),
    "plsAlias": _NONE,
    "loadBalancerSchema": Field(1),
    "registrationRequested": Field(False),
    "emqxTeardownSince": _NONE,
    "emqxTeardownStalled": Field(False),
    "connections": Field([], _CONNECTION),
    "emqx": Field({}, {"id": _NONE, "status": _NONE, "ip": _NONE, "knownSince": _NONE}),
    "lastRedisTest": Field(None, _REDIS_TEST),
    "drift": Field([]),
    "history": Field([], _STEP),
    "outbox": Field([], _EVENT),
    "updatedAt": _NONE,
}


def as_current(record: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    """`record` as the current model reads it: fields in the model's order, unknown ones dropped, missing ones
    defaulted (a missing required field stays missing)."""
    current: dict[str, Any] = {}
    for name, field in shape.items():
        if name in record:
            value = record[name]
        elif field.default is REQUIRED:
            continue
        else:
            value = field.default
        if field.shape is not None and isinstance(value, Mapping):
            value = as_current(value, field.shape)
        elif field.shape is not None and isinstance(value, list):
            value = [as_current(item, field.shape) for item in value]
        elif isinstance(value, list):
            value = list(value)
        current[name] = value
    return current


__all__ = [
    "LINK_ROW",
    "LINK_SPEC_SHAPE",
    "LINK_STATUS_SHAPE",
    "REQUIRED",
    "Field",
    "Shape",
    "StoredLink",
    "as_current",
    "check_key",
    "decode_token",
    "encode_token",
    "entity_size",
    "is_link_name",
    "link_entity",
    "stored_link_from_entity",
]
