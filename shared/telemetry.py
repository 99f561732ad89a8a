"""Telemetry: Azure Monitor through OpenTelemetry when Application Insights is configured, and a logging filter
that keeps secret values out of every log record.

    configure_telemetry(settings_mapping)   once, at start-up, with the app settings (os.environ in Azure)
    remember_secret(value)                  a secret read later (a setting a link names) is redacted from then on

`configure_telemetry` masks the values of the settings `Settings` holds as `Secret` (`SECRET_SETTINGS`) and
installs the `SecretRedactionFilter` on the handlers of the root logger and of the app's logger, where the
Functions worker and Azure Monitor ship records from. When `APPLICATIONINSIGHTS_CONNECTION_STRING` is set it
configures `azure-monitor-opentelemetry`, imported only then, for the app's logger: its records keep their
`extra` fields (link, step, outcome, duration_ms) as custom dimensions. When
`APPLICATIONINSIGHTS_AUTHENTICATION_STRING` says `Authorization=AAD` (Application Insights with local
authentication off), telemetry is sent as the managed identity it names, as the Functions host does.

The filter rewrites a record only when it holds a secret: the message (formatted with its arguments), string
`extra` fields and the exception text become `***` where a secret was; a record whose exception text held a
secret carries the redacted traceback in its message instead of the exception, which no handler can re-format.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.identity import ManagedIdentityCredential

APP_LOGGER = "emqx_privatelink"
CONNECTION_STRING_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
AUTHENTICATION_STRING_SETTING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
# The settings `shared.settings.Settings` holds as `Secret` (tests/unit/test_telemetry.py keeps them in step).
SECRET_SETTINGS = ("STATE_STORAGE_CONNECTION_STRING", "EMQX_PLATFORM_API_SECRET")
MASK = "***"
# Shorter values cannot be told from ordinary text (masking every "abc" would garble the logs).
MIN_SECRET_LENGTH = 4

# Attributes every LogRecord has; any other attribute came from `extra`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

ConfigureAzureMonitor = Callable[..., None]


class SecretRedactionFilter(logging.Filter):
    """Masks the registered secret values in every record that passes; never drops a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH or secret in self._secrets:
            return
        with self._lock:
            secrets = self._secrets | {secret}
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(value) for value in ordered))
            self._secrets = secrets

    def redact(self, text: str) -> str:
        pattern = self._pattern
        return text if pattern is None else pattern.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # Arguments that do not fit the format: the handler reports it; there is no message to redact.
            return True
        redacted = self.redact(message)
        exception = self._exception_text(record)
        if exception is not None and (hidden := self.redact(exception)) != exception:
            redacted = f"{redacted}\n{hidden}"
            record.exc_info, record.exc_text = None, None
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, self.redact(value))
        return True

    @staticmethod
    def _exception_text(record: logging.LogRecord) -> str | None:
        if record.exc_text:
            return record.exc_text
        if record.exc_info and record.exc_info[0] is not None:
            return "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        return None


_filter = SecretRedactionFilter()


def remember_secret(value: str) -> None:
    """Mask `value` in every log record from now on (for secrets read after start-up)."""
    _filter.add(value)


def _install(redaction: SecretRedactionFilter) -> None:
    for logger in (logging.getLogger(), logging.getLogger(APP_LOGGER)):
        for handler in logger.handlers:
            if redaction not in handler.filters:
                handler.addFilter(redaction)


def _monitor_credential(settings_mapping: Mapping[str, str]) -> ManagedIdentityCredential | None:
    """The managed identity to send telemetry as, when Application Insights requires Entra ID; else None."""
    raw = settings_mapping.get(AUTHENTICATION_STRING_SETTING, "")
    parts = dict(part.split("=", 1) for part in raw.split(";") if "=" in part)
    if parts.get("Authorization", "").upper() != "AAD":
        return None
    from azure.identity import ManagedIdentityCredential  # noqa: PLC0415 - only when telemetry is exported

    return ManagedIdentityCredential(client_id=parts.get("ClientId") or None)


def _azure_monitor() -> ConfigureAzureMonitor:
    # Imported only when telemetry is exported: OpenTelemetry's import costs a cold start otherwise.
    from azure.monitor.opentelemetry import configure_azure_monitor  # noqa: PLC0415

    return configure_azure_monitor


def configure_telemetry(
    settings_mapping: Mapping[str, str], *, configure_azure_monitor: ConfigureAzureMonitor | None = None
) -> SecretRedactionFilter:
    """Set up redaction and, when Application Insights is configured, OpenTelemetry export; returns the filter.

    `configure_azure_monitor` defaults to `azure.monitor.opentelemetry.configure_azure_monitor`.
    """
    for name in SECRET_SETTINGS:
        value = settings_mapping.get(name, "").strip()
        if value:
            _filter.add(value)
    connection_string = settings_mapping.get(CONNECTION_STRING_SETTING, "").strip()
    if connection_string:
        configure = configure_azure_monitor or _azure_monitor()
        configure(
            connection_string=connection_string,
            credential=_monitor_credential(settings_mapping),
            logger_name=APP_LOGGER,
        )
    # azure-core's HTTP logging policy logs every request at INFO: noise, and headers that need not be shipped.
    logging.getLogger("azure").setLevel(logging.WARNING)
    _install(_filter)
    return _filter


__all__ = [
    "SECRET_SETTINGS",
    "SecretRedactionFilter",
    "configure_telemetry",
    "remember_secret",
]
