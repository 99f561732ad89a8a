"""Strict parsing of a request's JSON body (shared/request_json.py): every rule, its status, its error body, and
the PUT adapter refusing before the life cycle or the services are touched."""

import json
import time
from typing import Any

import azure.functions as func
import pytest

from shared.errors import (
    AppError,
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    error_body,
)
from shared.request_json import MAX_BODY_BYTES, MAX_DEPTH, check_media_type, parse_json_request

JSON = "application/json"


def refusal(content_type: str | None, body: bytes) -> AppError:
    with pytest.raises(AppError) as caught:
        parse_json_request(content_type, body)
    return caught.value


def nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


def padded_to(size: int) -> bytes:
    """A valid JSON object of exactly `size` bytes."""
    frame = b'{"pad":""}'
    return frame[:-2] + b"x" * (size - len(frame)) + frame[-2:]


# -- content type ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "APPLICATION/JSON",
        "Application/Json ",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        'application/json; charset="utf-8"',
        "application/json; charset=utf-8; profile=x",
        'application/json; note="a;b"; charset=utf-8',
        "application/json;",
    ],
)
def test_application_json_is_taken_with_its_parameters(content_type: str) -> None:
    assert parse_json_request(content_type, b'{"a": 1}') == {"a": 1}


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "   ",
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/merge-patch+json",
        "application/jsonx",
        "application/json, text/plain",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
        "application/json; charset=utf8",
        "application/json; charset=utf-8; charset=ascii",
        "application/json; nonsense",
    ],
)
def test_anything_else_is_415_naming_the_content_type(content_type: str | None) -> None:
    error = refusal(content_type, b'{"a": 1}')
    assert isinstance(error, UnsupportedMediaTypeError)
    assert error.http_status == 415
    body = error_body(error)["error"]
    assert isinstance(body, dict)
    assert (body["code"], body["target"]) == ("UnsupportedMediaType", "Content-Type")


def test_the_content_type_is_checked_before_the_body() -> None:
    assert isinstance(refusal("text/plain", b"x" * (MAX_BODY_BYTES + 1)), UnsupportedMediaTypeError)
    assert isinstance(refusal(None, nested(10_000)), UnsupportedMediaTypeError)


def test_a_long_content_type_is_not_echoed_whole() -> None:
    error = refusal("text/" + "x" * 5000, b"{}")
    assert len(error.message) < 200


def test_check_media_type_alone() -> None:
    check_media_type("application/json; charset=utf-8")
    with pytest.raises(UnsupportedMediaTypeError):
        check_media_type("text/json")


# -- size -----------------------------------------------------------------------------------------------------


def test_a_body_of_exactly_the_limit_is_taken() -> None:
    body = padded_to(MAX_BODY_BYTES)
    assert len(body) == MAX_BODY_BYTES == 256 * 1024
    assert parse_json_request(JSON, body) == {"pad": "x" * (MAX_BODY_BYTES - 10)}


def test_one_byte_over_the_limit_is_413() -> None:
    error = refusal(JSON, padded_to(MAX_BODY_BYTES + 1))
    assert isinstance(error, PayloadTooLargeError)
    assert (error.http_status, error.code) == (413, "RequestBodyTooLarge")


def test_the_size_is_counted_in_bytes_before_decoding() -> None:
    # 90,000 three-byte characters: fewer than the limit in characters, more in bytes; and not even UTF-8 past it.
    text = '{"a":"' + "€" * 90_000 + '"}'
    assert len(text) < MAX_BODY_BYTES < len(text.encode())
    assert isinstance(refusal(JSON, text.encode()), PayloadTooLargeError)
    assert isinstance(refusal(JSON, b"\xff" * (MAX_BODY_BYTES + 1)), PayloadTooLargeError)


# -- UTF-8 ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "\xff"}',
        b'{"a": "\xc3"}',  # a truncated sequence
        b'{"a": "\xed\xa0\x80"}',  # an encoded surrogate
        b'{"a": "\xc0\xaf"}',  # an overlong form
        '{"a": "é"}'.encode("latin-1"),
        '{"a": 1}'.encode("utf-16"),
    ],
)
def test_a_body_that_is_not_utf8_is_400(body: bytes) -> None:
    error = refusal(JSON, body)
    assert type(error) is InvalidRequestError
    assert error.code == "InvalidRequestContent"
    assert "UTF-8" in error.message


def test_a_byte_order_mark_is_refused_saying_so() -> None:
    error = refusal(JSON, b'\xef\xbb\xbf{"a": 1}')
    assert isinstance(error, InvalidRequestError)
    assert "byte order mark" in error.message


def test_utf8_text_is_taken() -> None:
    assert parse_json_request(JSON, '{"name": "Zürich €"}'.encode()) == {"name": "Zürich €"}


# -- depth ----------------------------------------------------------------------------------------------------


def test_exactly_the_depth_limit_is_taken() -> None:
    assert MAX_DEPTH == 32
    value = parse_json_request(JSON, nested(MAX_DEPTH))
    for _ in range(MAX_DEPTH):
        value = value[0]
    assert value == 1
    mixed = b'{"a":' * 16 + b"[" * 16 + b"]" * 16 + b"}" * 16
    assert parse_json_request(JSON, mixed) is not None


@pytest.mark.parametrize(
    ("body", "target"),
    [
        (nested(MAX_DEPTH + 1), "[0]" * MAX_DEPTH),
        (b'{"a":' * MAX_DEPTH + b"{}" + b"}" * MAX_DEPTH, ".".join("a" * MAX_DEPTH)),
        (
            b'{"azure": {"backendNicIds": [1, 2, ' + nested(MAX_DEPTH - 2) + b"]}}",
            "azure.backendNicIds[2]" + "[0]" * (MAX_DEPTH - 3),
        ),
    ],
    ids=["arrays", "objects", "mixed"],
)
def test_one_level_deeper_is_400_naming_where(body: bytes, target: str) -> None:
    error = refusal(JSON, body)
    assert isinstance(error, InvalidRequestError)
    assert error.target == target
    assert [(d.code, d.target) for d in error.details] == [("JsonTooDeep", target)]


def test_a_10000_deep_body_is_400_quickly_and_never_a_recursion_error() -> None:
    for body in (nested(10_000), b'{"a":' * 10_000 + b"1" + b"}" * 10_000, b"[" * 200_000):
        started = time.perf_counter()
        error = refusal(JSON, body)
        assert isinstance(error, InvalidRequestError)
        assert "deeper than 32" in error.message
        assert time.perf_counter() - started < 1


def test_brackets_inside_strings_are_not_nesting() -> None:
    deep_text = "[" * 10_000 + "{" * 10_000
    assert parse_json_request(JSON, json.dumps({"a": deep_text}).encode()) == {"a": deep_text}
    assert parse_json_request(JSON, json.dumps(deep_text).encode()) == deep_text
    # escaped quotes and backslashes do not end a string early
    tricky = '\\"' + "[" * 100 + '\\\\"' + "{" * 100
    assert parse_json_request(JSON, json.dumps([tricky]).encode()) == [tricky]
    assert parse_json_request(JSON, b'["\\\\", ' + nested(30) + b"]") is not None


def test_a_string_that_never_ends_is_not_json_and_is_scanned_in_linear_time() -> None:
    for body in (b'"' + b'\\"' * 120_000, b'["' + b"[" * 200_000, b'{"a": "' + b"x" * 200_000):
        started = time.perf_counter()
        error = refusal(JSON, body)
        assert isinstance(error, InvalidRequestError)
        assert "not valid JSON" in error.message
        assert time.perf_counter() - started < 1


# -- duplicate keys -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "target"),
    [
        (b'{"a": 1, "a": 2}', "a"),
        (b'{"emqx": {"apiKeySetting": "A", "apiSecretSetting": "B", "apiKeySetting": "C"}}', "emqx.apiKeySetting"),
        (b'{"azure": {"backendNicIds": [{"id": "x"}, {"id": "y", "id": "z"}]}}', "azure.backendNicIds[1].id"),
        (b'[[], [0, {"k": [1, {"q": 1, "q": 2}]}]]', "[1][1].k[1].q"),
        (b'{"a\\u0062": 1, "ab": 2}', "ab"),  # the same key once decoded
        (b'{"a": {"b": 1}, "a": {"b": 1}}', "a"),
        (b'{"": 1, "": 2}', ""),
    ],
)
def test_a_repeated_key_is_400_naming_its_path(body: bytes, target: str) -> None:
    error = refusal(JSON, body)
    assert isinstance(error, InvalidRequestError)
    assert error.http_status == 400
    assert error.target == target
    assert [(d.code, d.target) for d in error.details] == [("DuplicateJsonKey", target)]
    rendered = error_body(error)["error"]
    assert isinstance(rendered, dict)
    assert rendered["code"] == "InvalidRequestContent"


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": {"a": {"a": 1}}}',
        b'[{"a": 1}, {"a": 2}]',
        b'{"a": "a", "b": "a"}',
        b'{"a": ["a", "a"], "b": {"a": 1}}',
        b'{"a": 1, "A": 2}',
        b'{"a\\"": 1, "a": 2}',
        b'{"x": "{\\"x\\": 1}", "y": 1}',
    ],
)
def test_the_same_key_in_different_objects_or_a_value_is_no_repeat(body: bytes) -> None:
    assert parse_json_request(JSON, body) == json.loads(body)


def test_a_repeated_key_deep_in_a_real_link_body() -> None:
    link = {
        "azure": {"backendNicIds": ["/nic/a", "/nic/b"], "names": {"loadBalancer": "lb"}},
        "emqx": {"apiKeySetting": "K"},
    }
    text = json.dumps(link).replace('"loadBalancer": "lb"', '"loadBalancer": "lb", "loadBalancer": "other"')
    assert refusal(JSON, text.encode()).target == "azure.names.loadBalancer"


# -- JSON itself ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"{",
        b'{"a": 1,}',
        b"{'a': 1}",
        b"a=1&b=2",
        b'{"a": 1} {"b": 2}',
        b'{"a": "line\nbreak"}',
        b'{"a\\x": 1}',
        b"]",
        b"[1]]",
        b"1" * 5000,  # longer than Python converts to int
    ],
)
def test_not_json_is_400(body: bytes) -> None:
    error = refusal(JSON, body)
    assert type(error) is InvalidRequestError
    assert error.code == "InvalidRequestContent"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(literal: str) -> None:
    error = refusal(JSON, f'{{"azure": {{"frontendPort": {literal}}}}}'.encode())
    assert isinstance(error, InvalidRequestError)
    assert literal in error.message


@pytest.mark.parametrize(
    "value", [{"a": [1, 2.5, None, True, False, "s"]}, [], {}, "text", 0, None, {"a": {"b": {"c": []}}}]
)
def test_valid_json_comes_back_decoded(value: Any) -> None:
    assert parse_json_request(JSON, json.dumps(value).encode()) == value


def test_every_refusal_renders_the_error_shape() -> None:
    cases: list[tuple[str | None, bytes]] = [
        ("text/plain", b"{}"),
        (JSON, b"x" * (MAX_BODY_BYTES + 1)),
        (JSON, b"\xff"),
        (JSON, nested(10_000)),
        (JSON, b'{"a":1,"a":1}'),
        (JSON, b"nope"),
    ]
    for content_type, body in cases:
        rendered = error_body(refusal(content_type, body))
        assert set(rendered) == {"error"}
        error = rendered["error"]
        assert isinstance(error, dict)
        assert {"code", "message"} <= set(error) <= {"code", "message", "target", "details"}


# -- the PUT adapter ------------------------------------------------------------------------------------------


def put_request(body: bytes, content_type: str | None = JSON) -> func.HttpRequest:
    headers = {"content-type": content_type} if content_type is not None else {}
    return func.HttpRequest(
        method="PUT", url="/api/links/orders", headers=headers, route_params={"name": "orders"}, body=body
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"azure": {}}', "text/plain", 415),
        (b"azure=1", "application/x-www-form-urlencoded", 415),
        (b'{"azure": {}}', None, 415),
        (b"x" * (MAX_BODY_BYTES + 1), JSON, 413),
        (nested(10_000), JSON, 400),
        (b'{"a": "\xff"}', JSON, 400),
        (b'{"a": 1, "a": 2}', JSON, 400),
        (b"{", JSON, 400),
    ],
)
async def test_the_put_refuses_before_the_services_or_the_life_cycle(
    monkeypatch: pytest.MonkeyPatch, body: bytes, content_type: str | None, status: int
) -> None:
    import shared.lifecycle
    import shared.services
    from functions import links

    def must_not_run(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("reached past the body check")

    monkeypatch.setattr(shared.services, "services_for_this_process", must_not_run)
    monkeypatch.setattr(shared.lifecycle, "put_link", must_not_run)
    response = await links.provision(put_request(body, content_type))
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert set(json.loads(response.get_body())["error"]) >= {"code", "message"}


async def test_the_put_hands_the_decoded_body_to_the_life_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    import shared.lifecycle
    import shared.services
    from functions import links
    from shared.answers import Answer

    seen: list[Any] = []

    async def put_link(services: Any, name: str, body: Any, **flags: bool) -> Answer:
        seen.append((services, name, body, flags))
        return Answer(200, {"ok": True})

    monkeypatch.setattr(shared.services, "services_for_this_process", lambda: "services")
    monkeypatch.setattr(shared.lifecycle, "put_link", put_link)
    response = await links.provision(put_request(b'{"azure": {"x": [1]}}', "application/json; charset=utf-8"))
    assert response.status_code == 200
    assert seen == [("services", "orders", {"azure": {"x": [1]}}, {"dry_run": False, "allow_replace": False})]
