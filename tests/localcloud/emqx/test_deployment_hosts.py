"""Each deployment's API is at its own host name, `/api/v5` or `/api/v4` exactly, as in EMQX Cloud."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest

from localcloud.emqx import DEPLOYMENT_HOST_SUFFIX, deployment_api_hosts, direct
from tests.localcloud.emqx.support import StandIn, fixture

JSON = {"Accept": "application/json"}


def test_v5_and_v4_answer_by_host_name(emqx: StandIn) -> None:
    with (
        emqx.host("w41b11c0", auth=("app-v5", "v5-secret")) as v5,
        emqx.host("v4d0a1b2", ("app-v4", "v4-secret")) as v4,
    ):
        connectors = v5.get("/api/v5/connectors")
        resources = v4.get("/api/v4/resources")
    assert (connectors.status_code, connectors.json()) == (200, [])
    assert (resources.status_code, resources.json()) == (200, {"code": 0, "data": []})


@pytest.mark.parametrize("with_port", [True, False])
def test_the_host_header_names_the_deployment_with_or_without_its_port(emqx: StandIn, with_port: bool) -> None:
    port = httpx.URL(emqx.base_url).port
    host = "w41b11c0" + DEPLOYMENT_HOST_SUFFIX
    with emqx.client(auth=("app-v5", "v5-secret")) as client:
        response = client.get("/api/v5/connectors", headers={"Host": f"{host}:{port}" if with_port else host})
    assert (response.status_code, response.json()) == (200, [])


def test_the_old_path_form_is_gone(emqx: StandIn) -> None:
    with emqx.client(auth=("app-v5", "v5-secret")) as client:
        v5 = client.get("/deployments-api/w41b11c0/api/v5/connectors")
        v4 = client.get("/deployments-api/v4d0a1b2/api/resources", auth=("app-v4", "v4-secret"))
        at_root = client.get("/api/v5/connectors")
    assert [v5.status_code, v4.status_code, at_root.status_code] == [404, 404, 404]


def test_a_wrong_version_path_on_a_deployment_host_is_404(emqx: StandIn) -> None:
    with emqx.host("w41b11c0", auth=("app-v5", "v5-secret")) as v5:
        v4_path = v5.get("/api/v4/resources", headers=JSON)
        bare = v5.get("/api", headers={"Accept": "text/plain"})
        other = v5.get("/api/v5/nodes")
    # EMQX's dashboard 404, worded by the Accept header (emqx_dashboard_not_found.erl).
    assert (v4_path.status_code, v4_path.json()) == (404, {"code": "NOT_FOUND", "message": "Request Path Not Found"})
    assert (bare.status_code, bare.text) == (404, "404 - NOT FOUND")
    assert (other.status_code, other.headers["content-type"].split(";")[0]) == (404, "text/html")
    with emqx.host("v4d0a1b2", auth=("app-v4", "v4-secret")) as v4:
        v5_path = v4.get("/api/v5/connectors")
        unknown = v4.get("/api/v4/connectors")
        wrong_method = v4.put("/api/v4/resources", json={})
    with emqx.host("v4d0a1b2", auth=("app-v4", "wrong")) as v4:
        unauthorized = v4.get("/api/v4/connectors")
    # cowboy's empty 404 outside /api/v4; minirest checks the credentials, then answers `Not found.`.
    assert (v5_path.status_code, v5_path.content) == (404, b"")
    assert (unknown.status_code, unknown.text) == (404, "Not found.")
    assert (wrong_method.status_code, wrong_method.text) == (404, "Not found.")
    assert (unauthorized.status_code, unauthorized.text) == (401, "UNAUTHORIZED")


def test_a_deployment_host_serves_nothing_but_its_api(emqx: StandIn) -> None:
    with emqx.host("w41b11c0", auth=("key-all", "secret-all")) as client:
        platform = client.get("/public_api/v1/projects", headers=JSON)
        control = client.get("/localcloud/clock", headers=JSON)
    assert (platform.status_code, control.status_code) == (404, 404)
    with emqx.host("f0f0f0f0", auth=("app-v5", "v5-secret")) as client:
        unknown = client.get("/api/v5/connectors")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "NOT_FOUND"


def test_a_deployment_created_at_run_time_is_served_at_its_host(emqx: StandIn) -> None:
    body = fixture("platform-deployment-create.request.json")
    body.update(projectID=emqx.account.project.project_id, region="eastus")
    with emqx.platform() as platform:
        created = platform.post("/deployments", json=body)
    assert created.status_code == 201, created.text
    deployment_id = created.json()["deploymentID"]
    deployment = emqx.cloud.account.deployment(deployment_id)
    assert deployment is not None
    key = deployment.api_keys[0]
    with emqx.host(deployment_id, auth=(key.app_id, key.secret)) as client:
        response = client.get("/api/v5/connectors")
    assert (response.status_code, response.json()) == (200, [])


def test_tls_is_verified_by_the_deployment_host_name(emqx: StandIn) -> None:
    port = httpx.URL(emqx.base_url).port
    tls = ssl.create_default_context(cafile=str(emqx.ca_bundle))
    url, headers, extensions = direct(f"https://w41b11c0{DEPLOYMENT_HOST_SUFFIX}:{port}/api/v5/connectors")
    assert url == f"https://127.0.0.1:{port}/api/v5/connectors"
    assert headers == {"Host": f"w41b11c0{DEPLOYMENT_HOST_SUFFIX}:{port}"}
    assert extensions == {"sni_hostname": f"w41b11c0{DEPLOYMENT_HOST_SUFFIX}"}
    # A fresh client each time, so every request makes its own TLS handshake.
    with httpx.Client(verify=tls, timeout=10) as client:
        answer = client.get(url, headers=headers, extensions=extensions, auth=("app-v5", "v5-secret"))
    assert answer.status_code == 200
    for uncovered in ("w41b11c0.elsewhere.localhost", f"a.w41b11c0{DEPLOYMENT_HOST_SUFFIX}"):
        with httpx.Client(verify=tls, timeout=10) as client, pytest.raises(httpx.ConnectError, match="CERTIFICATE"):
            client.get(url, headers=headers, extensions={"sni_hostname": uncovered})
    # The name the certificate was checked against is the deployment's, not the address connected to.
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        tls.wrap_socket(raw, server_hostname=f"w41b11c0{DEPLOYMENT_HOST_SUFFIX}") as wrapped,
    ):
        certificate = wrapped.getpeercert()
    assert certificate is not None
    names = [value for kind, value in certificate["subjectAltName"] if kind == "DNS"]
    assert f"*{DEPLOYMENT_HOST_SUFFIX}" in names


def test_the_helpers_leave_other_urls_alone_and_give_the_allow_list_entry(emqx: StandIn) -> None:
    platform = emqx.base_url + "/public_api/v1/projects"
    assert direct(platform) == (platform, {}, {})
    assert direct("https://w41b11c0.eastus.azure.emqx.cloud:8443/api/v5") == (
        "https://w41b11c0.eastus.azure.emqx.cloud:8443/api/v5",
        {},
        {},
    )
    assert deployment_api_hosts(emqx.base_url) == f"*.deployments.localhost:{httpx.URL(emqx.base_url).port}"
    assert deployment_api_hosts("https://127.0.0.1") == "*.deployments.localhost:443"


def test_calls_record_the_host(emqx: StandIn) -> None:
    with emqx.client() as control, emqx.v5() as v5, emqx.platform() as platform:
        control.delete("/localcloud/calls")
        v5.get("/connectors")
        platform.get("/projects")
        calls = control.get("/localcloud/calls").json()["calls"]
    assert [(c["host"], c["path"], c["endpoint"]) for c in calls] == [
        (f"w41b11c0{DEPLOYMENT_HOST_SUFFIX}", "/api/v5/connectors", "GET /api/v5/connectors"),
        ("127.0.0.1", "/public_api/v1/projects", "GET /public_api/v1/projects"),
    ]
