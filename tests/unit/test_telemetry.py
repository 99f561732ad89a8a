"""Telemetry: secret values never reach a log handler; Azure Monitor is configured only when asked, lazily."""

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ManagedIdentityCredential

from shared import telemetry
from shared.settings import SETTING_NAMES, Secret, Settings
from shared.telemetry import MASK, SECRET_SETTINGS, SecretRedactionFilter, configure_telemetry, remember_secret

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-redis-password"
CLIENT_ID = "00000000-0000-0000-0000-00000000000a"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, SecretRedactionFilter]]:
    """A logger of its own whose one handler formats records, with a redaction filter on the handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s link=%(link)s step=%(step)s"))
    redaction = SecretRedactionFilter([SECRET])
    handler.addFilter(redaction)
    logger = logging.getLogger(f"test-telemetry-{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, stream, redaction
    logger.removeHandler(handler)
    handler.close()


@pytest.fixture
def installed() -> Iterator[None]:
    """Takes the process-wide filter off the root logger's handlers again after a test installs it."""
    yield
    for logger in (logging.getLogger(), logging.getLogger(telemetry.APP_LOGGER)):
        for handler in logger.handlers:
            handler.removeFilter(telemetry._filter)


def test_a_secret_in_the_arguments_is_masked(captured: Any) -> None:
    logger, stream, _ = captured
    logger.warning("Redis refused password %s on %s", SECRET, "10.0.0.4", extra={"link": "orders", "step": "test"})
    assert stream.getvalue() == f"WARNING Redis refused password {MASK} on 10.0.0.4 link=orders step=test\n"


def test_a_secret_in_an_extra_field_is_masked_and_other_fields_keep_their_type(captured: Any) -> None:
    logger, stream, redaction = captured
    records: list[logging.LogRecord] = []
    logger.addFilter(lambda record: records.append(record) or True)
    logger.info("probe", extra={"link": "orders", "step": f"auth {SECRET}", "duration_ms": 12.5})
    assert stream.getvalue() == f"INFO probe link=orders step=auth {MASK}\n"
    assert records[0].duration_ms == 12.5  # type: ignore[attr-defined]
    assert redaction.redact(f"x{SECRET}y") == f"x{MASK}y"


def test_a_secret_in_an_exception_is_masked_and_the_traceback_kept(captured: Any) -> None:
    logger, stream, _ = captured
    try:
        raise ValueError(f"AUTH failed with {SECRET}")
    except ValueError:
        logger.exception("probe failed", extra={"link": "orders", "step": "test"})
    output = stream.getvalue()
    assert SECRET not in output
    assert f"ValueError: AUTH failed with {MASK}" in output
    assert "Traceback (most recent call last)" in output


def test_a_record_without_a_secret_is_left_as_it_is(captured: Any) -> None:
    logger, _, redaction = captured
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "run %s", ("monitor",), None)
    try:
        raise KeyError("nothing secret")
    except KeyError:
        record.exc_info = sys.exc_info()
    assert redaction.filter(record)
    assert (record.msg, record.args) == ("run %s", ("monitor",))
    assert record.exc_info is not None


def test_a_secret_holding_another_is_masked_whole_and_short_values_are_not_masked() -> None:
    redaction = SecretRedactionFilter(["abcd", "abcdefgh", "xyz"])
    assert redaction.redact("abcdefgh abcd xyz") == f"{MASK} {MASK} xyz"


def test_arguments_that_do_not_fit_the_format_pass_for_the_handler_to_report() -> None:
    redaction = SecretRedactionFilter([SECRET])
    record = logging.makeLogRecord({"msg": "%d items", "args": ("many",)})
    assert redaction.filter(record)
    assert record.args == ("many",)


def test_the_secret_settings_are_those_settings_holds_as_secrets(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    values = {
        "ARM_ENDPOINT": "https://management.azure.com",
        "ARM_CREDENTIAL_SCOPE": "https://management.azure.com/.default",
        "AZURE_CLIENT_ID": CLIENT_ID,
        "TLS_CA_BUNDLE": str(bundle),
        "STATE_TABLE_SERVICE_URI": "https://st.table.core.windows.net",
        "STATE_STORAGE_CONNECTION_STRING": "AccountName=dev;AccountKey=a2V5",
        "STATE_TABLE_PREFIX": "emqxpl",
        "EMQX_PLATFORM_API_URL": "https://emqx.example/public_api/v1",
        "EMQX_PLATFORM_API_KEY": "platform-key",
        "EMQX_PLATFORM_API_SECRET": "platform-secret",
        "EMQX_AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-00000000000b",
        "REGISTRATION_MODE": "api",
        "MONITOR_SCHEDULE": "0 */5 * * * *",
        "MONITOR_CONCURRENCY": "8",
        "REDIS_TEST_INTERVAL": "1h",
        "PROVISION_BUDGET_SECONDS": "120",
        "UNMATCHED_CONNECTIONS": "leave",
        "AUDIT_RETENTION_DAYS": "90",
        "LEASE_MARGIN_SECONDS": "60",
        "ARM_READ_FLOOR_PERCENT": "50",
        "EVENTGRID_TOPIC_ENDPOINT": "https://evgt-emqx-privatelink.eastus-1.eventgrid.azure.net/api/events",
        "LINK_SECRET_SETTINGS": "REDIS_PASSWORD_ORDERS",
        "EMQX_DEPLOYMENT_API_HOSTS": "*.emqxsl.com",
        "EMQX_ALLOW_LOOPBACK": "false",
    }
    assert set(values) == set(SETTING_NAMES), "give every setting a value"
    settings = Settings.from_mapping(values)
    held_as_secrets = {
        value.reveal() for name in settings.__dataclass_fields__ if isinstance(value := getattr(settings, name), Secret)
    }
    assert held_as_secrets == {values[name] for name in SECRET_SETTINGS}


@pytest.mark.usefixtures("installed")
def test_configure_masks_the_secret_settings_on_the_root_handlers_without_azure_monitor(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[dict[str, Any]] = []
    redaction = configure_telemetry(
        {"EMQX_PLATFORM_API_SECRET": "platform-secret-42", "STATE_TABLE_PREFIX": "emqxpl"},
        configure_azure_monitor=lambda **kwargs: calls.append(kwargs),
    )
    assert calls == []
    assert redaction in caplog.handler.filters
    with caplog.at_level(logging.INFO, logger=telemetry.APP_LOGGER):
        logging.getLogger(telemetry.APP_LOGGER).info("calling with %s as %s", "platform-secret-42", "emqxpl")
    assert caplog.messages == [f"calling with {MASK} as emqxpl"]


@pytest.mark.usefixtures("installed")
def test_remember_secret_masks_a_secret_read_later(caplog: pytest.LogCaptureFixture) -> None:
    configure_telemetry({}, configure_azure_monitor=lambda **kwargs: None)
    remember_secret("link-named-redis-password")
    with caplog.at_level(logging.INFO, logger=telemetry.APP_LOGGER):
        logging.getLogger(telemetry.APP_LOGGER).info("password link-named-redis-password")
    assert caplog.messages == [f"password {MASK}"]


@pytest.mark.usefixtures("installed")
def test_configure_exports_to_application_insights_when_its_connection_string_is_set() -> None:
    calls: list[dict[str, Any]] = []
    configure_telemetry(
        {"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=k;IngestionEndpoint=https://in.example/"},
        configure_azure_monitor=lambda **kwargs: calls.append(kwargs),
    )
    assert calls == [
        {
            "connection_string": "InstrumentationKey=k;IngestionEndpoint=https://in.example/",
            "credential": None,
            "logger_name": telemetry.APP_LOGGER,
        }
    ]


@pytest.mark.usefixtures("installed")
def test_configure_sends_as_the_managed_identity_when_application_insights_requires_entra_id() -> None:
    calls: list[dict[str, Any]] = []
    configure_telemetry(
        {
            "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=k",
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": f"ClientId={CLIENT_ID};Authorization=AAD",
        },
        configure_azure_monitor=lambda **kwargs: calls.append(kwargs),
    )
    credential = calls[0]["credential"]
    assert isinstance(credential, ManagedIdentityCredential)
    credential.close()


def test_azure_monitor_is_imported_only_when_exporting() -> None:
    script = (
        "import sys\n"
        "from shared.telemetry import configure_telemetry\n"
        "configure_telemetry({'EMQX_PLATFORM_API_SECRET': 'platform-secret'})\n"
        "print(any(name.startswith(('azure.monitor', 'opentelemetry')) for name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
