"""Settings: typed, immutable, read from a mapping; errors name the setting; secrets never shown."""

import dataclasses
import json
from pathlib import Path

import pytest

from shared.settings import RegistrationMode, Secret, Settings, SettingsError, UnmatchedConnections

CONNECTION_STRING = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=c2VjcmV0;"
MINIMAL = {"STATE_STORAGE_CONNECTION_STRING": CONNECTION_STRING}


def test_defaults_follow_public_azure() -> None:
    settings = Settings.from_mapping(MINIMAL)
    assert settings.arm_endpoint == "https://management.azure.com"
    assert settings.arm_credential_scope == "https://management.azure.com/.default"
    assert settings.registration_mode is RegistrationMode.CONSOLE
    assert settings.unmatched_connections is UnmatchedConnections.LEAVE
    assert settings.monitor_schedule == "*/30 * * * * *"
    assert settings.redis_test_interval_seconds == 3600
    assert settings.provision_budget_seconds < 230


def test_every_setting_is_cast_once() -> None:
    settings = Settings.from_mapping(
        {
            **MINIMAL,
            "ARM_ENDPOINT": "https://management.chinacloudapi.cn/",
            "EMQX_PLATFORM_API_URL": "https://emqx.example/public_api/v1",
            "EMQX_PLATFORM_API_KEY": "key",
            "EMQX_PLATFORM_API_SECRET": "platform-secret",
            "EMQX_AZURE_SUBSCRIPTION_ID": "AAAAAAAA-0000-0000-0000-000000000001",
            "REGISTRATION_MODE": "API",
            "MONITOR_SCHEDULE": "30 */2 * * * *",
            "MONITOR_CONCURRENCY": "16",
            "REDIS_TEST_INTERVAL": "15m",
            "PROVISION_BUDGET_SECONDS": "60",
            "UNMATCHED_CONNECTIONS": "reject",
        }
    )
    assert settings.arm_endpoint == "https://management.chinacloudapi.cn"
    assert settings.emqx_azure_subscription_id == "aaaaaaaa-0000-0000-0000-000000000001"
    assert settings.registration_mode is RegistrationMode.API
    assert settings.monitor_concurrency == 16
    assert settings.redis_test_interval_seconds == 900
    assert settings.provision_budget_seconds == 60
    assert settings.unmatched_connections is UnmatchedConnections.REJECT
    assert settings.emqx_platform_api_secret == Secret("platform-secret")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ARM_ENDPOINT", "http://management.azure.com"),
        ("EMQX_AZURE_SUBSCRIPTION_ID", "not-a-guid"),
        ("REGISTRATION_MODE", "portal"),
        ("MONITOR_SCHEDULE", "*/5 * * * *"),
        ("MONITOR_CONCURRENCY", "0"),
        ("MONITOR_CONCURRENCY", "many"),
        ("REDIS_TEST_INTERVAL", "soon"),
        ("PROVISION_BUDGET_SECONDS", "300"),
        ("UNMATCHED_CONNECTIONS", "approve"),
        ("TLS_CA_BUNDLE", "no/such/file.pem"),
        ("AZURE_CLIENT_ID", "my-identity"),
        ("STATE_TABLE_PREFIX", "1bad"),
    ],
)
def test_malformed_value_names_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_mapping({**MINIMAL, name: value})
    assert caught.value.name == name
    assert name in str(caught.value)


def test_state_storage_is_required() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_mapping({})
    assert caught.value.name == "STATE_TABLE_SERVICE_URI"


def test_api_mode_needs_the_platform_url() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_mapping({**MINIMAL, "REGISTRATION_MODE": "api"})
    assert caught.value.name == "EMQX_PLATFORM_API_URL"


def test_platform_key_without_secret_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_mapping({**MINIMAL, "EMQX_PLATFORM_API_KEY": "key"})
    assert caught.value.name == "EMQX_PLATFORM_API_SECRET"


def test_secrets_are_masked_in_repr_and_str() -> None:
    settings = Settings.from_mapping(
        {
            **MINIMAL,
            "EMQX_PLATFORM_API_URL": "https://emqx.example/public_api/v1",
            "EMQX_PLATFORM_API_KEY": "key",
            "EMQX_PLATFORM_API_SECRET": "platform-secret-value",
            "REDIS_PASSWORD_DEMO": "redis-secret-value",
        }
    )
    shown = repr(settings) + str(settings) + f"{settings.emqx_platform_api_secret}"
    for secret in ("platform-secret-value", "redis-secret-value", "c2VjcmV0"):
        assert secret not in shown
    assert "emqx_platform_api_url='https://emqx.example/public_api/v1'" in shown


def test_settings_are_immutable() -> None:
    settings = Settings.from_mapping(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.monitor_concurrency = 1  # type: ignore[misc]


def test_named_secret_reads_only_a_listed_setting_a_link_names() -> None:
    settings = Settings.from_mapping(
        {
            **MINIMAL,
            "LINK_SECRET_SETTINGS": "REDIS_PASSWORD_DEMO, REDIS_PASSWORD_OTHER",
            "REDIS_PASSWORD_DEMO": "s3cret",
            "REDIS_PASSWORD_UNLISTED": "other",
        }
    )
    assert settings.named_secret("REDIS_PASSWORD_DEMO").reveal() == "s3cret"
    with pytest.raises(SettingsError) as caught:
        settings.named_secret("REDIS_PASSWORD_OTHER")
    assert caught.value.name == "REDIS_PASSWORD_OTHER"
    with pytest.raises(SettingsError) as caught:
        settings.named_secret("REDIS_PASSWORD_UNLISTED")
    assert caught.value.name == "LINK_SECRET_SETTINGS"
    with pytest.raises(SettingsError) as caught:
        settings.named_secret("STATE_STORAGE_CONNECTION_STRING")
    assert caught.value.name == "LINK_SECRET_SETTINGS"
    with pytest.raises(SettingsError):
        settings.named_secret("not a name")


@pytest.mark.parametrize(
    "reserved",
    [
        "EMQX_PLATFORM_API_SECRET",
        "STATE_STORAGE_CONNECTION_STRING",
        "AzureWebJobsStorage",
        "IDENTITY_HEADER",
        "MSI_SECRET",
        "AZURE_CLIENT_SECRET",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "WEBSITE_AUTH_ENCRYPTION_KEY",
        "FUNCTIONS_WORKER_RUNTIME",
        "LINK_SECRET_SETTINGS",
    ],
)
def test_link_secret_settings_may_not_list_a_setting_the_app_uses(reserved: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_mapping({**MINIMAL, "LINK_SECRET_SETTINGS": f"REDIS_PASSWORD_DEMO,{reserved}"})
    assert caught.value.name == "LINK_SECRET_SETTINGS"
    assert reserved in str(caught.value)


def test_deployment_api_hosts_default_to_emqx_cloud_and_are_checked() -> None:
    assert [str(p) for p in Settings.from_mapping(MINIMAL).emqx_deployment_api_hosts] == [
        "*.emqxsl.com",
        "*.emqxcloud.com",
        "*.emqx.cloud",
    ]
    custom = Settings.from_mapping(
        {**MINIMAL, "EMQX_DEPLOYMENT_API_HOSTS": "*.emqxsl.com, emqx-proxy.corp.example:9443"}
    )
    assert [str(p) for p in custom.emqx_deployment_api_hosts] == ["*.emqxsl.com", "emqx-proxy.corp.example:9443"]
    for bad in ("*.com", "https://x.emqxsl.com", " , "):
        with pytest.raises(SettingsError) as caught:
            Settings.from_mapping({**MINIMAL, "EMQX_DEPLOYMENT_API_HOSTS": bad})
        assert caught.value.name == "EMQX_DEPLOYMENT_API_HOSTS"


def test_loopback_is_refused_unless_the_operator_allows_it() -> None:
    assert Settings.from_mapping(MINIMAL).emqx_allow_loopback is False
    assert Settings.from_mapping({**MINIMAL, "EMQX_ALLOW_LOOPBACK": "true"}).emqx_allow_loopback is True
    with pytest.raises(SettingsError):
        Settings.from_mapping({**MINIMAL, "EMQX_ALLOW_LOOPBACK": "yes"})


def test_the_example_settings_file_is_valid() -> None:
    example = json.loads((Path(__file__).parents[2] / "local.settings.json.example").read_text())
    settings = Settings.from_mapping(example["Values"])
    assert settings.state_storage_connection_string is not None


@pytest.mark.parametrize(
    "schedule",
    [
        "*/30 * * * * *",
        "0 */5 * * * *",
        "0 0 0 1 1 *",
        "* * * * * *",
        "59 59 23 31 12 6",
        "0 0 9-17 * * Mon-Fri",
        "0 30 8 * Jan,JULY,dec sun",
        "0 0 0 1-15/2 * *",
        "0 5/10 * * * *",
        "0 0 12 * * 0,3,6",
        "5-1 * * * * *",
    ],
)
def test_a_schedule_the_functions_host_accepts_is_accepted(schedule: str) -> None:
    assert Settings.from_mapping({**MINIMAL, "MONITOR_SCHEDULE": f" {schedule} "}).monitor_schedule == schedule


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ("99 99 99 * * *", "second"),
        ("60 * * * * *", "second"),
        ("0 60 * * * *", "minute"),
        ("0 0 24 * * *", "hour"),
        ("0 0 0 0 * *", "day"),
        ("0 0 0 32 * *", "day"),
        ("0 0 0 * 0 *", "month"),
        ("0 0 0 * 13 *", "month"),
        ("0 0 0 * Smarch *", "month"),
        ("0 0 0 * * 7", "day of week"),
        ("0 0 0 * * Funday", "day of week"),
        ("0 1,,2 * * * *", "minute"),
        ("0 */0 * * * *", "minute"),
        ("0 -5 * * * *", "minute"),
        ("0 1-2-3 * * * *", "minute"),
        ("0 5- * * * *", "minute"),
        ("/5 * * * * *", "second"),
        ("0 0 1 * * Mon-", "day of week"),
        ("0 0 ٣ * * *", "hour"),
    ],
)
def test_a_schedule_the_functions_host_refuses_is_refused_naming_the_field(schedule: str, field: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_mapping({**MINIMAL, "MONITOR_SCHEDULE": schedule})
    assert caught.value.name == "MONITOR_SCHEDULE"
    assert f"{field} field" in str(caught.value)


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 */5 * * * * *", "00:05:00", "@hourly"])
def test_a_schedule_not_of_six_ncrontab_fields_is_refused(schedule: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_mapping({**MINIMAL, "MONITOR_SCHEDULE": schedule})
    assert "six-field NCRONTAB" in str(caught.value)


@pytest.mark.parametrize(("schedule", "status"), [("99 99 99 * * *", 503), ("0 */5 * * * *", 200)])
def test_health_is_not_ok_while_the_schedule_is_one_the_host_would_refuse(
    monkeypatch: pytest.MonkeyPatch, schedule: str, status: int
) -> None:
    import azure.functions as func

    from functions.health import health

    for name, value in {**MINIMAL, "MONITOR_SCHEDULE": schedule}.items():
        monkeypatch.setenv(name, value)
    response = health(func.HttpRequest(method="GET", url="/api/health", headers={}, params={}, body=b""))
    assert response.status_code == status
    body = json.loads(response.get_body())
    if status == 503:
        assert body["status"] == "misconfigured"
        assert body["error"]["target"] == "MONITOR_SCHEDULE"
    else:
        assert body["status"] == "ok"
