"""HTTP triggers through a real socket: keys, routing, conversion both ways, failures and the log line."""

from __future__ import annotations

import json
import logging
import re
import uuid

import httpx
import pytest

from localcloud.functions_host import HostKeys, create_app
from localcloud.serving import BackgroundServer
from tests.localcloud.functions_host.support import SAMPLE_APP, YEARLY

EXECUTED = re.compile(r"^Executed 'Functions\.(\w+)' \((Succeeded|Failed), Id=([0-9a-f-]{36}), Duration=(\d+)ms\)$")


def test_a_function_route_answers_401_with_an_empty_body_without_a_valid_key(
    client: httpx.Client, keys: HostKeys
) -> None:
    for params, headers in [({}, {}), ({"code": "wrong"}, {}), ({}, {"x-functions-key": "wrong"})]:
        answer = client.get("/api/items/1", params=params, headers=headers)
        assert (answer.status_code, answer.content) == (401, b"")
    # the system key is for extension webhooks only
    assert client.get("/api/items/1", params={"code": keys.system_key}).status_code == 401


def test_the_function_key_works_in_the_header_and_as_code_and_the_master_key_too(
    client: httpx.Client, keys: HostKeys
) -> None:
    assert client.get("/api/items/1", headers={"x-functions-key": keys.function_key}).status_code == 200
    assert client.get("/api/items/1", params={"code": keys.function_key}).status_code == 200
    assert client.get("/api/items/1", params={"code": keys.master_key}).status_code == 200


def test_the_header_key_is_used_when_both_are_given(client: httpx.Client, keys: HostKeys) -> None:
    answer = client.get("/api/items/1", params={"code": keys.function_key}, headers={"x-functions-key": "wrong"})
    assert answer.status_code == 401


def test_an_anonymous_route_needs_no_key_and_gets_the_context(client: httpx.Client) -> None:
    answer = client.get("/api/public")
    assert answer.status_code == 200
    assert answer.json()["function_name"] == "public"


def test_an_admin_route_takes_only_the_master_key(client: httpx.Client, keys: HostKeys) -> None:
    assert client.get("/api/admin-only", params={"code": keys.function_key}).status_code == 401
    answer = client.get("/api/admin-only", params={"code": keys.master_key})
    assert (answer.status_code, answer.text) == (200, "admin")


def test_the_request_reaches_the_function_as_an_http_request_and_the_response_comes_back(
    client: httpx.Client, keys: HostKeys
) -> None:
    answer = client.post(
        "/api/echo/Alice?x=1&x=2&y=z",
        headers={"x-functions-key": keys.function_key, "X-Sample": "sampled"},
        content=b"\x00\x01binary",
    )
    assert answer.status_code == 201
    assert answer.headers["x-echo"] == "yes"
    assert answer.headers["content-type"] == "application/json"
    seen = answer.json()
    assert seen["method"] == "POST"
    assert seen["url"] == str(client.base_url).rstrip("/") + "/api/echo/Alice?x=1&x=2&y=z"
    assert seen["sample_header"] == "sampled"
    assert seen["params"] == {"x": "1,2", "y": "z"}
    assert seen["route_params"] == {"name": "Alice"}
    assert bytes.fromhex(seen["body_hex"]) == b"\x00\x01binary"


def test_a_returned_str_is_a_200_text_answer(client: httpx.Client, keys: HostKeys) -> None:
    answer = client.get("/api/items/42", params={"code": keys.function_key})
    assert (answer.status_code, answer.text) == (200, "item 42")
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("path", "status", "route_values"),
    [
        ("/api/items/abc", 404, None),
        ("/api/items/99999999999", 404, None),  # outside int32
        ("/api/echo/abc1", 404, None),  # alpha
        ("/api/codes/ABC", 200, {"code": "ABC"}),
        ("/api/codes/ABCD", 404, None),
        (f"/api/things/{uuid.UUID(int=7)}", 200, {"id": str(uuid.UUID(int=7))}),
        ("/api/things/not-a-guid", 404, None),
        ("/api/ranged/5", 200, {"n": "5"}),
        ("/api/ranged/6", 404, None),
        ("/api/files/a/b%20c/d", 200, {"rest": "a/b c/d"}),
        ("/api/files", 200, {}),
        ("/api/pages", 200, {}),
        ("/api/pages/3", 200, {"page": "3"}),
        ("/api/pages/x", 404, None),
        ("/api/archives", 200, {"year": "2024"}),
        ("/api/documents/report.v2.pdf", 200, {"name": "report.v2", "ext": "pdf"}),
        ("/api/LINKS/first/", 200, {"name": "first"}),
        ("/api/links/special", 200, {}),  # the literal route wins over links/{name}
        ("/api/nowhere", 404, None),
    ],
)
def test_route_templates_and_constraints(
    client: httpx.Client, keys: HostKeys, path: str, status: int, route_values: dict[str, str] | None
) -> None:
    answer = client.get(path, params={"code": keys.function_key})
    assert answer.status_code == status
    if route_values is not None:
        assert answer.json() == route_values


def test_the_method_picks_among_functions_of_one_route(client: httpx.Client, keys: HostKeys) -> None:
    answer = client.put("/api/links/first", params={"code": keys.function_key})
    assert (answer.status_code, answer.text) == (200, "written first")


def test_a_method_no_function_allows_is_404_as_in_the_host(client: httpx.Client, keys: HostKeys) -> None:
    # The host's router treats methods as part of the route, so it answers 404, not 405
    # (Azure/azure-functions-host#10098).
    answer = client.delete("/api/links/first", params={"code": keys.function_key})
    assert (answer.status_code, answer.content) == (404, b"")


def test_an_unhandled_exception_is_a_500_without_details(
    client: httpx.Client, keys: HostKeys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="localcloud.functions_host")
    answer = client.get("/api/boom", params={"code": keys.function_key})
    assert (answer.status_code, answer.content) == (500, b"")
    [record] = [r for r in caplog.records if r.getMessage().startswith("Executed 'Functions.boom'")]
    assert record.levelno == logging.ERROR
    assert "(Failed, Id=" in record.getMessage()
    assert record.exc_info is not None


def test_a_return_value_the_worker_cannot_send_is_a_500(client: httpx.Client, keys: HostKeys) -> None:
    answer = client.get("/api/dict", params={"code": keys.function_key})
    assert (answer.status_code, answer.content) == (500, b"")


def test_sync_functions_run_in_the_thread_pool_and_async_ones_on_the_loop(client: httpx.Client, keys: HostKeys) -> None:
    sync_thread = client.get("/api/echo/Bob", params={"code": keys.function_key}).json()["thread"]
    async_thread = client.get("/api/public").json()["thread"]
    assert sync_thread.startswith("function")
    assert not async_thread.startswith("function")


def test_each_invocation_logs_one_executed_line_and_the_apps_logs_reach_the_host_log(
    client: httpx.Client, keys: HostKeys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for name in ("Ann", "Bea"):
        assert client.get(f"/api/echo/{name}", params={"code": keys.function_key}).status_code == 201
    executed = [EXECUTED.match(r.getMessage()) for r in caplog.records if r.name == "localcloud.functions_host"]
    echo_lines = [match for match in executed if match and match.group(1) == "echo"]
    assert [match.group(2) for match in echo_lines] == ["Succeeded", "Succeeded"]
    assert len({match.group(3) for match in echo_lines}) == 2  # one invocation id each
    assert "echo called for Ann" in [r.getMessage() for r in caplog.records if r.name == "sample_app"]


def test_the_route_prefix_is_configurable(keys: HostKeys) -> None:
    app = create_app(SAMPLE_APP, app_settings={"TICK_SCHEDULE": YEARLY}, keys=keys, route_prefix="")
    with BackgroundServer(app) as server, httpx.Client(base_url=server.base_url) as http:
        assert http.get("/items/3", params={"code": keys.function_key}).text == "item 3"
        assert http.get("/api/items/3", params={"code": keys.function_key}).status_code == 404


def test_host_status_needs_the_master_key(client: httpx.Client, keys: HostKeys) -> None:
    assert client.get("/admin/host/status", params={"code": keys.function_key}).status_code == 401
    answer = client.get("/admin/host/status", headers={"x-functions-key": keys.master_key})
    assert answer.status_code == 200
    assert answer.json()["state"] == "Running"
    assert json.dumps(answer.json()).count(keys.master_key) == 0
