"""The link model: every validation rule answers with the right target, defaults, resource IDs, plan comparison."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.errors import (
    AppError,
    ConflictError,
    ErrorDetail,
    InvalidRequestError,
    NotFoundError,
    PreconditionFailedError,
    TemporaryError,
    UpstreamError,
    error_body,
)
from shared.model import (
    MAX_HISTORY,
    MAX_TEXT,
    Forwarding,
    Link,
    LinkSpec,
    LinkStatus,
    StepOutcome,
    StepRecord,
    check_ip_in_prefix,
    compare_specs,
    parse_link_spec,
)
from shared.names import ResourceId, check_network_name
from tests.bodies import NETWORK, NIC, NIC_2, REMOVE, SUB, SUBNET, guide_body, lb_rule_body, minimal_body, with_field

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "model"

OTHER_SUB = "6b7a2a0e-1e52-4d47-a0f1-3c7ac9a4f5e1"
OTHER_SUBNET = f"{NETWORK}/virtualNetworks/vnet-demo/subnets/pls-nat"


def refusal(body: Any, name: str = "demo") -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        parse_link_spec(name, body)
    return caught.value


def problems(body: Any, name: str = "demo") -> list[tuple[str | None, str]]:
    return [(detail.target, detail.message) for detail in refusal(body, name).details]


def targets(body: Any, name: str = "demo") -> list[str | None]:
    return [target for target, _ in problems(body, name)]


# The guide's scenario and the defaults


def test_the_guide_scenario_is_expressible() -> None:
    spec = parse_link_spec("demo", guide_body())
    names = spec.resource_names
    assert (names.load_balancer, names.frontend, names.private_link_service) == ("test01", "demo-redis", "demo")
    assert spec.azure.forwarding is Forwarding.NAT_RULE
    assert spec.azure.frontend_port == spec.azure.backend_port == 6379
    assert str(spec.azure.frontend_ip) == "10.1.0.9"
    assert str(spec.load_balancer_id) == (
        f"/subscriptions/{SUB}/resourceGroups/rg-demo/providers/Microsoft.Network/loadBalancers/test01"
    )
    assert str(spec.private_link_service_id).endswith(
        "/resourceGroups/rg-demo/providers/Microsoft.Network/privateLinkServices/demo"
    )


def test_defaults() -> None:
    spec = parse_link_spec("demo", minimal_body())
    azure, emqx = spec.azure, spec.emqx
    assert azure.forwarding is Forwarding.NAT_RULE
    assert azure.enable_proxy_protocol is False
    assert azure.auto_approve is False
    assert azure.nat_subnet_id is None
    assert azure.nat_subnet == ResourceId.parse(SUBNET)
    assert azure.health_probe_port is None
    assert azure.frontend_ip is None
    assert (emqx.redis_database, emqx.redis_username, emqx.azure_subscription_id, emqx.private_link_ip) == (
        0,
        None,
        None,
        None,
    )
    assert spec.resource_names.model_dump() == {
        "loadBalancer": "lb-demo",
        "frontend": "fe-demo",
        "backendPool": "pool-demo",
        "rule": "nat-demo-6379",
        "probe": "probe-demo",
        "privateLinkService": "pls-demo",
        "natIpConfiguration": "natip-demo",
    }


def test_load_balancing_rule_probes_the_backend_port_by_default() -> None:
    spec = parse_link_spec("demo", lb_rule_body())
    assert spec.azure.health_probe_port == 6380
    assert spec.resource_names.rule == "rule-demo-6379"
    assert len(spec.azure.backend_nic_ids) == 2
    explicit = parse_link_spec("demo", with_field(lb_rule_body(), "azure.probePort", 16379))
    assert explicit.azure.health_probe_port == 16379


def test_the_longest_link_name_still_gives_valid_azure_names() -> None:
    name = "a" * 63
    spec = parse_link_spec(name, minimal_body())
    for derived in spec.resource_names.model_dump().values():
        assert check_network_name(derived) == derived


def test_python_field_names_are_accepted() -> None:
    body = minimal_body()
    body["azure"]["backend_nic_ids"] = body["azure"].pop("backendNicIds")
    assert parse_link_spec("demo", body).azure.backend_nic_ids == (ResourceId.parse(NIC),)


def test_the_subnet_may_live_in_another_subscription_and_group() -> None:
    subnet = (
        f"/subscriptions/{OTHER_SUB}/resourceGroups/Shared.Net(1)"
        "/providers/Microsoft.Network/virtualNetworks/hub/subnets/s1"
    )
    spec = parse_link_spec("demo", with_field(minimal_body(), "azure.frontendSubnetId", subnet))
    assert spec.azure.frontend_subnet_id.subscription_id == OTHER_SUB


def test_guids_are_normalised_to_lowercase() -> None:
    spec = parse_link_spec("demo", with_field(minimal_body(), "azure.subscriptionId", SUB.upper()))
    assert spec.azure.subscription_id == SUB


def test_the_json_form_is_camel_case_and_round_trips() -> None:
    spec = parse_link_spec("demo", guide_body())
    dumped = spec.model_dump(mode="json")
    assert dumped["azure"]["backendNicIds"] == [NIC]
    assert dumped["emqx"]["redisPasswordSetting"] == "DEMO_REDIS_PASSWORD"
    assert LinkSpec.model_validate_json(spec.model_dump_json()) == spec


def test_the_desired_state_is_immutable() -> None:
    spec = parse_link_spec("demo", minimal_body())
    with pytest.raises(ValidationError):
        spec.azure.frontend_port = 1  # type: ignore[misc]


# Each class of bad input names its field

BAD_FIELDS = [
    ("azure.subscriptionId", "not-a-guid"),
    ("azure.subscriptionId", "0b1f64711bf04ddaaec3cb9272f09590"),
    ("azure.resourceGroup", "rg."),
    ("azure.resourceGroup", "rg/demo"),
    ("azure.resourceGroup", "r" * 91),
    ("azure.location", "East US"),
    ("azure.location", "eastus "),
    ("azure.frontendSubnetId", NIC),
    ("azure.frontendSubnetId", "subnet-1"),
    ("azure.frontendSubnetId", SUBNET.replace(SUB, "sub1")),
    ("azure.frontendSubnetId", SUBNET + "/"),
    ("azure.frontendSubnetId", SUBNET.replace("/providers/", "/provider/")),
    ("azure.frontendSubnetId", SUBNET.replace("/subnets/default", "/subnets/a?b")),
    ("azure.natSubnetId", NIC),
    ("azure.backendNicIds", []),
    ("azure.backendNicIds", NIC),
    ("azure.backendNicIds", [NIC, NIC_2]),
    ("azure.backendNicIds[0]", SUBNET),
    ("azure.frontendPort", 0),
    ("azure.frontendPort", 65535),
    ("azure.frontendPort", "6379"),
    ("azure.frontendPort", 6379.5),
    ("azure.frontendPort", True),
    ("azure.backendPort", 0),
    ("azure.backendPort", 65536),
    ("azure.frontendIp", "10.1.0.300"),
    ("azure.frontendIp", "fd00::9"),
    ("azure.frontendIp", "010.1.0.9"),
    ("azure.forwarding", "nat"),
    ("azure.probePort", 6379),
    ("azure.enableProxyProtocol", "yes"),
    ("azure.autoApprove", 1),
    ("azure.names.loadBalancer", "-lb"),
    ("azure.names.loadBalancer", "lb-"),
    ("azure.names.loadBalancer", "lb#1"),
    ("azure.names.loadBalancer", "l" * 81),
    ("azure.names.frontend", ""),
    ("azure.names.privateLinkService", "pls."),
    ("azure.names.probe", "probe-demo"),
    ("emqx.deploymentId", "W41B11C0"),
    ("emqx.deploymentId", "w41"),
    ("emqx.deploymentApiVersion", "v3"),
    ("emqx.deploymentApiUrl", "http://w41b11c0.emqx.cloud"),
    ("emqx.deploymentApiUrl", "https://admin:hunter2@w41b11c0.emqx.cloud"),
    ("emqx.deploymentApiUrl", "https://w41b11c0.emqx.cloud/?key=1"),
    ("emqx.deploymentApiUrl", "https://w41b11c0.emqx.cloud:99999"),
    ("emqx.deploymentApiUrl", "w41b11c0.emqx.cloud"),
    ("emqx.apiKeySetting", "1EMQX_KEY"),
    ("emqx.apiSecretSetting", "EMQX-SECRET"),
    ("emqx.redisPasswordSetting", ""),
    ("emqx.redisUsername", "red is"),
    ("emqx.redisUsername", ""),
    ("emqx.redisDatabase", -1),
    ("emqx.redisDatabase", "0"),
    ("emqx.azureSubscriptionId", "emqx"),
    ("emqx.privateLinkIp", "10.0.0"),
]


@pytest.mark.parametrize(("path", "value"), BAD_FIELDS, ids=[f"{p}={v!r}"[:60] for p, v in BAD_FIELDS])
def test_a_bad_field_is_named(path: str, value: Any) -> None:
    field_path = re.sub(r"\[\d+\]$", "", path)
    bad_value = [value] if path.endswith("[0]") else value
    assert targets(with_field(minimal_body(), field_path, bad_value)) == [path]


@pytest.mark.parametrize("name", ["Demo", "1demo", "demo-", "de_mo", "a" * 64, ""])
def test_a_bad_link_name_is_named(name: str) -> None:
    assert targets(minimal_body(), name=name) == ["name"]


def test_a_name_in_the_body_must_match_the_route() -> None:
    assert targets({**minimal_body(), "name": "other"}) == ["name"]
    assert parse_link_spec("demo", {**minimal_body(), "name": "demo"}).name == "demo"


def test_too_many_nics_are_refused_as_a_whole() -> None:
    nics = [f"{NETWORK}/networkInterfaces/nic-{index}" for index in range(101)]
    assert problems(with_field(lb_rule_body(), "azure.backendNicIds", nics)) == [
        ("azure.backendNicIds", "must list 1-100 NIC IDs")
    ]


def test_duplicate_nics_are_named_at_the_repeat_ignoring_case() -> None:
    body = with_field(lb_rule_body(), "azure.backendNicIds", [NIC, NIC_2, NIC.upper()])
    [(target, message)] = problems(body)
    assert target == "azure.backendNicIds[2]"
    assert "backendNicIds[0]" in message


def test_a_nat_rule_forwards_to_one_nic_and_has_no_probe() -> None:
    body = with_field(minimal_body(), "azure.backendNicIds", [NIC, NIC_2])
    body = with_field(body, "azure.probePort", 6379)
    body = with_field(body, "azure.names.probe", "probe-x")
    assert targets(body) == ["azure.backendNicIds", "azure.probePort", "azure.names.probe"]


@pytest.mark.parametrize(
    "path",
    ["azure", "emqx", "azure.subscriptionId", "azure.frontendPort", "emqx.deploymentId", "emqx.apiKeySetting"],
)
def test_a_missing_field_is_named(path: str) -> None:
    assert problems(with_field(minimal_body(), path, REMOVE)) == [(path, "is required")]


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("extra", "extra"),
        ("azure.bogus", "azure.bogus"),
        ("azure.names.natRule", "azure.names.natRule"),
        ("emqx.apiSecret", "emqx.apiSecret"),
        ("emqx.redis_password", "emqx.redis_password"),
    ],
)
def test_an_unknown_field_is_refused_by_its_given_name(path: str, target: str) -> None:
    assert problems(with_field(minimal_body(), path, "x")) == [(target, "is not a known property")]


def test_every_bad_field_gets_its_own_detail() -> None:
    body = minimal_body()
    body["azure"].update(frontendPort=0, location="West Europe", backendNicIds=[NIC, SUBNET])
    body["emqx"].update(deploymentId="X", unknown=True)
    error = refusal(body)
    assert error.http_status == 400
    body_json = error_body(error)["error"]
    assert isinstance(body_json, dict)
    assert body_json["code"] == "InvalidRequestContent"
    assert "target" not in body_json
    assert sorted(detail["target"] for detail in body_json["details"]) == [
        "azure.backendNicIds[1]",
        "azure.frontendPort",
        "azure.location",
        "emqx.deploymentId",
        "emqx.unknown",
    ]
    assert {detail["code"] for detail in body_json["details"]} == {"InvalidValue"}


def test_a_value_pasted_by_mistake_is_never_echoed() -> None:
    secret = "hunter2-Sup3r/Secret"
    body = with_field(minimal_body(), "emqx.redisPasswordSetting", secret)
    body = with_field(body, "emqx.redisPassword", secret)
    error = refusal(body)
    assert secret not in json.dumps(error_body(error))
    assert secret not in str(error)
    assert error.__cause__ is None and error.__suppress_context__


@pytest.mark.parametrize("body", [[], "demo", None, 42])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    error = refusal(body)
    assert error.details == ()
    assert error_body(error) == {
        "error": {"code": "InvalidRequestContent", "message": "The request body must be a JSON object."}
    }


# Errors and their body


def test_one_bad_field_is_also_the_top_level_target() -> None:
    error = InvalidRequestError.from_problems([("azure.frontendPort", "must be 1-65534")], "The link")
    assert error_body(error) == {
        "error": {
            "code": "InvalidRequestContent",
            "message": "The link has 1 invalid field: see details.",
            "target": "azure.frontendPort",
            "details": [{"code": "InvalidValue", "message": "must be 1-65534", "target": "azure.frontendPort"}],
        }
    }


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFoundError("Link demo does not exist.", target="name"), 404, "NotFound"),
        (ConflictError("exists"), 409, "Conflict"),
        (PreconditionFailedError("stale"), 412, "PreconditionFailed"),
        (UpstreamError("ARM said no"), 502, "UpstreamFailure"),
        (TemporaryError("busy", retry_after=10), 503, "ServiceUnavailable"),
        (AppError("boom", code="Custom"), 500, "Custom"),
    ],
)
def test_each_error_has_its_status_and_code(error: AppError, status: int, code: str) -> None:
    assert error.http_status == status
    body = error_body(error)["error"]
    assert isinstance(body, dict)
    assert body["code"] == code
    assert body["message"] == error.message
    assert body.get("target") == error.target
    assert "details" not in body


def test_details_of_an_app_error_are_in_its_body() -> None:
    error = ConflictError(
        "refused", target="azure", details=[ErrorDetail("ReplacesResource", "new PLS", "azure.natSubnetId")]
    )
    assert error_body(error)["error"] == {
        "code": "Conflict",
        "message": "refused",
        "target": "azure",
        "details": [{"code": "ReplacesResource", "message": "new PLS", "target": "azure.natSubnetId"}],
    }


# Resource IDs


def recorded_resource_ids() -> list[str]:
    recording = (FIXTURES / "pls-lifecycle.azure-sdk-recordings.json").read_text()
    return sorted(set(re.findall(r'"(/subscriptions/[^"?]+)"', recording)))


def test_every_resource_id_azure_returned_parses_and_round_trips() -> None:
    ids = recorded_resource_ids()
    assert len(ids) >= 8
    for text in ids:
        parsed = ResourceId.parse(text)
        assert str(parsed) == text
        assert parsed.namespace == "Microsoft.Network"
        assert len(parsed.types) == len(parsed.names)


def test_a_connection_id_is_a_child_of_its_private_link_service() -> None:
    [connection] = [text for text in recorded_resource_ids() if "/privateEndpointConnections/" in text]
    parsed = ResourceId.parse(connection)
    assert parsed.resource_type == "Microsoft.Network/privateLinkServices/privateEndpointConnections"
    assert parsed.name == "myPrivateEndpoint.7434d881-2209-45be-a41a-2b9e3fa23911"
    assert parsed.parent is not None
    assert parsed.parent.is_type("microsoft.network/PRIVATELINKSERVICES")
    assert parsed.parent.child("privateEndpointConnections", parsed.name) == parsed
    assert parsed.parent.parent is None


def test_resource_ids_compare_ignoring_case_but_keep_their_casing() -> None:
    given = ResourceId.parse(SUBNET)
    lowered = ResourceId.parse(SUBNET.lower())
    assert given == lowered
    assert hash(given) == hash(lowered)
    assert len({given, lowered}) == 1
    assert str(given) == SUBNET
    assert given != ResourceId.parse(OTHER_SUBNET)


def test_a_resource_id_is_built_from_its_type_and_names() -> None:
    built = ResourceId.build(
        SUB, "rg-demo", "Microsoft.Network/loadBalancers/frontendIPConfigurations", "test01", "demo-redis"
    )
    assert str(built) == (
        f"/subscriptions/{SUB}/resourceGroups/rg-demo/providers/Microsoft.Network"
        "/loadBalancers/test01/frontendIPConfigurations/demo-redis"
    )
    assert built.resource_group == "rg-demo"
    assert built.types == ("loadBalancers", "frontendIPConfigurations")
    with pytest.raises(ValueError, match="needs 2 names"):
        ResourceId.build(SUB, "rg-demo", "Microsoft.Network/loadBalancers/frontendIPConfigurations", "test01")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "must be a resource ID"),
        (f"/subscriptions/{SUB}/resourceGroups/rg", "must be a resource ID"),
        (
            f"subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb",
            "must be a resource ID",
        ),
        (f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers", "must be a resource ID"),
        ("/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb", "invalid subscription"),
        (
            f"/subscriptions/{SUB}/resourceGroups/rg./providers/Microsoft.Network/loadBalancers/lb",
            "invalid resource group",
        ),
        (f"/subscriptions/{SUB}/resourceGroups/rg/providers/Network/loadBalancers/lb", "invalid provider namespace"),
        (
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/load-balancers/lb",
            "invalid resource type",
        ),
        (
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/l%b",
            "invalid resource name",
        ),
    ],
)
def test_a_malformed_resource_id_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ResourceId.parse(text)


def test_a_resource_id_is_immutable() -> None:
    parsed = ResourceId.parse(SUBNET)
    with pytest.raises(AttributeError):
        parsed.names = ("other",)  # type: ignore[misc]


# The static frontend IP inside its subnet


@pytest.mark.parametrize(
    ("ip", "prefix", "problem"),
    [
        ("10.1.0.9", "10.1.0.0/24", None),
        ("10.1.0.4", "10.1.0.0/24", None),
        ("10.1.0.254", "10.1.0.0/24", None),
        ("10.1.0.12", "10.1.0.8/29", None),
        ("10.1.0.0", "10.1.0.0/24", "reserves"),
        ("10.1.0.3", "10.1.0.0/24", "reserves"),
        ("10.1.0.255", "10.1.0.0/24", "reserves"),
        ("10.1.0.15", "10.1.0.8/29", "reserves"),
        ("10.1.1.9", "10.1.0.0/24", "outside"),
        ("10.1.0.9", "fd00:1::/64", "outside"),
        ("10.1.0", "10.1.0.0/24", "not an IPv4 address"),
    ],
)
def test_check_ip_in_prefix(ip: str, prefix: str, problem: str | None) -> None:
    found = check_ip_in_prefix(ip, prefix)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
        assert ip in found


# Plan comparison


def compare(before: dict[str, Any], after: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    change = compare_specs(parse_link_spec("demo", before), parse_link_spec("demo", after))
    assert change.changed == bool(change.changed_fields)
    assert change.replaces_private_link_service == bool(change.replacing_fields)
    return change.changed_fields, change.replacing_fields


def test_the_same_desired_state_changes_nothing() -> None:
    assert compare(guide_body(), guide_body()) == ((), ())


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("azure.natSubnetId", SUBNET.upper().replace("SUBSCRIPTIONS", "subscriptions")),
        ("azure.names.loadBalancer", "LB-Demo"),
        ("azure.names.rule", "nat-demo-6379"),
        ("azure.resourceGroup", "RG-DEMO"),
        ("azure.subscriptionId", SUB.upper()),
        ("azure.frontendSubnetId", SUBNET.lower()),
    ],
)
def test_spelling_out_a_default_or_changing_case_changes_nothing(path: str, value: str) -> None:
    assert compare(minimal_body(), with_field(minimal_body(), path, value)) == ((), ())


def test_reordering_backends_changes_nothing() -> None:
    reordered = with_field(lb_rule_body(), "azure.backendNicIds", [NIC_2, NIC])
    assert compare(lb_rule_body(), reordered) == ((), ())


@pytest.mark.parametrize(
    ("path", "value", "changed"),
    [
        ("azure.backendPort", 6380, ("azure.backendPort",)),
        ("azure.frontendPort", 6380, ("azure.frontendPort", "azure.names.rule")),
        ("azure.frontendIp", "10.1.0.10", ("azure.frontendIp",)),
        ("azure.enableProxyProtocol", True, ("azure.enableProxyProtocol",)),
        ("azure.autoApprove", True, ("azure.autoApprove",)),
        ("azure.backendNicIds", [NIC_2], ("azure.backendNicIds",)),
        ("emqx.deploymentId", "a1b2c3d4", ("emqx.deploymentId",)),
        ("emqx.privateLinkIp", "10.10.0.5", ("emqx.privateLinkIp",)),
        ("emqx.redisPasswordSetting", "OTHER_PASSWORD", ("emqx.redisPasswordSetting",)),
    ],
)
def test_an_in_place_change_keeps_the_private_link_service(path: str, value: Any, changed: tuple[str, ...]) -> None:
    assert compare(minimal_body(), with_field(minimal_body(), path, value)) == (changed, ())


def test_switching_to_a_load_balancing_rule_changes_rule_and_probe_in_place() -> None:
    switched = with_field(minimal_body(), "azure.forwarding", "loadBalancingRule")
    assert compare(minimal_body(), switched) == (("azure.forwarding", "azure.names.rule", "azure.probePort"), ())


@pytest.mark.parametrize(
    ("path", "value", "replacing"),
    [
        ("azure.frontendSubnetId", OTHER_SUBNET, ("azure.frontendSubnetId", "azure.natSubnetId")),
        ("azure.natSubnetId", OTHER_SUBNET, ("azure.natSubnetId",)),
        ("azure.names.loadBalancer", "test02", ("azure.names.loadBalancer",)),
        ("azure.names.frontend", "fe-2", ("azure.names.frontend",)),
        ("azure.names.privateLinkService", "pls-2", ("azure.names.privateLinkService",)),
        ("azure.names.natIpConfiguration", "natip-2", ("azure.names.natIpConfiguration",)),
        ("azure.resourceGroup", "rg-other", ("azure.resourceGroup",)),
        ("azure.location", "westeurope", ("azure.location",)),
        ("azure.subscriptionId", OTHER_SUB, ("azure.subscriptionId",)),
    ],
)
def test_a_change_that_needs_a_new_private_link_service_is_flagged(
    path: str, value: Any, replacing: tuple[str, ...]
) -> None:
    changed, found = compare(minimal_body(), with_field(minimal_body(), path, value))
    assert found == replacing
    assert changed == replacing


def test_the_generation_moves_on_only_when_the_plan_changes() -> None:
    link = Link(spec=parse_link_spec("demo", minimal_body()))
    assert link.generation == 1
    same = link.with_spec(parse_link_spec("demo", with_field(minimal_body(), "azure.names.loadBalancer", "lb-demo")))
    assert same.generation == 1
    changed = same.with_spec(parse_link_spec("demo", with_field(minimal_body(), "azure.backendPort", 6380)))
    assert changed.generation == 2
    changed.status.message = "changed"
    assert same.status.message is None


# Observed status


def step(index: int) -> StepRecord:
    return StepRecord(
        at=datetime(2026, 1, 1, tzinfo=UTC), step=f"step-{index}", outcome=StepOutcome.SUCCEEDED, duration_ms=1.5
    )


def test_history_keeps_the_last_steps() -> None:
    status = LinkStatus()
    for index in range(MAX_HISTORY + 10):
        status.record_step(step(index))
    assert len(status.history) == MAX_HISTORY
    assert status.history[0].step == "step-10"
    assert status.history[-1].step == f"step-{MAX_HISTORY + 9}"


def test_long_texts_are_cut_and_drift_notes_bounded() -> None:
    status = LinkStatus(message="x" * 10_000, drift=[f"note {i}" for i in range(100)])
    assert status.message is not None
    assert len(status.message) == MAX_TEXT
    assert status.message.endswith("…")
    assert status.drift[-1] == "note 99"
    assert len(status.drift) == 20
    status.drift = [*status.drift, "late note"]
    assert len(status.drift) == 20


def test_status_assignments_are_validated() -> None:
    status = LinkStatus()
    with pytest.raises(ValidationError):
        status.phase = "sleeping"  # type: ignore[assignment]
    with pytest.raises(ValidationError):
        status.updated_at = datetime(2026, 1, 1)


def test_status_round_trips_through_json() -> None:
    status = LinkStatus.model_validate(
        {
            "phase": "awaitingApproval",
            "health": "degraded",
            "observedGeneration": 3,
            "resources": {"loadBalancerId": f"{NETWORK}/loadBalancers/test01", "frontendIp": "10.1.0.9"},
            "plsAlias": "demo.0b1f6471-1bf0-4dda-aec3-cb9272f09590.eastus.azure.privatelinkservice",
            "connections": [{"name": "pe.1234", "status": "Pending", "description": "Awaiting approval"}],
            "emqx": {"id": "pl-1", "status": "running", "ip": "10.2.0.7"},
            "lastRedisTest": {"at": "2026-01-01T00:00:00Z", "passed": True, "latencyMs": 3.2},
            "history": [{"at": "2026-01-01T00:00:00Z", "step": "provision", "outcome": "succeeded"}],
        }
    )
    assert LinkStatus.model_validate_json(status.model_dump_json()) == status
    assert status.model_dump(mode="json")["resources"]["loadBalancerId"] == f"{NETWORK}/loadBalancers/test01"


def test_a_json_schema_documents_the_camel_case_body() -> None:
    schema = LinkSpec.model_json_schema()
    azure = schema["$defs"]["AzureSpec"]["properties"]
    assert azure["frontendSubnetId"]["type"] == "string"
    assert "backendNicIds" in azure
    assert schema["$defs"]["AzureSpec"]["additionalProperties"] is False


def test_a_link_copies_deeply_with_its_ids() -> None:
    link = Link(spec=parse_link_spec("demo", guide_body()))
    copied = link.model_copy(deep=True)
    assert copied.spec.load_balancer_id == link.spec.load_balancer_id
    assert copied.with_spec(link.spec).spec.azure.backend_nic_ids == link.spec.azure.backend_nic_ids
