"""The HTTP adapters decode the whole request (query flags, body, page size) before the process's services are
built, so a bad request answers 400 even when the app settings are broken (which answers 500 for good ones)."""

import json
from typing import Any

import azure.functions as func
import pytest

BROKEN_SETTINGS = {"MONITOR_CONCURRENCY": "many", "STATE_STORAGE_CONNECTION_STRING": "AccountName=dev;AccountKey=a2V5;"}
BODY = b'{"azure": {}}'


def request(method: str, url: str, params: dict[str, str], body: bytes = b"") -> func.HttpRequest:
    headers = {"content-type": "application/json"} if body else {}
    return func.HttpRequest(
        method=method, url=url, headers=headers, params=params, route_params={"name": "orders"}, body=body
    )


@pytest.fixture
def broken_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BROKEN_SETTINGS.items():
        monkeypatch.setenv(name, value)


def error_of(response: func.HttpResponse) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(response.get_body())["error"]
    return error


@pytest.mark.usefixtures("broken_settings")
@pytest.mark.parametrize(
    ("function", "method", "params", "body", "target"),
    [
        ("provision", "PUT", {"dryRun": "yes"}, BODY, "dryRun"),
        ("provision", "PUT", {"allowReplace": "1"}, BODY, "allowReplace"),
        ("remove", "DELETE", {"force": "maybe"}, b"", "force"),
        ("remove", "DELETE", {"dryRun": "no"}, b"", "dryRun"),
        ("list_all", "GET", {"top": "0"}, b"", "top"),
    ],
)
async def test_a_bad_query_is_400_naming_it_even_with_broken_settings(
    function: str, method: str, params: dict[str, str], body: bytes, target: str
) -> None:
    from functions import links

    response = await getattr(links, function)(request(method, "/api/links/orders", params, body))
    assert response.status_code == 400
    assert error_of(response)["target"] == target


@pytest.mark.usefixtures("broken_settings")
async def test_a_good_request_with_broken_settings_is_500_naming_the_setting() -> None:
    from functions import links

    response = await links.remove(request("DELETE", "/api/links/orders", {"dryRun": "true"}))
    assert response.status_code == 500
    assert error_of(response) | {"message": ""} == {
        "code": "InvalidAppSetting",
        "message": "",
        "target": "MONITOR_CONCURRENCY",
    }
