"""The stored link as JSON (`shared.link_record`) and its view (`shared.answers`): the record's shape is the
models', the view made from the JSON is the view made from the models, for every sample link and for records of
an older version, and the entity codec round-trips."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter
from pydantic_core import PydanticUndefined

from shared import names
from shared.answers import link_view, record_view
from shared.errors import InvalidRequestError
from shared.link_record import (
    ENTITY_LIMIT_BYTES,
    LINK_NAME,
    LINK_SPEC_SHAPE,
    LINK_STATUS_SHAPE,
    REQUIRED,
    Field,
    Shape,
    StoredLink,
    as_current,
    decode_token,
    encode_token,
    entity_size,
    is_link_name,
    link_entity,
    stored_link_from_entity,
)
from shared.model import Link, LinkSpec, LinkStatus
from tests.unit.link_samples import large_link, models_view, sample_links, step

SAMPLES = sample_links()


# The shape is the models'


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (itself, in a list or tuple, or optional), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def shape_of(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s fields as the record holds them: camelCase name -> (default JSON or REQUIRED, nested shape)."""
    shape: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        default = info.get_default(call_default_factory=True)
        if default is not PydanticUndefined:
            default = TypeAdapter(info.annotation).dump_python(default, mode="json")
        nested = _model_in(info.annotation)
        shape[info.serialization_alias or info.alias or name] = (
            REQUIRED if default is PydanticUndefined else default,
            None if nested is None else shape_of(nested),
        )
    return shape


def table_of(shape: Shape) -> dict[str, Any]:
    """The same form from `shared.link_record`'s table, each default as the record holds it once made current."""
    table: dict[str, Any] = {}
    for name, field in shape.items():
        default = field.default
        if field.shape is not None and isinstance(default, dict):
            default = as_current(default, field.shape)
        table[name] = (default, None if field.shape is None else table_of(field.shape))
    return table


@pytest.mark.parametrize(("model", "shape"), [(LinkSpec, LINK_SPEC_SHAPE), (LinkStatus, LINK_STATUS_SHAPE)])
def test_the_record_shape_is_the_models(model: type[BaseModel], shape: Shape) -> None:
    expected = shape_of(model)
    assert table_of(shape) == expected, f"update shared/link_record.py to {json.dumps(expected, default=repr)}"
    assert list(table_of(shape)) == list(expected)  # the model's order, which the view keeps


def test_the_link_name_rule_is_the_models() -> None:
    assert names._LINK_NAME.pattern == LINK_NAME.pattern
    for name in ["a", "demo", "a-b-1", "a" * 63, "a" * 64, "1a", "-a", "a-", "Demo", "dé", "a_b", ""]:
        try:
            names.check_link_name(name)
            valid = True
        except ValueError:
            valid = False
        assert is_link_name(name) is valid, name


# The view


@pytest.mark.parametrize("link", SAMPLES, ids=lambda link: link.name)
def test_the_view_of_a_link_is_the_view_of_its_models(link: Link) -> None:
    expected = models_view(link)
    assert link_view(link) == expected
    from_record = record_view(StoredLink.of(link))
    assert json.dumps(from_record) == json.dumps(expected)  # the same keys in the same order too


@pytest.mark.parametrize("link", SAMPLES, ids=lambda link: link.name)
def test_the_view_of_a_stored_entity_is_the_view_of_the_link_read_back(link: Link) -> None:
    record = stored_link_from_entity(json.loads(json.dumps(link_entity(StoredLink.of(link)))), etag="W/1")
    loaded = Link(
        spec=LinkSpec.model_validate(record.spec),
        status=LinkStatus.model_validate(record.status),
        generation=record.generation,
    )
    assert loaded.spec == link.spec
    assert loaded.status == link.status
    assert record_view(record) == models_view(link)


def _as_an_older_version_wrote_it(value: Any, shape: Shape, unknown: bool) -> Any:
    """`value` as a version that knew only its required fields wrote it: without any field holding its default (the
    fields added since, at every depth), and with a field since removed."""
    if isinstance(value, list):
        return [_as_an_older_version_wrote_it(item, shape, unknown) for item in value]
    older: dict[str, Any] = {"retiredField": {"was": 1}} if unknown else {}
    for name, item in value.items():
        field: Field = shape[name]
        default = field.default
        if field.shape is not None and isinstance(default, dict):
            default = as_current(default, field.shape)
        if default is not REQUIRED and item == default:
            continue
        nested = field.shape is not None and item is not None
        older[name] = _as_an_older_version_wrote_it(item, field.shape, unknown) if nested else item
    return older


@pytest.mark.parametrize("link", SAMPLES, ids=lambda link: link.name)
def test_a_record_of_an_older_version_shows_as_the_model_reads_it(link: Link) -> None:
    current = StoredLink.of(link)
    # The desired state refuses unknown fields, the status ignores them (an older instance reads a newer record).
    older = StoredLink(
        name=current.name,
        generation=current.generation,
        spec=_as_an_older_version_wrote_it(current.spec, LINK_SPEC_SHAPE, unknown=False),
        status=_as_an_older_version_wrote_it(current.status, LINK_STATUS_SHAPE, unknown=True),
    )
    assert older.status.get("retiredField")
    assert "emqxTeardownStalled" not in older.status or link.status.emqx_teardown_stalled
    loaded = Link(
        spec=LinkSpec.model_validate(older.spec),
        status=LinkStatus.model_validate(older.status),
        generation=older.generation,
    )
    assert record_view(older) == models_view(loaded)


def test_as_current_copies_what_it_defaults() -> None:
    first = as_current({}, LINK_STATUS_SHAPE)
    first["history"].append("changed")
    first["resources"]["frontendIp"] = "10.0.0.1"
    assert as_current({}, LINK_STATUS_SHAPE)["history"] == []
    assert as_current({}, LINK_STATUS_SHAPE)["resources"] == {
        "loadBalancerId": None,
        "privateLinkServiceId": None,
        "frontendIp": None,
    }


# The entity


def test_a_large_link_is_split_over_several_properties_and_joined_again() -> None:
    link = large_link()
    entity = link_entity(StoredLink.of(link))
    assert {"Desired0", "Desired1", "Status0", "Status1"} <= entity.keys()
    assert entity_size(entity) <= ENTITY_LIMIT_BYTES
    assert stored_link_from_entity(entity, etag="W/2") == StoredLink.of(link.model_copy(update={"etag": "W/2"}))


def test_the_oldest_history_gives_way_when_a_status_would_not_fit() -> None:
    link = large_link()
    link.status.message = "é" * 1000  # six characters each in the stored JSON
    link.status.drift = ["é" * 1000] * 20
    link.status.history = [step(index, detail="é" * 1000) for index in range(50)]
    record = stored_link_from_entity(link_entity(StoredLink.of(link)), etag=None)
    kept = record.status["history"]
    assert 0 < len(kept) < 50
    assert len(kept) % 5 == 0
    assert kept == StoredLink.of(link).status["history"][-len(kept) :]


def test_a_link_that_does_not_fit_even_without_history_is_refused() -> None:
    record = StoredLink.of(large_link())
    record.status["drift"] = ["x" * 30_000] * 20
    with pytest.raises(ValueError, match="does not fit"):
        link_entity(record)


# Continuation tokens


def test_a_token_round_trips_and_none_is_no_token() -> None:
    keys = {"PartitionKey": "ZGVtbw==", "RowKey": "bGluaw=="}
    token = encode_token(keys)
    assert token is not None
    assert decode_token(token) == keys
    assert encode_token(None) is None
    assert encode_token({}) is None
    assert decode_token(None) is None


@pytest.mark.parametrize("token", ["not base64!", "bm90IGpzb24", "WzEsMl0=", "eyJhIjogMX0="])
def test_a_forged_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        decode_token(token)
    assert caught.value.target == "continuationToken"
