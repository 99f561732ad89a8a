"""The trust model: a link may only choose among what the operator configured, when it is PUT and when used."""

import asyncio
from ipaddress import IPv4Address
from typing import Any

import pytest

from shared.emqx import Emqx
from shared.errors import DestinationRefusedError
from shared.link_trust import deployment_api, link_trust_problems, redis_server
from shared.model import parse_link_spec
from shared.settings import Secret, Settings, SettingsError
from tests.bodies import guide_body

OPERATOR = {
    "STATE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=a2V5;",
    "LINK_SECRET_SETTINGS": "EMQX_DEPLOYMENT_API_KEY,EMQX_DEPLOYMENT_API_SECRET,DEMO_REDIS_PASSWORD,UNSET_PASSWORD",
    "EMQX_DEPLOYMENT_API_KEY": "app-key",
    "EMQX_DEPLOYMENT_API_SECRET": "app-secret",
    "DEMO_REDIS_PASSWORD": "redis-password",
    "EMQX_PLATFORM_API_SECRET": "platform-secret",
    "EMQX_PLATFORM_API_KEY": "platform-key",
}


def settings(**extra: str) -> Settings:
    return Settings.from_mapping({**OPERATOR, **extra})


def problems(emqx: dict[str, Any], **extra: str) -> dict[str, str]:
    body = guide_body()
    body["emqx"].update(emqx)
    return dict(link_trust_problems(parse_link_spec("demo", body), settings(**extra)))


def test_the_guide_link_is_trusted() -> None:
    assert problems({}) == {}


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("deploymentApiUrl", "https://attacker.example:8443/api/v5", "not a deployment API host"),
        ("deploymentApiUrl", "https://127.0.0.1:8443/api/v5", "names an IP address"),
        ("deploymentApiUrl", "https://w41b11c0.eu-central-1.emqx.cloud:8443/api/v4", "must end in /api/v5"),
        ("apiKeySetting", "EMQX_PLATFORM_API_SECRET", "uses itself"),
        ("apiSecretSetting", "STATE_STORAGE_CONNECTION_STRING", "uses itself"),
        ("redisPasswordSetting", "IDENTITY_HEADER", "uses itself"),
        ("redisPasswordSetting", "AzureWebJobsStorage", "uses itself"),
        ("redisPasswordSetting", "SOME_OTHER_SECRET", "LINK_SECRET_SETTINGS"),
        ("redisPasswordSetting", "UNSET_PASSWORD", "not set"),
    ],
)
def test_each_field_reaching_past_the_operator_is_refused_by_name(field: str, value: str, says: str) -> None:
    found = problems({field: value})
    assert list(found) == [f"emqx.{field}"]
    assert says in found[f"emqx.{field}"]


def test_a_private_link_ip_comes_from_emqx_in_api_mode() -> None:
    found = problems({"privateLinkIp": "10.200.0.4"}, REGISTRATION_MODE="api", EMQX_PLATFORM_API_URL="https://p.x/v1")
    assert "api mode" in found["emqx.privateLinkIp"]


@pytest.mark.parametrize("ip", ["10.200.0.4", "172.16.9.1", "192.168.1.20", "100.64.0.7"])
def test_a_console_private_link_ip_may_be_any_private_address(ip: str) -> None:
    assert problems({"privateLinkIp": ip}) == {}


@pytest.mark.parametrize("ip", ["8.8.8.8", "127.0.0.1", "169.254.169.254", "172.32.0.1", "0.0.0.0"])
def test_a_console_private_link_ip_must_be_private(ip: str) -> None:
    assert "not a private address" in problems({"privateLinkIp": ip})["emqx.privateLinkIp"]


def test_a_stored_link_is_checked_again_when_used() -> None:
    body = guide_body()
    body["emqx"]["privateLinkIp"] = "10.200.0.4"
    spec = parse_link_spec("demo", body).emqx
    assert deployment_api(spec, settings()).key == Secret("app-key")
    narrowed = settings(EMQX_DEPLOYMENT_API_HOSTS="*.emqxsl.com")
    with pytest.raises(SettingsError) as caught:
        deployment_api(spec, narrowed)
    assert caught.value.name == "EMQX_DEPLOYMENT_API_HOSTS"
    with pytest.raises(SettingsError) as caught:
        deployment_api(spec, settings(LINK_SECRET_SETTINGS="DEMO_REDIS_PASSWORD"))
    assert caught.value.name == "LINK_SECRET_SETTINGS"
    assert redis_server(None, spec, settings()) == IPv4Address("10.200.0.4")
    api_mode = settings(REGISTRATION_MODE="api", EMQX_PLATFORM_API_URL="https://p.x/v1")
    assert redis_server(IPv4Address("10.9.0.1"), spec, api_mode) == IPv4Address("10.9.0.1")


async def _spend(_key: str) -> bool:
    return True


async def _hold(_key: str, _seconds: int) -> None:
    return None


def probe(url: str, operator: Settings) -> None:
    api = deployment_api(
        parse_link_spec("demo", guide_body() | {"emqx": guide_body()["emqx"] | {"deploymentApiUrl": url}}).emqx,
        operator,
    )

    async def run() -> None:
        emqx = Emqx(operator, _spend, _hold)
        try:
            await emqx.probe_redis(
                api, name="t", server="10.0.0.4:6379", password=Secret("p"), username=None, database=0
            )
        finally:
            await emqx.close()

    asyncio.run(run())


def test_a_name_resolving_to_loopback_is_refused_at_connect_time() -> None:
    operator = settings(EMQX_DEPLOYMENT_API_HOSTS="*.deployments.localhost:8443")
    with pytest.raises(DestinationRefusedError, match="loopback"):
        probe("https://a5e7c1d0.deployments.localhost:8443/api/v5", operator)


def test_the_identity_endpoint_is_refused_even_where_loopback_is_allowed() -> None:
    operator = settings(
        EMQX_DEPLOYMENT_API_HOSTS="*.deployments.localhost:41234",
        EMQX_ALLOW_LOOPBACK="true",
        IDENTITY_ENDPOINT="http://127.0.0.1:41234/msi/token",
    )
    with pytest.raises(DestinationRefusedError, match="own endpoints"):
        probe("https://a5e7c1d0.deployments.localhost:41234/api/v5", operator)


def test_the_metadata_address_is_refused_even_when_listed() -> None:
    operator = settings(EMQX_DEPLOYMENT_API_HOSTS="169.254.169.254:443", EMQX_ALLOW_LOOPBACK="true")
    with pytest.raises(DestinationRefusedError, match="link-local"):
        probe("https://169.254.169.254/api/v5", operator)
