"""Strict request parsing over the wire: a PUT body that is not plain, small, shallow, unambiguous UTF-8 JSON is
refused with 415, 413 or 400 in the app's error shape, before anything is stored and before ARM is called; the
routes without a body keep working without a Content-Type.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.world import World

JSON = "application/json"
KIB = 1024


@dataclass(frozen=True)
class Attack:
    id: str
    content_type: str | None
    body: Callable[[dict[str, Any]], bytes]  # from a valid link body
    status: int
    code: str
    target: str | None = None  # the error's (and its one detail's) target, when the rule names a place


def text(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def deep(_body: dict[str, Any]) -> bytes:
    return b'{"azure": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"


def padded(body: dict[str, Any]) -> bytes:
    """The valid body, made 300 KiB with whitespace JSON allows: only its size is wrong."""
    raw = text(body)
    return raw[:-1] + b" " * (300 * KIB - len(raw)) + b"}"


def not_utf8(body: dict[str, Any]) -> bytes:
    return text(body).replace(b'"location": "', b'"location": "\xff')


def repeated_key(body: dict[str, Any]) -> bytes:
    # Both values valid: taken last-wins, this body would be provisioned.
    setting = json.dumps(body["emqx"]["apiKeySetting"])
    return text(body).replace(b'"apiKeySetting": ', f'"apiKeySetting": {setting}, "apiKeySetting": '.encode(), 1)


def repeated_key_in_an_array(body: dict[str, Any]) -> bytes:
    return text(body).replace(b'"backendNicIds": [', b'"backendNicIds": [{"id": "a", "id": "b"}, ', 1)


ATTACKS = [
    Attack("text-plain", "text/plain", text, 415, "UnsupportedMediaType", "Content-Type"),
    Attack("text-plain-utf8", "text/plain; charset=utf-8", text, 415, "UnsupportedMediaType", "Content-Type"),
    Attack("form-encoded", "application/x-www-form-urlencoded", text, 415, "UnsupportedMediaType", "Content-Type"),
    Attack("no-content-type", None, text, 415, "UnsupportedMediaType", "Content-Type"),
    Attack("latin-1", "application/json; charset=iso-8859-1", text, 415, "UnsupportedMediaType", "Content-Type"),
    Attack("deep-10000", JSON, deep, 400, "InvalidRequestContent", "azure" + "[0]" * 31),
    Attack("300-kib", JSON, padded, 413, "RequestBodyTooLarge"),
    Attack("invalid-utf8", JSON, not_utf8, 400, "InvalidRequestContent"),
    Attack("duplicate-key", JSON, repeated_key, 400, "InvalidRequestContent", "emqx.apiKeySetting"),
    Attack(
        "duplicate-in-array", JSON, repeated_key_in_an_array, 400, "InvalidRequestContent", "azure.backendNicIds[0].id"
    ),
]


@pytest.fixture(scope="module")
def network(world: World) -> Any:
    return world.network()


@pytest.fixture(scope="module")
def valid_body(world: World, network: Any) -> dict[str, Any]:
    return world.link_body(network)


def group_of(network: Any) -> str:
    return f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"


def test_the_valid_body_is_taken_as_json_with_or_without_its_charset(
    world: World, network: Any, valid_body: dict[str, Any]
) -> None:
    """The control: the bodies the attacks start from are good; only how they are sent is wrong."""
    for content_type in (JSON, "application/json; charset=utf-8", "Application/JSON; charset=UTF-8"):
        answer = world.api.put(
            "/links/parse-control",
            content=text(valid_body),
            headers={"content-type": content_type},
            params={"dryRun": "true"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["dryRun"] is True
    assert world.api.get("/links/parse-control").status_code == 404


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_a_refused_body_changes_nothing(world: World, network: Any, valid_body: dict[str, Any], attack: Attack) -> None:
    name = f"parse-{attack.id}"
    headers = {"content-type": attack.content_type} if attack.content_type is not None else {}
    world.reset_calls()
    answer = world.api.put(f"/links/{name}", content=attack.body(valid_body), headers=headers)
    sent = {k.lower() for k in answer.request.headers}
    assert ("content-type" in sent) == (attack.content_type is not None)

    assert answer.status_code == attack.status, answer.text
    assert answer.headers["content-type"].startswith(JSON)
    error = answer.json()["error"]
    assert set(answer.json()) == {"error"}
    assert error["code"] == attack.code
    assert isinstance(error["message"], str) and error["message"]
    if attack.target is not None:
        assert error["target"] == attack.target
        assert [d["target"] for d in error.get("details", [error])] == [attack.target]

    assert world.api.get(f"/links/{name}").status_code == 404
    # Refused before the services were built: no ARM call at all, read or write, for this link's group.
    assert world.arm_calls_under(group_of(network), kinds=("read", "write", "delete", "action", "poll")) == []


def test_routes_without_a_body_need_no_content_type(world: World, network: Any, valid_body: dict[str, Any]) -> None:
    name = "parse-bodiless"
    world.provision(name, valid_body)

    tested = world.api.post(f"/links/{name}/test")
    assert "content-type" not in {k.lower() for k in tested.request.headers}
    assert tested.status_code == 200, tested.text
    assert "passed" in tested.json()["result"]
    assert world.api.get(f"/links/{name}").status_code == 200
    assert world.api.get("/links", params={"top": "5"}).status_code == 200
    # A stray Content-Type on a route that reads no body is ignored as well.
    missing = world.api.post("/links/parse-nowhere/register", headers={"content-type": "text/plain"})
    assert missing.status_code == 404, missing.text
    assert world.api.post("/links/parse-nowhere/test").status_code == 404

    world.delete_until_gone(name)
    assert world.api.get(f"/links/{name}").status_code == 404
