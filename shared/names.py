"""Naming rules for what a link names, and ARM resource IDs.

Every `check_*` function returns the value (normalised where Azure treats case as insignificant) or raises
`ValueError` with a message fit to show to the caller; the model turns those into 400 details.

Rules (reference azure-arm.md §5, Azure naming docs):
- link name: 1-63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen,
  because the Azure names derived from it (`lb-<name>`, `nat-<name>-<port>`, …) must stay valid;
- Microsoft.Network names we create: 1-80 characters, letters, digits, `_`, `.`, `-`, starting with a letter or
  digit and ending with a letter, digit or `_`;
- resource group: 1-90 letters, digits, `_`, `-`, `.`, `(`, `)`, not ending with `.`;
- an existing resource's name inside an ID: at most 260 characters, none of `< > % & : \\ ? / #`.

`ResourceId` is a parsed ARM resource ID (`/subscriptions/…/resourceGroups/…/providers/<ns>/<type>/<name>…`).
Azure treats IDs as case-insensitive, so equality and hashing ignore case while `str()` keeps the casing given.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

_LINK_NAME = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
_NETWORK_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?")
# Python's `\w` is Unicode-aware, like the .NET `Char.IsLetterOrDigit` the ARM rule is written against.
_RESOURCE_GROUP = re.compile(r"[-\w.()]{1,90}")
_REGION = re.compile(r"[a-z][a-z0-9]{1,39}")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEPLOYMENT_ID = re.compile(r"[a-z0-9]{4,32}")
_NAMESPACE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+")
_TYPE_SEGMENT = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_FORBIDDEN_IN_RESOURCE_NAME = frozenset("<>%&:\\?/#")

LINK_NAME_MAX = 63
NETWORK_NAME_MAX = 80


def check_link_name(value: str) -> str:
    if not 1 <= len(value) <= LINK_NAME_MAX:
        raise ValueError(f"must be 1-{LINK_NAME_MAX} characters long")
    if not _LINK_NAME.fullmatch(value):
        raise ValueError(
            "must use lowercase letters, digits and hyphens only, start with a letter and not end with a hyphen"
        )
    return value


def check_network_name(value: str) -> str:
    if not 1 <= len(value) <= NETWORK_NAME_MAX:
        raise ValueError(f"must be 1-{NETWORK_NAME_MAX} characters long")
    if not _NETWORK_NAME.fullmatch(value):
        raise ValueError(
            "must use letters, digits, '_', '.' and '-' only, start with a letter or digit "
            "and end with a letter, digit or '_'"
        )
    return value


def check_resource_group(value: str) -> str:
    if not _RESOURCE_GROUP.fullmatch(value) or value.endswith("."):
        raise ValueError(
            "must be 1-90 letters, digits, '_', '-', '.', '(' or ')' and must not end with '.'",
        )
    return value


def check_region(value: str) -> str:
    if not _REGION.fullmatch(value):
        raise ValueError("must be an Azure region name in lowercase letters and digits, such as eastus")
    return value


def check_guid(value: str) -> str:
    if not _GUID.fullmatch(value):
        raise ValueError("must be a GUID such as 00000000-0000-0000-0000-000000000000")
    return value.lower()


def check_setting_name(value: str) -> str:
    if not _SETTING_NAME.fullmatch(value):
        raise ValueError("must be the name of an app setting: letters, digits and '_', not starting with a digit")
    return value


def check_deployment_id(value: str) -> str:
    if not _DEPLOYMENT_ID.fullmatch(value):
        raise ValueError("must be an EMQX deployment ID: 4-32 lowercase letters and digits, such as w41b11c0")
    return value


def _check_resource_name(value: str) -> str:
    if not value or len(value) > 260 or _FORBIDDEN_IN_RESOURCE_NAME.intersection(value):
        raise ValueError("must be 1-260 characters without any of < > % & : \\ ? / #")
    return value


def _check_namespace(value: str) -> str:
    if not _NAMESPACE.fullmatch(value):
        raise ValueError("must be dotted letters and digits, such as Microsoft.Network")
    return value


def _check_type_segment(value: str) -> str:
    if not _TYPE_SEGMENT.fullmatch(value):
        raise ValueError("must be letters and digits, such as virtualNetworks")
    return value


class ResourceId:
    """An ARM resource ID: subscription, resource group, provider namespace, the type chain and one name per type.

    Immutable. Not a dataclass on purpose: pydantic would dump a dataclass as a dict in Python mode, and the
    plan comparison needs these values to keep their case-insensitive equality.
    """

    __slots__ = ("names", "namespace", "resource_group", "subscription_id", "types")

    subscription_id: str
    resource_group: str
    namespace: str
    types: tuple[str, ...]
    names: tuple[str, ...]

    def __init__(
        self, subscription_id: str, resource_group: str, namespace: str, types: tuple[str, ...], names: tuple[str, ...]
    ) -> None:
        object.__setattr__(self, "subscription_id", subscription_id)
        object.__setattr__(self, "resource_group", resource_group)
        object.__setattr__(self, "namespace", namespace)
        object.__setattr__(self, "types", types)
        object.__setattr__(self, "names", names)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ResourceId is immutable: cannot set {name}")

    # Immutable: a copy is the value itself (pydantic's deep copies of a link copy its IDs).
    def __copy__(self) -> ResourceId:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> ResourceId:
        return self

    @classmethod
    def parse(cls, text: str) -> ResourceId:
        segments = text.split("/")
        if (
            len(segments) < 9
            or len(segments) % 2 == 0
            or segments[0] != ""
            or segments[1].lower() != "subscriptions"
            or segments[3].lower() != "resourcegroups"
            or segments[5].lower() != "providers"
        ):
            raise ValueError(
                "must be a resource ID such as /subscriptions/<guid>/resourceGroups/<group>"
                "/providers/<namespace>/<type>/<name>"
            )
        subscription_id, resource_group, namespace = segments[2], segments[4], segments[6]
        pairs = segments[7:]
        types, names = tuple(pairs[0::2]), tuple(pairs[1::2])
        checks: tuple[tuple[str, Callable[[str], str], tuple[str, ...]], ...] = (
            ("subscription", check_guid, (subscription_id,)),
            ("resource group", check_resource_group, (resource_group,)),
            ("provider namespace", _check_namespace, (namespace,)),
            ("resource type", _check_type_segment, types),
            ("resource name", _check_resource_name, names),
        )
        for part, check, values in checks:
            for value in values:
                try:
                    check(value)
                except ValueError as problem:
                    raise ValueError(f"has an invalid {part} {value!r}: it {problem}") from None
        return cls(subscription_id, resource_group, namespace, types, names)

    @classmethod
    def build(cls, subscription_id: str, resource_group: str, resource_type: str, *names: str) -> ResourceId:
        """`build(sub, rg, "Microsoft.Network/loadBalancers/frontendIPConfigurations", "lb-x", "fe-x")`."""
        namespace, _, type_chain = resource_type.partition("/")
        types = tuple(type_chain.split("/"))
        if not type_chain or len(types) != len(names):
            raise ValueError(f"{resource_type} needs {len(types)} names, got {len(names)}")
        return cls.parse(str(cls(subscription_id, resource_group, namespace, types, names)))

    @property
    def resource_type(self) -> str:
        return "/".join((self.namespace, *self.types))

    @property
    def name(self) -> str:
        return self.names[-1]

    @property
    def parent(self) -> ResourceId | None:
        if len(self.types) == 1:
            return None
        return ResourceId(self.subscription_id, self.resource_group, self.namespace, self.types[:-1], self.names[:-1])

    def child(self, child_type: str, name: str) -> ResourceId:
        return ResourceId.parse(f"{self}/{child_type}/{name}")

    def is_type(self, resource_type: str) -> bool:
        return self.resource_type.lower() == resource_type.lower()

    def __str__(self) -> str:
        pairs = "".join(f"/{t}/{n}" for t, n in zip(self.types, self.names, strict=True))
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{self.namespace}{pairs}"
        )

    def __repr__(self) -> str:
        return f"ResourceId({str(self)!r})"

    def _key(self) -> str:
        return str(self).lower()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResourceId) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @classmethod
    def _validate(cls, value: object) -> ResourceId:
        if isinstance(value, ResourceId):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        raise ValueError("must be a resource ID string")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            json_schema_input_schema=core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str, when_used="json"),
        )


__all__ = [
    "LINK_NAME_MAX",
    "NETWORK_NAME_MAX",
    "ResourceId",
    "check_deployment_id",
    "check_guid",
    "check_link_name",
    "check_network_name",
    "check_region",
    "check_resource_group",
    "check_setting_name",
]
