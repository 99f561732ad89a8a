"""Every recorded EMQX request body is accepted as the real API accepts it, and answered in the recorded shape.

The bodies name 10.1.0.9, which no PrivateLink of the deployment serves here: each test fails as the real
broker fails it (unreachable), after the body passed the schema check. The passing answers (204, `{"code":0}`)
are replayed through a real PrivateLink in test_lifecycle.py.
"""

from __future__ import annotations

from importlib import resources

from tests.localcloud.emqx.support import FIXTURES, StandIn, fixture


def test_the_stand_in_validates_against_the_recorded_schemas() -> None:
    shipped = resources.files("localcloud.emqx")
    assert (
        shipped.joinpath("redis_connector.schema.json").read_text()
        == (FIXTURES / "v5-redis-single-connector.schema.json").read_text()
    )
    assert (
        shipped.joinpath("backend_redis_single.params.json").read_text()
        == (FIXTURES / "v4-backend_redis_single.params.json").read_text()
    )


def test_v5_connectors_probe_request(emqx: StandIn) -> None:
    with emqx.v5() as client:
        response = client.post("/connectors_probe", json=fixture("v5-connectors-probe-redis-single.request.json"))
    assert response.status_code == 400
    expected = fixture("v5-connectors-probe.error-400-test-failed.response.json")
    assert set(response.json()) == set(expected)
    assert response.json()["code"] == expected["code"]


def test_v5_bridges_probe_request(emqx: StandIn) -> None:
    with emqx.v5() as client:
        response = client.post("/bridges_probe", json=fixture("v5-bridges-probe-redis-single.request.json"))
    assert response.status_code == 400
    assert response.json()["code"] == "TEST_FAILED"


def test_v4_resources_test_request(emqx: StandIn) -> None:
    with emqx.v4() as client:
        response = client.post(
            "/resources", params={"test": "true"}, json=fixture("v4-resources-test-redis-single.request.json")
        )
    assert response.status_code == 200
    expected = fixture("v4-resources-test.response-error.json")
    assert set(response.json()) == set(expected)
    assert response.json()["message"].startswith("Bad Arguments: {resource_down,")


def test_v5_connector_get_shape(emqx: StandIn) -> None:
    recorded = fixture("v5-connector-redis-get.response.json")
    body = {key: recorded[key] for key in ("type", "name", "enable", "description", "parameters", "ssl")}
    body["parameters"] = {**body["parameters"], "password": "public"}
    with emqx.v5() as client:
        client.post("/connectors", json=body).raise_for_status()
        response = client.get("/connectors/redis:my_connector")
    got = response.json()
    assert set(recorded) <= set(got)
    assert got["parameters"] == recorded["parameters"]
    assert [set(n) - {"status_reason"} for n in got["node_status"]] == [set(n) for n in recorded["node_status"]]


def test_platform_deployment_create_request(emqx: StandIn) -> None:
    body = fixture("platform-deployment-create.request.json")
    body.update(projectID=emqx.account.project.project_id, region="eastus")
    with emqx.platform() as client:
        created = client.post("/deployments", json=body)
        assert created.status_code == 201, created.text
        record = created.json()
        assert set(fixture("platform-deployment-get.response.json")) <= set(record)
        assert (record["status"], record["deploymentType"], record["platform"]) == (
            "starting",
            "dedicatedFlex",
            "Azure",
        )
        assert record["deploymentName"] == "example"
        emqx.cloud.clock.advance(120)
        read = client.get(f"/deployments/{record['deploymentID']}")
        assert read.status_code == 200, read.text
        assert read.json()["status"] == "running"
        listed = [d["deploymentID"] for d in client.get("/deployments").json()]
        assert record["deploymentID"] in listed


def test_platform_deployment_create_names_the_bad_property(emqx: StandIn) -> None:
    body = fixture("platform-deployment-create.request.json")
    body.update(projectID=emqx.account.project.project_id, region="eastus", deploymentVersion="v4", tps=0)
    with emqx.platform() as client:
        refused = client.post("/deployments", json=body)
    assert refused.status_code == 422
    assert "deploymentVersion" in refused.json()["message"] and "tps" in refused.json()["message"]
