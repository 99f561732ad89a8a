"""Small checks every resource kind shares: names, locations, enum spellings, references to other resources."""

from __future__ import annotations

import re
from typing import Any

from localcloud.arm import errors
from localcloud.arm.ids import ResourceId, parse_id

# The Network RP's rule: 1-80 characters, begins with a word character, ends with a word character or '_',
# and holds word characters, '.', '-' and '_' in between.
_NETWORK_NAME = re.compile(r"^\w(?:[\w.-]{0,78}\w)?$", re.ASCII)


def check_name(name: str) -> None:
    if not _NETWORK_NAME.match(name):
        raise errors.invalid_resource_name(name)


def location_of(body: dict[str, Any], existing_location: str | None = None) -> str:
    """ARM's normalized location ('East US' -> 'eastus'); required on tracked resources."""
    location = body.get("location")
    if not location:
        if existing_location:
            return existing_location
        raise errors.ArmError(400, "LocationRequired", "The location property is required for this definition.")
    return str(location).replace(" ", "").lower()


def enum(value: Any, choices: tuple[str, ...], field: str, default: str | None = None) -> str:
    """The canonical spelling of a case-insensitive enum value (the RP echoes 'disabled' as 'Disabled')."""
    if value is None or value == "":
        if default is None:
            raise errors.invalid_request_format(f"Required property '{field}' is missing from the request.")
        return default
    for choice in choices:
        if str(value).lower() == choice.lower():
            return choice
    raise errors.invalid_request_format(
        f"Value '{value}' is not valid for property '{field}'. Allowed values: {', '.join(choices)}."
    )


def integer(value: Any, field: str, low: int, high: int, default: int | None = None) -> int:
    if value is None:
        if default is None:
            raise errors.invalid_request_format(f"Required property '{field}' is missing from the request.")
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise errors.invalid_request_format(
            f"Value '{value}' of property '{field}' must be an integer in [{low}, {high}]."
        )
    return value


def reference(value: Any, field: str) -> str:
    """The id inside a `{"id": ...}` reference."""
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
        raise errors.invalid_request_format(f"Property '{field}' must be an object with a resource 'id'.")
    return str(value["id"])


def parse_reference(referenced: str, referencing: str) -> ResourceId:
    parsed = parse_id(referenced)
    if parsed is None:
        raise errors.invalid_resource_reference(referenced, referencing)
    return parsed


def named_items(value: Any, field: str) -> list[dict[str, Any]]:
    """A list of `{"name", "properties"}` sub-resources, each name checked; missing means empty."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise errors.invalid_request_format(f"Property '{field}' must be an array of objects.")
    seen: set[str] = set()
    for item in value:
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise errors.invalid_request_format(f"Every item of '{field}' needs a 'name'.")
        check_name(name)
        if name.lower() in seen:
            raise errors.invalid_request_format(f"Name '{name}' is used twice in '{field}'.")
        seen.add(name.lower())
    return value


def without(properties: dict[str, Any], *read_only: str) -> dict[str, Any]:
    """A copy of properties without the read-only keys a client may echo back from a GET."""
    return {k: v for k, v in properties.items() if k not in read_only and k != "provisioningState"}
