"""A v4 deployment's rule-engine resources API, in minirest 0.3's shapes (HTTP 200 with a `code`)."""

from __future__ import annotations

import re

from tests.localcloud.emqx.support import StandIn, fixture


def test_bad_credentials_are_401_text(emqx: StandIn) -> None:
    with emqx.v4(auth=("app-v4", "wrong")) as client:
        response = client.post("/resources?test=true", json={})
    assert response.status_code == 401
    assert response.text == "UNAUTHORIZED"
    assert response.headers["www-authenticate"] == 'Basic Realm="minirest-server"'


def test_a_failed_test_is_resource_down(emqx: StandIn) -> None:
    with emqx.v4() as client:
        response = client.post(
            "/resources", params={"test": "true"}, json=fixture("v4-resources-test-redis-single.request.json")
        )
    assert response.status_code == 200
    assert set(response.json()) == set(fixture("v4-resources-test.response-error.json"))
    assert response.json()["code"] == 400
    assert re.fullmatch(r'Bad Arguments: \{resource_down,<<"__probe__:[0-9a-f]{8}">>\}', response.json()["message"])


def test_without_auto_reconnect_the_resource_fails_to_start(emqx: StandIn) -> None:
    body = fixture("v4-resources-test-redis-single.request.json")
    body["config"]["auto_reconnect"] = False
    body["test"] = True  # minirest reads `test` from the body as well as from the query
    with emqx.v4() as client:
        response = client.post("/resources", json=body)
    assert response.json() == {"code": 500, "message": "Init resource failure!"}


def test_parameters_are_checked_against_the_resource_type(emqx: StandIn) -> None:
    with emqx.v4() as client:
        no_server = client.post("/resources?test=true", json={"type": "backend_redis_single", "config": {}})
        bad_number = client.post(
            "/resources?test=true",
            json={"type": "backend_redis_single", "config": {"server": "10.1.0.9", "database": "0"}},
        )
        bad_type = client.post("/resources?test=true", json={"type": "backend_mysql", "config": {}})
    assert no_server.json() == {"code": 400, "message": 'Bad Arguments: {required_field_missing,<<"server">>}'}
    assert bad_number.json() == {"code": 400, "message": 'Bad Arguments: {invalid_data_type,{number,{<<"0">>,any}}}'}
    assert bad_type.json() == {"code": 400, "message": 'Bad Arguments: {resource_type_not_found,<<"backend_mysql">>}'}


def test_resources_are_created_and_listed(emqx: StandIn) -> None:
    body = fixture("v4-resources-test-redis-single.request.json")
    with emqx.v4() as client:
        created = client.post("/resources", json=body)
        named = client.post("/resources", json={**body, "id": "resource:redis1"})
        again = client.post("/resources", json={**body, "id": "resource:redis1"})
        listed = client.get("/resources")
    assert created.json()["code"] == 0
    data = created.json()["data"]
    assert re.fullmatch(r"resource:[0-9a-f]{8}", data["id"])
    assert data["type"] == "backend_redis_single"
    assert data["config"]["server"] == "10.1.0.9:6379"
    assert named.json()["data"]["id"] == "resource:redis1"
    assert again.json() == {"code": 400, "message": "Already Exists"}
    assert listed.json()["code"] == 0
    assert {r["id"]: r["status"] for r in listed.json()["data"]} == {data["id"]: False, "resource:redis1": False}
