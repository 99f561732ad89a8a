"""The request a function receives, built as the host's `ToRpcHttp` and the Python worker build it.

Requests go out through `http.client` so that the request-target reaches the host exactly as written here
(httpx would normalise it). The `inspect` function of the sample app answers what it saw.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from localcloud.functions_host import HostKeys
from localcloud.serving import BackgroundServer


def send(
    host: BackgroundServer,
    target: str,
    headers: Iterable[tuple[str, str]] = (),
    method: str = "GET",
    body: bytes | None = None,
) -> tuple[int, bytes]:
    address = urlsplit(host.base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        connection.putrequest(method, target)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def inspect(host: BackgroundServer, keys: HostKeys) -> Any:
    def seen(target: str, headers: Iterable[tuple[str, str]] = (), **options: Any) -> dict[str, Any]:
        status, body = send(host, target, [("x-functions-key", keys.function_key), *headers], **options)
        assert status == 200, body
        return dict(json.loads(body))

    return seen


def test_a_query_parameter_whose_value_is_empty_does_not_reach_the_function(inspect: Any) -> None:
    # ToRpcHttp adds a query value only when it is not empty (the Python worker takes no nullable values)
    seen = inspect("/api/inspect/x?top=&x=1")
    assert seen["params"] == {"x": "1"}
    assert "top" not in seen["params"]
    assert inspect("/api/inspect/x?top&flag=&=")["params"] == {}


def test_query_names_ignore_case_and_repeated_values_are_joined_without_the_empty_ones(inspect: Any) -> None:
    # HttpRequest.Query groups names ignoring case (first spelling kept); StringValues joins with ',' and
    # skips empty values; '+' is a space
    seen = inspect("/api/inspect/x?X=1&x=&x=2&y=&y=&s=a+b%20c%2B&e=%C3%A9&bad=%FF")
    assert seen["params"] == {"X": "1,2", "s": "a b c+", "e": "é", "bad": "%FF"}


def test_the_url_keeps_the_escapes_it_was_sent_with(host: BackgroundServer, inspect: Any) -> None:
    target = "/api/inspect/a%2Fb/c%20d/%C3%A9%25?q=a%20b&r=%2F&e=&t=x+y"
    seen = inspect(target)
    assert seen["url"] == host.base_url + target
    assert seen["route_params"] == {"rest": "a%2Fb/c d/é%"}


def test_the_url_path_is_the_one_kestrel_decoded_and_pathstring_escaped_again(
    host: BackgroundServer, inspect: Any
) -> None:
    # Kestrel decodes every escape but %2F and removes dot segments; PathString escapes again only what may
    # not stand in a path (so %41 comes back as A, ':' stays, '[' and non-ASCII are escaped in upper case)
    seen = inspect("/api/inspect/%41/x/../%c3%a9/%3A%5b%2f?Q=%c3%a9")
    assert seen["url"] == host.base_url + "/api/inspect/A/%C3%A9/:%5B%2f?Q=%c3%a9"
    assert seen["route_params"] == {"rest": "A/é/:[%2f"}


def test_a_nul_escaped_in_the_path_is_refused_as_kestrel_refuses_it(host: BackgroundServer, keys: HostKeys) -> None:
    status, body = send(host, "/api/inspect/a%00b", [("x-functions-key", keys.function_key)])
    assert (status, body) == (400, b"")


def test_headers_are_lower_cased_and_repeated_ones_joined_without_the_empty_ones(inspect: Any) -> None:
    seen = inspect("/api/inspect/x", [("X-Multi", "a"), ("x-multi", ""), ("X-MULTI", "b"), ("X-Empty", "")])
    assert seen["headers"]["x-multi"] == "a,b"
    # a header with an empty value is kept (the Python worker does not ask the host to drop them)
    assert seen["headers"]["x-empty"] == ""


def test_the_body_is_passed_only_with_a_content_length(host: BackgroundServer, keys: HostKeys) -> None:
    # ToRpcHttp reads the body only when ContentLength > 0: a chunked body reaches the function empty
    with httpx.Client(base_url=host.base_url, headers={"x-functions-key": keys.function_key}) as client:
        sized = client.post("/api/inspect/x", content=b"abc")
        chunked = client.post("/api/inspect/x", content=iter([b"abc"]))
    assert sized.json()["body_hex"] == b"abc".hex()
    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert chunked.json()["body_hex"] == ""


@pytest.mark.parametrize(
    ("target", "headers", "status"),
    [
        ("/api/inspect/x?CODE={key}", [], 200),  # the query name is matched ignoring case
        ("/api/inspect/x?code={key}&code=wrong", [], 200),  # the first value counts
        ("/api/inspect/x?code=wrong&code={key}", [], 401),
        ("/api/inspect/x?code={key}", [("x-functions-key", "")], 401),  # the header wins even when empty
        ("/api/inspect/x?code=wrong", [("x-functions-key", "{key}"), ("x-functions-key", "wrong")], 200),
    ],
)
def test_the_key_is_read_as_the_hosts_authentication_handler_reads_it(
    host: BackgroundServer, keys: HostKeys, target: str, headers: list[tuple[str, str]], status: int
) -> None:
    filled = [(name, value.format(key=keys.function_key)) for name, value in headers]
    assert send(host, target.format(key=keys.function_key), filled)[0] == status
