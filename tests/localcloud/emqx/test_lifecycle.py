"""The whole PrivateLink life across the identity, ARM and EMQX stand-ins, ending at a real redis-server.

Provider side built with the real Azure SDK; EMQX creates its private endpoint with its own identity; the
provider approves; EMQX turns `running`; the probe speaks RESP to the real Redis; each failure cause is
provoked and reported in EMQX's words.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from localcloud.redis_server import RedisServer
from localcloud.tls import LocalCA
from tests.localcloud.emqx.azure_side import (
    POLL_SECONDS,
    RG,
    WAIT_SECONDS,
    Provider,
    Stack,
    provider_side,
    serve_stack,
)
from tests.localcloud.emqx.support import EMQX_SUBSCRIPTION, fixture
from tests.waiting import eventually_async

DEPLOYMENT = "w41b11c0"
PE_PATH = (
    f"/subscriptions/{EMQX_SUBSCRIPTION}/resourceGroups/emqx-privatelink/providers/Microsoft.Network/privateEndpoints"
)
TIMEOUT = re.compile(
    r'\{start_pool_failed,<<"PROBE_\w{8}_redis:dryrun">>,'
    r'#\{addr => \{[\d,]+\},host => "[\d.]+",port => \d+,reason => timeout,type => tcp_connect\}\}'
)


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(Path(tmp_path_factory.mktemp("redis")))
    yield server
    server.stop()


@pytest.fixture
def stack(local_ca: LocalCA, redis: RedisServer) -> Iterator[Stack]:
    with serve_stack(local_ca, redis) as served:
        yield served


def connector(server: str, **parameters: Any) -> dict[str, Any]:
    """The recorded probe body, aimed at `server` with the given parameters (no password unless given)."""
    body = fixture("v5-connectors-probe-redis-single.request.json")
    del body["parameters"]["password"]
    body["parameters"].update(server=server, **parameters)
    return dict(body)


async def probe(stack: Stack, server: str, **parameters: Any) -> httpx.Response:
    async with stack.v5() as v5:
        return await v5.post("/connectors_probe", json=connector(server, **parameters))


async def connection_gone(provider: Provider) -> None:
    """Until EMQX removed its private endpoint from Azure, and the provider's connection with it."""
    await eventually_async(
        provider.connections,
        "the provider's connection gone",
        WAIT_SECONDS,
        accept=lambda found: found == [],
        interval=POLL_SECONDS,
    )


async def link_record(stack: Stack, private_link_id: str, deployment: str = DEPLOYMENT) -> dict[str, Any]:
    async with stack.platform() as platform:
        response = await platform.get(f"/deployments/{deployment}/privatelinks/{private_link_id}")
        response.raise_for_status()
        return dict(response.json())


async def create_link(stack: Stack, alias: str, deployment: str = DEPLOYMENT) -> dict[str, Any]:
    async with stack.platform() as platform:
        response = await platform.post(
            f"/deployments/{deployment}/privatelinks", json={"platform": "azure", "privateLinkServiceId": alias}
        )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def approved_link(stack: Stack, provider: Provider, deployment: str = DEPLOYMENT) -> tuple[dict[str, Any], str]:
    """A PrivateLink taken to `running` by the provider's approval; (record, connection name)."""
    record = await create_link(stack, provider.alias, deployment)
    pending = await eventually_async(
        provider.connections,
        "EMQX's Pending connection",
        WAIT_SECONDS,
        accept=lambda found: len(found) == 1,
        interval=POLL_SECONDS,
    )
    connection = pending[0]
    assert connection.private_link_service_connection_state.status == "Pending"
    assert connection.name.startswith(f"emqx-{deployment}-{record['privateLinkID']}.")
    assert (await link_record(stack, record["privateLinkID"], deployment))["status"] == "pending"
    await provider.set_connection(connection.name, "Approved")
    running = await eventually_async(
        lambda: link_record(stack, record["privateLinkID"], deployment),
        "the PrivateLink running",
        WAIT_SECONDS,
        accept=lambda r: r["status"] == "running",
        interval=POLL_SECONDS,
    )
    return running, connection.name


async def test_api_mode_life_from_alias_to_redis_and_back(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    password = stack.redis.credentials.password
    async with provider_side(stack, monkeypatch) as provider:
        running, _ = await approved_link(stack, provider)
        ip = running["privateLinkIp"]
        assert ipaddress.IPv4Address(ip) in ipaddress.IPv4Network("10.200.0.0/24")

        passed = await probe(stack, f"{ip}:6379", password=password)
        assert passed.status_code == 204, passed.text

        wrong_password = (await probe(stack, f"{ip}:6379", password="not-the-password")).json()
        assert wrong_password["code"] == "TEST_FAILED"
        assert wrong_password["message"].startswith("-WRONGPASS invalid username-password pair")

        wrong_database = (await probe(stack, f"{ip}:6379", password=password, database=99)).json()
        assert re.fullmatch(
            r'\{start_pool_failed,<<"PROBE_\w{8}_redis:dryrun">>,#\{database => <<"99">>,'
            + f'host => "{re.escape(ip)}",port => 6379,'
            + r'reason => <<"-ERR DB index is out of range\\r\\n">>,type => select_error\}\}',
            wrong_database["message"],
        )

        no_password = (await probe(stack, f"{ip}:6379")).json()
        assert no_password["message"] == '{error,<<"NOAUTH Authentication required.">>}'

        wrong_port = (await probe(stack, f"{ip}:6380", password=password)).json()
        assert TIMEOUT.fullmatch(wrong_port["message"])
        assert f'host => "{ip}",port => 6380' in wrong_port["message"]

        not_a_privatelink = (await probe(stack, "10.1.0.50:6379", password=password)).json()
        assert TIMEOUT.fullmatch(not_a_privatelink["message"])

        async with stack.v5() as v5:
            created = await v5.post("/connectors", json={**connector(f"{ip}:6379", password=password), "name": "cache"})
            assert created.json()["status"] == "connected"
            async with stack.platform() as platform:
                in_use = await platform.delete(f"/deployments/{DEPLOYMENT}/privatelinks/{running['privateLinkID']}")
                assert in_use.status_code == 422
                assert (await v5.delete("/connectors/redis:cache")).status_code == 204
                deleted = await platform.delete(f"/deployments/{DEPLOYMENT}/privatelinks/{running['privateLinkID']}")
                assert deleted.status_code == 204
                gone = await platform.get(f"/deployments/{DEPLOYMENT}/privatelinks/{running['privateLinkID']}")
                assert gone.status_code == 404

        # EMQX removes its private endpoint from Azure; the provider's connection goes with it.
        await connection_gone(provider)


async def test_v4_resource_test_through_its_own_privatelink(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    password = stack.redis.credentials.password
    v4_deployment = stack.account.v4.deployment_id
    async with provider_side(stack, monkeypatch) as provider:
        running, _ = await approved_link(stack, provider, v4_deployment)
        server = f"{running['privateLinkIp']}:6379"
        recorded = fixture("v4-resources-test-redis-single.request.json")
        recorded["config"].update(server=server, password=password)
        wrong = {**recorded, "config": {**recorded["config"], "password": "wrong"}}
        async with stack.v4() as v4:
            passed = await v4.post("/resources?test=true", json=recorded)
            failed = await v4.post("/resources?test=true", json=wrong)
        assert passed.json() == fixture("v4-resources-test.response-ok.json")
        assert failed.json()["code"] == 400
        assert failed.json()["message"].startswith("Bad Arguments: {resource_down,")
        # Another deployment's PrivateLink is not a road for this one's broker.
        other = (await probe(stack, server, password=password)).json()
        assert TIMEOUT.fullmatch(other["message"])


async def test_a_rejected_connection_fails_the_privatelink(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    password = stack.redis.credentials.password
    async with provider_side(stack, monkeypatch) as provider:
        running, connection_name = await approved_link(stack, provider)
        await provider.set_connection(connection_name, "Rejected")
        failed = await eventually_async(
            lambda: link_record(stack, running["privateLinkID"]),
            "the PrivateLink failed",
            WAIT_SECONDS,
            accept=lambda r: r["status"] == "failed",
            interval=POLL_SECONDS,
        )
        assert "Rejected" in failed["statusReason"]
        # The address stays known to EMQX, but the connection no longer carries traffic.
        refused = (await probe(stack, f"{running['privateLinkIp']}:6379", password=password)).json()
        assert refused["code"] == "TEST_FAILED"
        assert TIMEOUT.fullmatch(refused["message"])


async def test_a_removed_connection_and_deleted_pls_fail_the_privatelink(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = stack.redis.credentials.password
    async with provider_side(stack, monkeypatch) as provider:
        running, connection_name = await approved_link(stack, provider)
        await (
            await provider.network.private_link_services.begin_delete_private_endpoint_connection(
                RG, "pls-redis", connection_name
            )
        ).result()
        await (await provider.network.private_link_services.begin_delete(RG, "pls-redis")).result()
        failed = await eventually_async(
            lambda: link_record(stack, running["privateLinkID"]),
            "the PrivateLink failed",
            WAIT_SECONDS,
            accept=lambda r: r["status"] == "failed",
            interval=POLL_SECONDS,
        )
        assert "Disconnected" in failed["statusReason"]
        gone = (await probe(stack, f"{running['privateLinkIp']}:6379", password=password)).json()
        assert TIMEOUT.fullmatch(gone["message"])
        async with stack.platform() as platform:
            deleted = await platform.delete(f"/deployments/{DEPLOYMENT}/privatelinks/{running['privateLinkID']}")
        assert deleted.status_code == 204


async def test_a_wrong_backend_port_is_refused_by_the_vm(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    async with provider_side(stack, monkeypatch, backend_port=6380) as provider:
        running, _ = await approved_link(stack, provider)
        refused = (await probe(stack, f"{running['privateLinkIp']}:6379", password="x")).json()
    assert refused["code"] == "TEST_FAILED"
    assert "reason => econnrefused,type => tcp_connect" in refused["message"]


async def test_console_mode_with_auto_approval(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    async with provider_side(stack, monkeypatch, auto_approve=True) as provider, stack.https(stack.emqx_url) as console:
        created = await console.post(
            "/localcloud/console/privatelinks", json={"deploymentId": DEPLOYMENT, "alias": provider.alias}
        )
        assert created.status_code == 201
        link_id = created.json()["privateLinkID"]

        async def shown() -> dict[str, Any]:
            return dict((await console.get(f"/localcloud/console/privatelinks/{link_id}")).json())

        running = await eventually_async(
            shown,
            "the PrivateLink running",
            WAIT_SECONDS,
            accept=lambda r: r["status"] == "running",
            interval=POLL_SECONDS,
        )
        connections = await provider.connections()
        assert [c.private_link_service_connection_state.status for c in connections] == ["Approved"]
        passed = await probe(stack, running["privateLinkIp"], password=stack.redis.credentials.password)
        assert passed.status_code == 204
        assert (await console.delete(f"/localcloud/console/privatelinks/{link_id}")).status_code == 204
        await connection_gone(provider)
        async with stack.https(stack.arm_url) as arm_control:
            calls = (await arm_control.get("/localcloud/calls")).json()["calls"]
        endpoint_writes = [c for c in calls if c["path"].startswith(PE_PATH) and c["method"] in ("PUT", "DELETE")]
        assert [c["method"] for c in endpoint_writes] == ["PUT", "DELETE"]


async def test_an_alias_no_service_has_fails_the_privatelink(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    alias = "nothing.0d6e2f4c-1a2b-4c3d-8e9f-a0b1c2d3e4f5.eastus.azure.privatelinkservice"
    record = await create_link(stack, alias)
    failed = await eventually_async(
        lambda: link_record(stack, record["privateLinkID"]),
        "the PrivateLink failed",
        WAIT_SECONDS,
        accept=lambda r: r["status"] == "failed",
        interval=POLL_SECONDS,
    )
    assert failed["statusReason"].startswith("the private endpoint could not be created")
    assert failed["privateLinkIp"] is None
