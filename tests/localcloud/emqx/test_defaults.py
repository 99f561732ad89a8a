"""The runner's account and endpoints.json entries lead to working APIs."""

from __future__ import annotations

import ssl

import httpx

from localcloud.emqx import create_app, default_account, direct, endpoint_entries
from localcloud.serving import BackgroundServer
from localcloud.tls import LocalCA
from tests.localcloud.emqx.support import EMQX_CLIENT_ID, EMQX_SUBSCRIPTION, UNREACHABLE_ARM, UNREACHABLE_IDENTITY


def test_endpoint_entries_reach_the_platform_and_both_deployment_apis(local_ca: LocalCA) -> None:
    account = default_account()
    app = create_app(
        arm_endpoint=UNREACHABLE_ARM,
        identity_endpoint=UNREACHABLE_IDENTITY,
        identity_header="unused",
        emqx_subscription_id=EMQX_SUBSCRIPTION,
        emqx_client_id=EMQX_CLIENT_ID,
        ca_bundle=local_ca.ca_bundle,
        platform_keys=account.platform_keys,
        deployments=account.deployments,
        projects=account.projects,
        speed=1000,
    )
    tls = ssl.create_default_context(cafile=str(local_ca.ca_bundle))
    with BackgroundServer(app, local_ca.server) as server, httpx.Client(verify=tls, timeout=10) as client:
        entries = endpoint_entries(server.base_url, account)
        deployments = client.get(
            entries["platformApiUrl"] + "/deployments", auth=(entries["platformApiKey"], entries["platformApiSecret"])
        ).json()
        url, headers, extensions = direct(entries["deploymentApiUrl"] + "/connectors_probe")
        probe = client.post(
            url,
            headers=headers,
            extensions=extensions,
            auth=(entries["deploymentApiKey"], entries["deploymentApiSecret"]),
            json={"type": "redis", "name": "p", "parameters": {"server": "10.1.0.9:6379"}},
        )
        url, headers, extensions = direct(entries["v4DeploymentApiUrl"] + "/resources?test=true")
        v4_test = client.post(
            url,
            headers=headers,
            extensions=extensions,
            auth=(entries["v4DeploymentApiKey"], entries["v4DeploymentApiSecret"]),
            json={"type": "backend_redis_single", "config": {"server": "10.1.0.9:6379"}},
        )
        console = client.get(entries["consoleUrl"])
    assert {(d["deploymentID"], d["version"], d["platform"]) for d in deployments} == {
        (entries["deploymentId"], "v5", "Azure"),
        (entries["v4DeploymentId"], "v4", "Azure"),
    }
    port = httpx.URL(entries["platformApiUrl"]).port
    assert entries["deploymentApiUrl"] == f"https://{entries['deploymentId']}.deployments.localhost:{port}/api/v5"
    assert entries["v4DeploymentApiUrl"] == f"https://{entries['v4DeploymentId']}.deployments.localhost:{port}/api/v4"
    assert entries["deploymentApiHosts"] == f"*.deployments.localhost:{port}"
    assert probe.json()["code"] == "TEST_FAILED"
    assert v4_test.json()["code"] == 400
    assert console.json() == {"subscriptionId": EMQX_SUBSCRIPTION, "privateLinks": []}
