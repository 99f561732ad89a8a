"""App settings, read once into one typed, immutable `Settings`.

The same names appear in `local.settings.json.example`, the Bicep app settings and the README's table.
Values are cast once here; a missing or malformed value raises `SettingsError` naming the setting.
Secrets are held as `Secret`, whose repr is masked so a logged `Settings` shows no secret.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar
from urllib.parse import urlsplit

from shared.hosts import DEFAULT_DEPLOYMENT_API_HOSTS, HostPattern
from shared.telemetry import remember_secret


class SettingsError(ValueError):
    """A setting is missing or malformed; `name` is the app setting at fault."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"app setting {name}: {problem}")
        self.name = name


class Secret:
    """A secret string: `str()` is the value, `repr()` and formatting in logs are masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class RegistrationMode(StrEnum):
    """How EMQX learns the alias: the operator pastes it into EMQX's console, or the app calls EMQX's API."""

    CONSOLE = "console"
    API = "api"


class UnmatchedConnections(StrEnum):
    """What becomes of a connection from outside EMQX's subscription: left Pending, or rejected."""

    LEAVE = "leave"
    REJECT = "reject"


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_duration(name: str, raw: str) -> int:
    match = _DURATION.match(raw)
    if not match or int(match.group(1)) <= 0:
        raise SettingsError(name, f"expected a positive duration such as 30s, 15m or 1h, got {raw!r}")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _parse_positive_int(name: str, raw: str, maximum: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"expected a whole number, got {raw!r}") from None
    if value <= 0 or (maximum is not None and value > maximum):
        bound = f"1..{maximum}" if maximum is not None else "a positive number"
        raise SettingsError(name, f"expected {bound}, got {value}")
    return value


def _parse_https_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme != "https" or not parts.hostname:
        raise SettingsError(name, "expected an https:// URL")
    return raw.rstrip("/")


def _parse_guid(name: str, raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise SettingsError(name, "expected a subscription ID (a GUID)") from None


E = TypeVar("E", bound=StrEnum)


def _parse_enum(name: str, raw: str, enum: type[E]) -> E:
    try:
        return enum(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise SettingsError(name, f"expected one of {allowed}, got {raw!r}") from None


_NCRONTAB_FIELD = re.compile(r"^[\d*/,\-A-Za-z]+$")


def _parse_schedule(name: str, raw: str) -> str:
    """Six NCRONTAB fields as the Functions host reads them (atifaziz/NCrontab, CrontabFieldImpl.InternalParse):
    second 0-59, minute 0-59, hour 0-23, day 1-31, month 1-12, day of week 0-6 (0 is Sunday). Each is a list of `*`,
    `a` or `a-b`, each with an optional `/step`; months and days of the week may be named by a prefix of the English
    name (`Jan`, `January`). What the host would refuse when it loads the timer is refused here; so is a step of 0."""
    fields = raw.split()
    if len(fields) != 6 or not all(_NCRONTAB_FIELD.match(f) for f in fields):
        raise SettingsError(name, "expected a six-field NCRONTAB expression such as '0 */5 * * * *'")
    months = "January February March April May June July August September October November December".split()  # noqa: SIM905
    weekdays = "Sunday Monday Tuesday Wednesday Thursday Friday Saturday".split()  # noqa: SIM905
    kinds: tuple[tuple[str, int, int, list[str]], ...] = (
        ("second", 0, 59, []),
        ("minute", 0, 59, []),
        ("hour", 0, 23, []),
        ("day", 1, 31, []),
        ("month", 1, 12, months),
        ("day of week", 0, 6, weekdays),
    )
    for text, (kind, low, high, names) in zip(fields, kinds, strict=True):

        def valid(value: str, low: int = low, high: int = high, names: list[str] = names) -> bool:
            if value.isascii() and value.isdigit():
                return low <= int(value) <= high
            return value.isalpha() and any(known.lower().startswith(value.lower()) for known in names)

        for item in text.split(","):
            base, slash, step = item.partition("/")
            good_step = not slash or (step.isascii() and step.isdigit() and int(step) >= 1)
            if not good_step or not (base == "*" or all(valid(part) for part in base.split("-", 1))):
                allowed = f"{low}-{high}" + (f" or a name ({', '.join(names)})" if names else "")
                raise SettingsError(name, f"{kind} field {text!r}: expected *, values or ranges of {allowed}, /step")
    return " ".join(fields)


def _parse_text(_name: str, raw: str) -> str:
    return raw


def _parse_secret(_name: str, raw: str) -> Secret:
    return Secret(raw)


def _parse_ca_bundle(name: str, raw: str) -> Path:
    path = Path(raw)
    if not path.is_file():
        raise SettingsError(name, "no such file")
    return path


def _parse_connection_string(name: str, raw: str) -> Secret:
    if "=" not in raw:
        raise SettingsError(name, "expected a storage connection string")
    return Secret(raw)


def _parse_table_prefix(name: str, raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,39}", raw):
        raise SettingsError(name, "expected 1-40 letters and digits, starting with a letter")
    return raw


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered not in ("true", "false"):
        raise SettingsError(name, f"expected true or false, got {raw!r}")
    return lowered == "true"


def _split_list(raw: str) -> list[str]:
    return [item for item in re.split(r"[,\s]+", raw) if item]


# The app's own settings and the platform's: a link may never name one of them for its secrets, so a
# caller cannot make the app send its storage key, identity header or Platform API secret anywhere.
_RESERVED_PREFIXES = (
    "AZUREWEBJOBS",
    "FUNCTIONS_",
    "WEBSITE",
    "APPSETTING_",
    "APPLICATIONINSIGHTS_",
    "IDENTITY_",
    "MSI_",
    "AZURE_",
    "CONTAINER_",
    "SCM_",
    "EMQX_PLATFORM_",
)


def is_reserved_setting(name: str) -> bool:
    """A setting the app or the Functions platform uses itself, which no link may name."""
    upper = name.upper()
    return upper in {known.upper() for known in _PARSERS} or upper.startswith(_RESERVED_PREFIXES)


def _parse_link_secret_settings(name: str, raw: str) -> tuple[str, ...]:
    names = _split_list(raw)
    for item in names:
        if not _SETTING_NAME.match(item):
            raise SettingsError(name, f"{item!r} is not a valid app setting name")
        if is_reserved_setting(item):
            raise SettingsError(name, f"{item} is a setting the app or the Functions platform uses itself")
    return tuple(dict.fromkeys(names))


def _parse_host_patterns(name: str, raw: str) -> tuple[HostPattern, ...]:
    patterns = []
    for item in _split_list(raw):
        try:
            patterns.append(HostPattern.parse(item))
        except ValueError as problem:
            raise SettingsError(name, f"{item!r}: {problem}") from None
    if not patterns:
        raise SettingsError(name, "expected at least one host pattern such as *.emqxsl.com")
    return tuple(patterns)


def _parse_client_id(name: str, raw: str) -> str:
    # A user-assigned identity is named by its client ID (a GUID).
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise SettingsError(name, "expected the managed identity's client ID (a GUID)") from None


Parser = Callable[[str, str], object]

# App setting name -> (Settings field, parser). The names are the contract with Bicep and the README.
_PARSERS: dict[str, tuple[str, Parser]] = {
    "ARM_ENDPOINT": ("arm_endpoint", _parse_https_url),
    "ARM_CREDENTIAL_SCOPE": ("arm_credential_scope", _parse_text),
    "AZURE_CLIENT_ID": ("managed_identity_client_id", _parse_client_id),
    "TLS_CA_BUNDLE": ("tls_ca_bundle", _parse_ca_bundle),
    "STATE_TABLE_SERVICE_URI": ("state_table_service_uri", _parse_https_url),
    "STATE_STORAGE_CONNECTION_STRING": ("state_storage_connection_string", _parse_connection_string),
    "STATE_TABLE_PREFIX": ("state_table_prefix", _parse_table_prefix),
    "EMQX_PLATFORM_API_URL": ("emqx_platform_api_url", _parse_https_url),
    "EMQX_PLATFORM_API_KEY": ("emqx_platform_api_key", _parse_text),
    "EMQX_PLATFORM_API_SECRET": ("emqx_platform_api_secret", _parse_secret),
    "EMQX_AZURE_SUBSCRIPTION_ID": ("emqx_azure_subscription_id", _parse_guid),
    "REGISTRATION_MODE": ("registration_mode", lambda n, r: _parse_enum(n, r, RegistrationMode)),
    "MONITOR_SCHEDULE": ("monitor_schedule", _parse_schedule),
    "MONITOR_CONCURRENCY": ("monitor_concurrency", lambda n, r: _parse_positive_int(n, r, maximum=256)),
    "REDIS_TEST_INTERVAL": ("redis_test_interval_seconds", _parse_duration),
    # Azure answers an HTTP-triggered function with 502 after 230 s: stay well below.
    "PROVISION_BUDGET_SECONDS": ("provision_budget_seconds", lambda n, r: _parse_positive_int(n, r, maximum=200)),
    "UNMATCHED_CONNECTIONS": ("unmatched_connections", lambda n, r: _parse_enum(n, r, UnmatchedConnections)),
    # How long a run's lease outlives its budget: a crashed holder's link is taken over after budget + margin.
    "LEASE_MARGIN_SECONDS": ("lease_margin_seconds", lambda n, r: _parse_positive_int(n, r, maximum=600)),
    # The share of ARM's read bucket (250) the monitor leaves to other tools of the subscription (shared.arm_budget).
    "ARM_READ_FLOOR_PERCENT": ("arm_read_floor_percent", lambda n, r: _parse_positive_int(n, r, maximum=90)),
    # Where life-cycle events go (an Event Grid custom topic's endpoint); unset: none are recorded or published.
    "EVENTGRID_TOPIC_ENDPOINT": ("eventgrid_topic_endpoint", _parse_https_url),
    "AUDIT_RETENTION_DAYS": ("audit_retention_days", lambda n, r: _parse_positive_int(n, r, maximum=3650)),
    "LINK_SECRET_SETTINGS": ("link_secret_settings", _parse_link_secret_settings),
    "EMQX_DEPLOYMENT_API_HOSTS": ("emqx_deployment_api_hosts", _parse_host_patterns),
    "EMQX_ALLOW_LOOPBACK": ("emqx_allow_loopback", _parse_bool),
}
SETTING_NAMES = tuple(_PARSERS)

_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, repr=False)
class Settings:
    """Every app setting the product reads (DESIGN §5)."""

    arm_endpoint: str = "https://management.azure.com"
    arm_credential_scope: str = "https://management.azure.com/.default"
    managed_identity_client_id: str | None = None
    tls_ca_bundle: Path | None = None
    state_table_service_uri: str | None = None
    state_storage_connection_string: Secret | None = None
    state_table_prefix: str = "emqxpl"
    emqx_platform_api_url: str | None = None
    emqx_platform_api_key: str | None = None
    emqx_platform_api_secret: Secret | None = None
    emqx_azure_subscription_id: str | None = None
    registration_mode: RegistrationMode = RegistrationMode.CONSOLE
    # Every 30 s: with no Event Grid event for a new Pending connection, the monitor's period is the approval
    # latency, and a steady pass costs one ARM read per resource group.
    monitor_schedule: str = "*/30 * * * * *"
    monitor_concurrency: int = 8
    redis_test_interval_seconds: int = 3600
    provision_budget_seconds: int = 120
    unmatched_connections: UnmatchedConnections = UnmatchedConnections.LEAVE
    audit_retention_days: int = 90
    lease_margin_seconds: int = 60
    arm_read_floor_percent: int = 50
    eventgrid_topic_endpoint: str | None = None
    # The only settings a link may name for its secrets (deployment API key and secret, Redis password).
    link_secret_settings: tuple[str, ...] = ()
    # Where a link's deployment API may be: EMQX Cloud's deployment domains (reference: emqx-api.md §5).
    emqx_deployment_api_hosts: tuple[HostPattern, ...] = DEFAULT_DEPLOYMENT_API_HOSTS
    # localcloud only: EMQX on loopback. In Azure an EMQX host resolving to loopback is refused.
    emqx_allow_loopback: bool = False
    # The whole app-settings mapping, kept so a link can name the setting that holds its own
    # secrets (deployment API key, Redis password) without those values ever being stored.
    _source: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_mapping(cls, source: Mapping[str, str] | None = None) -> Settings:
        env: Mapping[str, str] = os.environ if source is None else source

        kwargs: dict[str, object] = {}
        for name, (field_name, parse) in _PARSERS.items():
            value = env.get(name)
            if value is not None and value.strip():
                kwargs[field_name] = parse(name, value.strip())

        settings = cls(**kwargs, _source=MappingProxyType(dict(env)))  # type: ignore[arg-type]
        settings._check_consistency()
        return settings

    def _check_consistency(self) -> None:
        if self.state_table_service_uri is None and self.state_storage_connection_string is None:
            raise SettingsError(
                "STATE_TABLE_SERVICE_URI",
                "set it (identity-based, in Azure) or STATE_STORAGE_CONNECTION_STRING (local)",
            )
        if self.registration_mode is RegistrationMode.API and self.emqx_platform_api_url is None:
            raise SettingsError("EMQX_PLATFORM_API_URL", "required when REGISTRATION_MODE is api")
        if (self.emqx_platform_api_key is None) != (self.emqx_platform_api_secret is None):
            missing = "EMQX_PLATFORM_API_SECRET" if self.emqx_platform_api_secret is None else "EMQX_PLATFORM_API_KEY"
            raise SettingsError(missing, "the Platform API key and secret are set together")

    def named_secret(self, name: str) -> Secret:
        """The value of the app setting a link names (e.g. its Redis password), as a `Secret`.

        Only a setting listed in LINK_SECRET_SETTINGS: checked again here, at the moment of use, so a link
        stored before the operator narrowed the list cannot reach any other setting.
        """
        if not _SETTING_NAME.match(name):
            raise SettingsError(name, "not a valid app setting name")
        if name not in self.link_secret_settings:
            raise SettingsError("LINK_SECRET_SETTINGS", f"does not list {name}, which a link names")
        value = self._source.get(name)
        if value is None or value == "":
            raise SettingsError(name, "named by a link but not set")
        # Known only once a link names it: from now on no log record may show it.
        remember_secret(value)
        return Secret(value)

    def has_setting(self, name: str) -> bool:
        return bool(self._source.get(name))

    @property
    def own_endpoints(self) -> tuple[str, ...]:
        """The URLs of the app's own services (ARM, the managed identity endpoint), which EMQX traffic must
        never reach, whatever a name resolves to."""
        identity = (self._source.get(name, "") for name in ("IDENTITY_ENDPOINT", "MSI_ENDPOINT"))
        return tuple(url for url in (self.arm_endpoint, *identity) if url)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self.__dataclass_fields__ if not name.startswith("_")
        )
        return f"Settings({shown})"


__all__ = [
    "SETTING_NAMES",
    "RegistrationMode",
    "Secret",
    "Settings",
    "SettingsError",
    "UnmatchedConnections",
    "is_reserved_setting",
]
