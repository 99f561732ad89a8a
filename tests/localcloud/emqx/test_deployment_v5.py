"""A v5 deployment's API: auth and permissions, schema errors, probe failures worded as EMQX words them, connectors."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from tests.localcloud.emqx.support import StandIn, fixture

TIMEOUT_MESSAGE = re.compile(
    r'\{start_pool_failed,<<"PROBE_[A-Za-z][A-Za-z0-9]{7}_redis:dryrun">>,'
    r'#\{addr => \{10,1,0,9\},host => "10\.1\.0\.9",port => 6379,reason => timeout,type => tcp_connect\}\}'
)


def probe_body(**parameters: Any) -> dict[str, Any]:
    body = copy.deepcopy(fixture("v5-connectors-probe-redis-single.request.json"))
    body["parameters"].update(parameters)
    return body


def test_bad_key_is_401_as_emqx_answers_it(emqx: StandIn) -> None:
    with emqx.v5(auth=("app-v5", "wrong")) as client:
        response = client.post("/connectors_probe", json=probe_body())
    assert response.status_code == 401
    assert response.json() == fixture("v5-api.error-401-bad-api-key.response.json")
    assert response.headers["www-authenticate"] == 'Basic Realm="emqx-dashboard"'


def test_no_credentials_is_401(emqx: StandIn) -> None:
    with emqx.host("w41b11c0") as client:
        response = client.get("/api/v5/connectors")
    assert response.status_code == 401
    assert response.json()["code"] == "AUTHORIZATION_HEADER_ERROR"


def test_a_key_without_the_permission_is_403(emqx: StandIn) -> None:
    with emqx.v5(emqx.account.probe_only_key) as client:
        allowed = client.post("/connectors_probe", json=probe_body(server="redis.internal:6379"))
        refused = client.get("/connectors")
    assert allowed.status_code == 400
    assert refused.status_code == 403
    assert refused.json() == {
        "code": "UNAUTHORIZED_ROLE",
        "message": "This API Key don't have permission to access this resource",
    }


def test_a_v4_deployment_has_no_v5_api(emqx: StandIn) -> None:
    with emqx.host("v4d0a1b2", auth=("app-v4", "v4-secret")) as client:
        assert client.get("/api/v5/connectors").status_code == 404


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda b: b.pop("parameters"), "connector"),
        (lambda b: b.update(type="mysql"), "connector.type"),
        (lambda b: b["parameters"].update(database=-1), "connector.parameters.database"),
        (lambda b: b["parameters"].update(pool_size="eight"), "connector.parameters.pool_size"),
        (lambda b: b["parameters"].pop("server"), "connector.parameters"),
        (lambda b: b["parameters"].update(server="10.1.0.9:99999"), "connector.parameters.server"),
    ],
)
def test_schema_errors_are_400_bad_request(emqx: StandIn, change: Any, path: str) -> None:
    body = probe_body()
    change(body)
    with emqx.v5() as client:
        response = client.post("/connectors_probe", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"
    assert f'"path":"{path}' in response.json()["message"]


def test_an_address_no_privatelink_serves_times_out(emqx: StandIn) -> None:
    with emqx.v5() as client:
        response = client.post("/connectors_probe", json=probe_body(server="10.1.0.9:6379"))
    assert response.status_code == 400
    assert set(response.json()) == set(fixture("v5-connectors-probe.error-400-test-failed.response.json"))
    assert response.json()["code"] == "TEST_FAILED"
    assert TIMEOUT_MESSAGE.fullmatch(response.json()["message"])


def test_a_host_name_does_not_resolve(emqx: StandIn) -> None:
    with emqx.v5() as client:
        response = client.post("/connectors_probe", json=probe_body(server="redis.internal"))
    assert response.json()["code"] == "TEST_FAILED"
    assert re.fullmatch(
        r'\{start_pool_failed,<<"PROBE_\w{8}_redis:dryrun">>,'
        r'#\{host => "redis\.internal",port => 6379,reason => nxdomain,type => get_addr\}\}',
        response.json()["message"],
    )


def test_the_legacy_bridges_probe(emqx: StandIn) -> None:
    body = fixture("v5-bridges-probe-redis-single.request.json")
    with emqx.v5() as client:
        failed = client.post("/bridges_probe", json=body)
        no_template = client.post("/bridges_probe", json={**body, "command_template": []})
    assert failed.status_code == 400
    assert failed.json()["code"] == "TEST_FAILED"
    assert "reason => timeout" in failed.json()["message"]
    assert no_template.json()["code"] == "BAD_REQUEST"


def test_connectors_are_created_listed_read_and_deleted(emqx: StandIn) -> None:
    body = probe_body(server="10.1.0.9:6379", password="s3cret", username="test", database=1)
    body["name"] = "my_connector"
    with emqx.v5() as client:
        created = client.post("/connectors", json=body)
        again = client.post("/connectors", json=body)
        listed = client.get("/connectors")
        one = client.get("/connectors/redis:my_connector")
        deleted = client.delete("/connectors/redis:my_connector")
        gone = client.get("/connectors/redis:my_connector")
        bad_id = client.get("/connectors/my_connector")
        bad_name = client.post("/connectors", json={**body, "name": "_bad name"})

    assert created.status_code == 201
    info = created.json()
    assert set(fixture("v5-connector-redis-get.response.json")) <= set(info)
    assert info["parameters"]["password"] == "******"
    assert info["parameters"]["pool_size"] == 8
    assert info["status"] == "disconnected"
    assert info["status_reason"].startswith('{start_pool_failed,<<"connector:redis:my_connector">>')
    assert info["node_status"] == [
        {"node": "emqx@localhost", "status": "disconnected", "status_reason": info["status_reason"]}
    ]
    assert again.json() == {"code": "ALREADY_EXISTS", "message": "connector already exists"}
    assert [c["name"] for c in listed.json()] == ["my_connector"]
    assert one.json()["parameters"]["server"] == "10.1.0.9:6379"
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert gone.json()["message"] == (
        "Connector lookup failed: connector named 'my_connector' of type redis does not exist."
    )
    assert bad_id.json()["message"].startswith("Invalid connector ID, should be of pattern {type}:{name}")
    assert bad_name.json()["code"] == "BAD_REQUEST"
    assert "Invalid name format" in bad_name.json()["message"]
