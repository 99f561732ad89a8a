"""Platform API: documented shapes, Basic auth, scopes and projects of keys, the 60-per-hour limit."""

from __future__ import annotations

from tests.localcloud.emqx.support import StandIn, fixture


def test_list_deployments_has_the_documented_fields(emqx: StandIn) -> None:
    with emqx.platform() as client:
        response = client.get("/deployments")
    assert response.status_code == 200
    documented = set(fixture("platform-deployments-list.response.json")[0])
    listed = {item["deploymentID"]: item for item in response.json()}
    assert set(listed) == {"w41b11c0", "v4d0a1b2"}
    for item in listed.values():
        assert set(item) == documented
    assert listed["w41b11c0"]["version"] == "v5"
    assert listed["v4d0a1b2"]["version"] == "v4"
    assert listed["w41b11c0"]["platform"] == "Azure"
    assert listed["w41b11c0"]["projectName"] == "default"


def test_get_deployment_has_the_documented_fields(emqx: StandIn) -> None:
    with emqx.platform() as client:
        response = client.get("/deployments/w41b11c0")
    assert response.status_code == 200
    body = response.json()
    # The documented example plus `tps`, which newer docs add.
    assert set(body) == set(fixture("platform-deployment-get.response.json")) | {"tps"}
    assert body["deploymentID"] == "w41b11c0"
    assert body["status"] == "running"


def test_projects_are_those_the_key_sees(emqx: StandIn) -> None:
    with emqx.platform() as client:
        everything = client.get("/projects").json()
    with emqx.platform(emqx.account.other_project_key) as client:
        other_only = client.get("/projects").json()
    assert set(everything[0]) == set(fixture("platform-projects-list.response.json")[0])
    assert [p["projectID"] for p in everything] == ["project-1", "project-2"]
    assert [p["projectID"] for p in other_only] == ["project-2"]


def test_bad_or_missing_credentials_are_401(emqx: StandIn) -> None:
    with emqx.client() as anonymous:
        assert anonymous.get("/public_api/v1/deployments").status_code == 401
    with emqx.client(auth=("key-all", "wrong")) as wrong:
        response = wrong.get("/public_api/v1/deployments/w41b11c0")
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"
    assert response.headers["www-authenticate"].lower().startswith("basic")


def test_a_key_without_the_function_is_403(emqx: StandIn) -> None:
    with emqx.platform(emqx.account.projects_only_key) as client:
        assert client.get("/projects").status_code == 200
        response = client.get("/deployments/w41b11c0")
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"


def test_unknown_or_invisible_deployments_are_404(emqx: StandIn) -> None:
    with emqx.platform() as client:
        unknown = client.get("/deployments/nope0000")
    with emqx.platform(emqx.account.other_project_key) as client:
        invisible = client.get("/deployments/w41b11c0")
        listed = client.get("/deployments").json()
    assert unknown.status_code == 404
    assert unknown.json() == {"code": "NOT_FOUND", "message": "Deployment not found"}
    assert invisible.status_code == 404
    assert listed == []


def test_get_deployment_allows_60_calls_per_hour_per_key(emqx: StandIn) -> None:
    with emqx.platform() as client, emqx.client() as control:
        statuses = [client.get("/deployments/w41b11c0").status_code for _ in range(60)]
        refused = client.get("/deployments/w41b11c0")
        # Another endpoint and another key have budgets of their own.
        assert client.get("/deployments").status_code == 200
        with emqx.platform(emqx.account.other_project_key) as other:
            assert other.get("/deployments/w41b11c0").status_code == 404

        assert statuses == [200] * 60
        assert refused.status_code == 429
        assert refused.json()["code"] == "TOO_MANY_REQUESTS"
        retry_after = int(refused.headers["retry-after"])
        assert 3500 <= retry_after <= 3600

        control.post("/localcloud/clock", json={"advanceSeconds": retry_after - 60}).raise_for_status()
        assert client.get("/deployments/w41b11c0").status_code == 429
        control.post("/localcloud/clock", json={"advanceSeconds": 61}).raise_for_status()
        assert client.get("/deployments/w41b11c0").status_code == 200


def test_list_deployments_is_limited_too(emqx: StandIn) -> None:
    with emqx.platform() as client:
        statuses = [client.get("/deployments").status_code for _ in range(61)]
    assert statuses == [200] * 60 + [429]
