"""The link: its desired state (`LinkSpec`, what the caller asked for) and its observed status (`LinkStatus`, what
the app recorded), held together with the storage ETag as a `Link`.

Wire format: camelCase JSON (`azure.backendNicIds`); Python field names are accepted too. The desired state is
validated strictly: unknown properties are refused, numbers and booleans are never coerced from strings, and a
secret never appears in it (the link names the app settings that hold its secrets). `parse_link_spec` turns a PUT
body into a `LinkSpec` or an `InvalidRequestError` with one detail per bad field.

Values that default from other fields are derived, not stored, so a later PUT re-derives them:
`LinkSpec.resource_names` (`lb-<name>`, `fe-<name>`, `pool-<name>`, `nat-<name>-<port>` or `rule-<name>-<port>`,
`probe-<name>`, `pls-<name>`, `natip-<name>`), `AzureSpec.nat_subnet` (the frontend subnet) and
`AzureSpec.health_probe_port` (the backend port, load-balancing rule only).

`compare_specs` tells what a new desired state changes and whether that forces a new Private Link Service.
The observed status is bounded so one link always fits a Table Storage entity: the last `MAX_HISTORY` steps,
texts cut to `MAX_TEXT` characters.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

from shared.errors import InvalidRequestError, cut
from shared.names import (
    ResourceId,
    check_deployment_id,
    check_guid,
    check_link_name,
    check_network_name,
    check_region,
    check_resource_group,
    check_setting_name,
)

MAX_HISTORY = 50
LOAD_BALANCER_SCHEMA = 2
MAX_DRIFT_NOTES = 20
# Life-cycle events not yet published (`shared.events`): beyond this many, the oldest are dropped (logged).
MAX_OUTBOX = 100
MAX_CONNECTIONS = 100
MAX_TEXT = 1000
# Keeps one stored link inside a Table Storage entity (1 MiB) even with long IDs; a service behind a
# Private Link Service has a handful of backends.
MAX_BACKEND_NICS = 100
PROBE_INTERVAL_SECONDS = 5

SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets"
NIC_TYPE = "Microsoft.Network/networkInterfaces"
LOAD_BALANCER_TYPE = "Microsoft.Network/loadBalancers"
PRIVATE_LINK_SERVICE_TYPE = "Microsoft.Network/privateLinkServices"


def _of_type(resource_type: str) -> Callable[[ResourceId], ResourceId]:
    def check(value: ResourceId) -> ResourceId:
        if not value.is_type(resource_type):
            raise ValueError(f"must be the ID of a {resource_type} resource, not {value.resource_type}")
        return value

    return check


def _check_https_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        _ = parts.port  # a malformed port only shows when read
    except ValueError:
        raise ValueError("must be an https:// URL") from None
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials: name the app settings that hold them instead")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or a fragment")
    return value.rstrip("/")


def _check_redis_username(value: str) -> str:
    if not 1 <= len(value) <= 256 or not value.isprintable() or any(c.isspace() for c in value):
        raise ValueError("must be 1-256 printable characters without spaces")
    return value


def _cut(value: str) -> str:
    return cut(value, MAX_TEXT)


T = TypeVar("T")


def _keep_last(limit: int) -> Callable[[list[T]], list[T]]:
    return lambda items: items[-limit:]


def _keep_first(limit: int) -> Callable[[list[T]], list[T]]:
    return lambda items: items[:limit]


LinkName = Annotated[str, AfterValidator(check_link_name)]
NetworkName = Annotated[str, AfterValidator(check_network_name)]
ResourceGroupName = Annotated[str, AfterValidator(check_resource_group)]
Region = Annotated[str, AfterValidator(check_region)]
Guid = Annotated[str, AfterValidator(check_guid)]
SettingName = Annotated[str, AfterValidator(check_setting_name)]
DeploymentId = Annotated[str, AfterValidator(check_deployment_id)]
HttpsUrl = Annotated[str, AfterValidator(_check_https_url)]
RedisUsername = Annotated[str, AfterValidator(_check_redis_username)]
SubnetId = Annotated[ResourceId, AfterValidator(_of_type(SUBNET_TYPE))]
NicId = Annotated[ResourceId, AfterValidator(_of_type(NIC_TYPE))]
# Inbound NAT and load-balancing rules take frontend ports 1-65534; backend and probe ports 1-65535.
FrontendPort = Annotated[int, Field(strict=True, ge=1, le=65534)]
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
Text = Annotated[str, AfterValidator(_cut)]


def _field_errors(title: str, problems: Sequence[tuple[tuple[str | int, ...], str]]) -> ValidationError:
    """A `ValidationError` raised from a validator that points at the fields at fault, not the whole model."""
    return ValidationError.from_exception_data(
        title,
        [
            InitErrorDetails(type=PydanticCustomError("invalid", "{reason}", {"reason": reason}), loc=loc, input=None)
            for loc, reason in problems
        ],
    )


# camelCase on the wire and in storage, snake_case in Python; either is read.
_CAMEL_CASE = ConfigDict(
    alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
)


class _Desired(BaseModel):
    model_config = _CAMEL_CASE | ConfigDict(extra="forbid", frozen=True)


class _Recorded(BaseModel):
    # Written and read by this app only; ignoring unknown fields lets an older instance read a newer record.
    model_config = _CAMEL_CASE | ConfigDict(extra="ignore", validate_assignment=True)


class Forwarding(StrEnum):
    """How the load balancer forwards the service port to the backend NIC (guide step 4)."""

    NAT_RULE = "natRule"
    LOAD_BALANCING_RULE = "loadBalancingRule"


class DeploymentApiVersion(StrEnum):
    """EMQX's deployment API generation: v5 (Dedicated Flex, v5 Serverless) or v4 (Professional)."""

    V5 = "v5"
    V4 = "v4"


class NameOverrides(_Desired):
    """Azure names the caller chose instead of the defaults derived from the link name."""

    load_balancer: NetworkName | None = None
    frontend: NetworkName | None = None
    backend_pool: NetworkName | None = None
    rule: NetworkName | None = None
    probe: NetworkName | None = None
    private_link_service: NetworkName | None = None
    nat_ip_configuration: NetworkName | None = None


class ResourceNames(_Desired):
    """The Azure names a link uses, defaults resolved."""

    load_balancer: str
    frontend: str
    backend_pool: str
    rule: str
    probe: str
    private_link_service: str
    nat_ip_configuration: str


class AzureSpec(_Desired):
    subscription_id: Guid
    resource_group: ResourceGroupName
    location: Region
    frontend_subnet_id: SubnetId
    nat_subnet_id: SubnetId | None = None
    backend_nic_ids: tuple[NicId, ...]
    frontend_port: FrontendPort
    backend_port: Port
    frontend_ip: IPv4Address | None = None
    forwarding: Forwarding = Field(
        default=Forwarding.NAT_RULE,
        description="natRule: an inbound NAT rule V2 on the backend pool (one NIC; V1 rules are migrated); "
        "loadBalancingRule: a load-balancing rule with a TCP health probe (any number of NICs).",
    )
    probe_port: Port | None = None
    enable_proxy_protocol: StrictBool = False
    auto_approve: StrictBool = False
    names: NameOverrides = NameOverrides()

    @field_validator("backend_nic_ids", mode="before")
    @classmethod
    def _count_nics(cls, nic_ids: object) -> object:
        # Counted before the items are checked, so a bad item is not also reported as a missing one.
        if isinstance(nic_ids, list | tuple) and not 1 <= len(nic_ids) <= MAX_BACKEND_NICS:
            raise ValueError(f"must list 1-{MAX_BACKEND_NICS} NIC IDs")
        return nic_ids

    @field_validator("backend_nic_ids")
    @classmethod
    def _no_duplicate_nics(cls, nic_ids: tuple[ResourceId, ...]) -> tuple[ResourceId, ...]:
        first_seen: dict[ResourceId, int] = {}
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for index, nic_id in enumerate(nic_ids):
            if nic_id in first_seen:
                problems.append(((index,), f"repeats backendNicIds[{first_seen[nic_id]}] (IDs ignore case)"))
            first_seen.setdefault(nic_id, index)
        if problems:
            raise _field_errors(cls.__name__, problems)
        return nic_ids

    @model_validator(mode="after")
    def _forwarding_fits(self) -> AzureSpec:
        if self.forwarding is Forwarding.LOAD_BALANCING_RULE:
            return self
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if len(self.backend_nic_ids) != 1:
            problems.append(
                (("backendNicIds",), "an inbound NAT rule forwards to exactly one NIC; use loadBalancingRule for more")
            )
        if self.probe_port is not None:
            problems.append((("probePort",), "applies only when forwarding is loadBalancingRule"))
        if self.names.probe is not None:
            problems.append((("names", "probe"), "applies only when forwarding is loadBalancingRule"))
        if problems:
            raise _field_errors(type(self).__name__, problems)
        return self

    @property
    def nat_subnet(self) -> ResourceId:
        """The subnet of the Private Link Service's NAT IP configuration."""
        return self.nat_subnet_id or self.frontend_subnet_id

    @property
    def health_probe_port(self) -> int | None:
        """The TCP health probe's port (load-balancing rule only; a NAT rule has no probe)."""
        if self.forwarding is Forwarding.NAT_RULE:
            return None
        return self.probe_port or self.backend_port


class EmqxSpec(_Desired):
    deployment_id: DeploymentId
    deployment_api_version: DeploymentApiVersion
    deployment_api_url: HttpsUrl
    api_key_setting: SettingName
    api_secret_setting: SettingName
    redis_password_setting: SettingName
    redis_username: RedisUsername | None = None
    redis_database: Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)] = 0
    azure_subscription_id: Guid | None = None
    private_link_ip: IPv4Address | None = None


class LinkSpec(_Desired):
    """The desired state of one link, as the caller PUTs it."""

    name: LinkName
    azure: AzureSpec
    emqx: EmqxSpec

    @property
    def resource_names(self) -> ResourceNames:
        given, name, azure = self.azure.names, self.name, self.azure
        rule_kind = "nat" if azure.forwarding is Forwarding.NAT_RULE else "rule"
        return ResourceNames(
            load_balancer=given.load_balancer or f"lb-{name}",
            frontend=given.frontend or f"fe-{name}",
            backend_pool=given.backend_pool or f"pool-{name}",
            rule=given.rule or f"{rule_kind}-{name}-{azure.frontend_port}",
            probe=given.probe or f"probe-{name}",
            private_link_service=given.private_link_service or f"pls-{name}",
            nat_ip_configuration=given.nat_ip_configuration or f"natip-{name}",
        )

    @property
    def load_balancer_id(self) -> ResourceId:
        azure = self.azure
        return ResourceId.build(
            azure.subscription_id, azure.resource_group, LOAD_BALANCER_TYPE, self.resource_names.load_balancer
        )

    @property
    def private_link_service_id(self) -> ResourceId:
        azure = self.azure
        return ResourceId.build(
            azure.subscription_id,
            azure.resource_group,
            PRIVATE_LINK_SERVICE_TYPE,
            self.resource_names.private_link_service,
        )


class Phase(StrEnum):
    PROVISIONING = "provisioning"
    PROVISIONED = "provisioned"
    REGISTERING = "registering"
    AWAITING_CONSOLE = "awaitingConsole"
    AWAITING_APPROVAL = "awaitingApproval"
    CONNECTING = "connecting"
    RUNNING = "running"
    FAILED = "failed"
    DELETING = "deleting"
    DELETED = "deleted"

    @property
    def being_deleted(self) -> bool:
        return self in (Phase.DELETING, Phase.DELETED)

    @property
    def before_registration(self) -> bool:
        """A register call starts the registration from here (a failed link registers again from scratch)."""
        return self in (Phase.PROVISIONING, Phase.PROVISIONED, Phase.FAILED)

    @property
    def handed_to_emqx(self) -> bool:
        """EMQX has the alias (or may have, for a failed link): its side and the connections are observed."""
        return self in (Phase.AWAITING_CONSOLE, Phase.AWAITING_APPROVAL, Phase.CONNECTING, Phase.RUNNING, Phase.FAILED)


_REGISTERED_MOVES = frozenset({Phase.CONNECTING, Phase.RUNNING, Phase.FAILED, Phase.DELETING})
# The phase machine: where each phase may go (`shared.run.Run.move_to` is the only way to change a phase).
PHASE_MOVES: dict[Phase, frozenset[Phase]] = {
    Phase.PROVISIONING: frozenset({Phase.PROVISIONED, Phase.REGISTERING, Phase.DELETING}),
    Phase.PROVISIONED: frozenset({Phase.REGISTERING, Phase.DELETING}),
    Phase.REGISTERING: frozenset({Phase.AWAITING_CONSOLE, Phase.AWAITING_APPROVAL, Phase.FAILED, Phase.DELETING}),
    Phase.AWAITING_CONSOLE: _REGISTERED_MOVES | {Phase.AWAITING_APPROVAL},
    Phase.AWAITING_APPROVAL: _REGISTERED_MOVES,
    Phase.CONNECTING: _REGISTERED_MOVES,
    Phase.RUNNING: _REGISTERED_MOVES,
    Phase.FAILED: _REGISTERED_MOVES | {Phase.REGISTERING},
    Phase.DELETING: frozenset({Phase.DELETED}),
    Phase.DELETED: frozenset(),
}


class Health(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    FAILED = "failed"
    UNKNOWN = "unknown"


class StepOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    WAITING = "waiting"
    SKIPPED = "skipped"


class AzureResources(_Recorded):
    load_balancer_id: ResourceId | None = None
    private_link_service_id: ResourceId | None = None
    frontend_ip: IPv4Address | None = None


class ConnectionState(_Recorded):
    """One private endpoint connection on the link's Private Link Service, as ARM last reported it."""

    name: str
    private_endpoint_id: ResourceId | None = None
    status: str
    description: Text = ""


class EmqxPrivateLink(_Recorded):
    id: str | None = None
    status: str | None = None
    ip: IPv4Address | None = None
    # When this app last learnt the id (created or found): a list of EMQX's PrivateLinks read before then says
    # nothing about whether it still exists.
    known_since: AwareDatetime | None = None


class RedisTestResult(_Recorded):
    at: AwareDatetime
    passed: bool
    latency_ms: Annotated[float, Field(ge=0)] | None = None
    reason: Text | None = None


class StepRecord(_Recorded):
    at: AwareDatetime
    step: str
    outcome: StepOutcome
    detail: Text = ""
    duration_ms: Annotated[float, Field(ge=0)] = 0.0


class PendingEvent(_Recorded):
    """A life-cycle event recorded with the state change it reports and published after (`shared.events`).

    Its id is fixed when it is recorded, so every attempt to publish it sends the same id: a receiver de-duplicates.
    """

    id: str
    type: str
    time: AwareDatetime
    data: dict[str, Any]


class LinkStatus(_Recorded):
    """What the app last observed and did for a link."""

    phase: Phase = Phase.PROVISIONING
    health: Health = Health.UNKNOWN
    observed_generation: int = 0
    message: Text | None = None
    resources: AzureResources = Field(default_factory=AzureResources)
    pls_alias: str | None = None
    # The shape of load balancer the link was last provisioned with (`LOAD_BALANCER_SCHEMA`): an older one is
    # provisioned again by the next run (2: inbound NAT rule V2).
    load_balancer_schema: int = 1
    # A register call's intent, recorded before it provisions: whichever run comes next finishes the registration.
    registration_requested: bool = False
    # Since when a removal has waited for EMQX to let go of its PrivateLink, and whether it gave up (`shared.removal`).
    emqx_teardown_since: AwareDatetime | None = None
    emqx_teardown_stalled: bool = False
    connections: Annotated[list[ConnectionState], AfterValidator(_keep_first(MAX_CONNECTIONS))] = []
    emqx: EmqxPrivateLink = Field(default_factory=EmqxPrivateLink)
    last_redis_test: RedisTestResult | None = None
    drift: Annotated[list[Text], AfterValidator(_keep_last(MAX_DRIFT_NOTES))] = []
    history: Annotated[list[StepRecord], AfterValidator(_keep_last(MAX_HISTORY))] = []
    # The outbox: events written in the same update as the change they report, removed once Event Grid took them.
    outbox: Annotated[list[PendingEvent], AfterValidator(_keep_last(MAX_OUTBOX))] = []
    updated_at: AwareDatetime | None = None

    def record_step(self, step: StepRecord) -> None:
        """Append to the history, dropping the oldest entries beyond `MAX_HISTORY`."""
        self.history = [*self.history, step]


class Link(_Recorded):
    """A stored link: desired state, observed status, the generation of the desired state and the storage ETag."""

    spec: LinkSpec
    status: LinkStatus = Field(default_factory=LinkStatus)
    generation: Annotated[int, Field(ge=1)] = 1
    etag: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def with_spec(self, spec: LinkSpec) -> Link:
        """This link with a new desired state; the generation moves on only when the plan changes."""
        bump = 1 if compare_specs(self.spec, spec).changed else 0
        return Link(
            spec=spec,
            status=self.status.model_copy(deep=True),
            generation=self.generation + bump,
            etag=self.etag,
        )


class AuditRecord(_Recorded):
    """One audited decision (e.g. an approval), appended and never changed."""

    model_config = ConfigDict(frozen=True, validate_assignment=False)

    at: AwareDatetime
    link: str | None = None
    actor: Text
    action: Text
    subject: Text | None = None
    decision: Text
    reason: Text = ""


@dataclass(frozen=True)
class SpecChange:
    """What a new desired state changes, as camelCase paths of the effective values."""

    changed_fields: tuple[str, ...]
    replacing_fields: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.changed_fields)

    @property
    def replaces_private_link_service(self) -> bool:
        return bool(self.replacing_fields)


# An existing PLS can change neither its load balancer frontend nor its primary NAT subnet
# (reference azure-arm.md §3.4), and its name, group, subscription and region are its identity.
_REPLACING_FIELDS = frozenset(
    {
        "azure.subscriptionId",
        "azure.resourceGroup",
        "azure.location",
        "azure.frontendSubnetId",
        "azure.natSubnetId",
        "azure.names.loadBalancer",
        "azure.names.frontend",
        "azure.names.privateLinkService",
        "azure.names.natIpConfiguration",
    }
)


def _flatten(value: object, path: str = "") -> dict[str, object]:
    if not isinstance(value, Mapping):
        return {path: value}
    flat: dict[str, object] = {}
    for key, item in value.items():
        flat.update(_flatten(item, f"{path}.{key}" if path else str(key)))
    return flat


def _plan_view(spec: LinkSpec) -> dict[str, object]:
    """Effective values by path, normalised as Azure compares them (names case-insensitive, NICs a set)."""
    view = _flatten(spec.model_dump(exclude={"azure": {"names"}}))
    view["azure.resourceGroup"] = spec.azure.resource_group.lower()
    view["azure.natSubnetId"] = spec.azure.nat_subnet
    view["azure.backendNicIds"] = frozenset(spec.azure.backend_nic_ids)
    view["azure.probePort"] = spec.azure.health_probe_port
    for key, name in spec.resource_names.model_dump().items():
        view[f"azure.names.{key}"] = name.lower()
    return view


def compare_specs(current: LinkSpec, desired: LinkSpec) -> SpecChange:
    before, after = _plan_view(current), _plan_view(desired)
    changed = tuple(sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path)))
    return SpecChange(changed, tuple(path for path in changed if path in _REPLACING_FIELDS))


def check_ip_in_prefix(ip: str, prefix: str) -> str | None:
    """The problem with using `ip` as a static address in a subnet of `prefix`, or None when it can be used.

    Azure keeps the first four addresses and the last one of every subnet for itself.
    """
    try:
        address = IPv4Address(ip)
    except ValueError:
        return f"{ip} is not an IPv4 address"
    network = ipaddress.ip_network(prefix, strict=False)
    if address not in network:
        return f"{ip} is outside the subnet's address range {prefix}"
    offset = int(address) - int(network.network_address)
    if offset < 4 or address == network.broadcast_address:
        return f"{ip} is one of the addresses Azure reserves in {prefix} (the first four and the last)"
    return None


def _json_path(loc: tuple[str | int, ...], unknown_property: bool) -> str:
    path = ""
    for position, segment in enumerate(loc):
        if isinstance(segment, int):
            path += f"[{segment}]"
            continue
        is_given_name = unknown_property and position == len(loc) - 1
        name = segment if is_given_name else to_camel(segment)
        path += f".{name}" if path else name
    return path


_MESSAGES = {"missing": "is required", "extra_forbidden": "is not a known property"}


def validation_problems(error: ValidationError) -> list[tuple[str, str]]:
    """`(target, message)` per bad field, the target a camelCase JSON path such as `azure.backendNicIds[1]`."""
    problems = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        kind = item["type"]
        message = _MESSAGES.get(kind) or item["msg"].removeprefix("Value error, ")
        problems.append((_json_path(item["loc"], unknown_property=kind == "extra_forbidden"), message))
    return problems


def parse_link_spec(name: str, body: Any) -> LinkSpec:
    """The desired state of link `name` (from the route) from a decoded PUT body, or `InvalidRequestError`."""
    if not isinstance(body, Mapping):
        raise InvalidRequestError("The request body must be a JSON object.")
    if "name" in body and body["name"] != name:
        raise InvalidRequestError.from_problems([("name", "must match the link name in the URL")], "The link")
    try:
        return LinkSpec.model_validate({**body, "name": name})
    except ValidationError as error:
        # Not chained: the pydantic error repeats the input, which may hold a secret pasted by mistake.
        raise InvalidRequestError.from_problems(validation_problems(error), "The link") from None


__all__ = [
    "LOAD_BALANCER_SCHEMA",
    "MAX_HISTORY",
    "MAX_TEXT",
    "PHASE_MOVES",
    "PROBE_INTERVAL_SECONDS",
    "AuditRecord",
    "AzureResources",
    "AzureSpec",
    "ConnectionState",
    "DeploymentApiVersion",
    "EmqxPrivateLink",
    "EmqxSpec",
    "Forwarding",
    "Health",
    "Link",
    "LinkSpec",
    "LinkStatus",
    "NameOverrides",
    "Phase",
    "RedisTestResult",
    "ResourceId",
    "ResourceNames",
    "SpecChange",
    "StepOutcome",
    "StepRecord",
    "check_ip_in_prefix",
    "compare_specs",
    "parse_link_spec",
    "validation_problems",
]
