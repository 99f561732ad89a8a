"""Register with EMQX and approve endpoint connections by policy, against localcloud over the wire.

Events are only hints: these tests show that an Event Grid delivery (when Azure sends one) or one monitor run
approves EMQX's Pending connection, and that nothing an event claims, nor a replay of it, approves anything
else. The connections "from another subscription" are private endpoints the operator's identity creates in the
provider's own subscription, which is not EMQX's: the Private Link Service is visible to EMQX's subscription
only, so ARM itself refuses an endpoint from any third subscription.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from localcloud.seed import GuideNetwork
from tests.e2e.helpers import decisions, platform_auth, privatelinks_for
from tests.e2e.world import World, stack_world
from tests.waiting import eventually

CONNECTION_WRITE = "Microsoft.Resources.ResourceWriteSuccess"
WAIT_SECONDS = 20.0


# -- helpers ---------------------------------------------------------------------------------------------


def provisioned(world: World, name: str, body: dict[str, Any]) -> None:
    """PUT a link and have it provisioned within that call, so that no monitor run is started for it."""
    answer = world.put_link(name, body)
    assert answer.status_code == 201, answer.text


def registered(world: World, name: str) -> tuple[GuideNetwork, dict[str, Any]]:
    """A provisioned link, registered; the register answer."""
    network = world.network()
    provisioned(world, name, world.link_body(network))
    answer = world.register(name)
    assert answer.status_code == 200, answer.text
    return network, answer.json()


def run_monitor_once(world: World, name: str) -> None:
    """One monitor run, waited for: it saves every link it checks, link `name` among them."""
    before = world.get_link(name)["status"]["updatedAt"]
    world.run_monitor()
    eventually(
        lambda: world.get_link(name)["status"]["updatedAt"] != before, f"a monitor run to check {name}", WAIT_SECONDS
    )


def pls_id(answer: dict[str, Any]) -> str:
    return str(answer["link"]["status"]["resources"]["privateLinkServiceId"])


def connections(world: World, pls: str) -> list[dict[str, Any]]:
    service = world.arm_get(pls)
    assert service is not None
    return list(service["properties"]["privateEndpointConnections"])


def status_of(connection: dict[str, Any]) -> str:
    return str(connection["properties"]["privateLinkServiceConnectionState"]["status"])


def connection_from(world: World, pls: str, subscription_id: str) -> dict[str, Any] | None:
    prefix = f"/subscriptions/{subscription_id}/".lower()
    return next(
        (c for c in connections(world, pls) if c["properties"]["privateEndpoint"]["id"].lower().startswith(prefix)),
        None,
    )


def emqx_connection(world: World, pls: str) -> dict[str, Any] | None:
    return connection_from(world, pls, world.emqx_subscription_id)


def approved_emqx_connection(world: World, pls: str) -> dict[str, Any] | None:
    connection = emqx_connection(world, pls)
    return connection if connection is not None and status_of(connection) == "Approved" else None


def emqx_base(world: World) -> str:
    return str(world.emqx["consoleUrl"]).removesuffix("/localcloud/console/privatelinks")


def an_hour_passes_at_emqx(world: World) -> None:
    """EMQX allows 6 PrivateLink creations per hour per key, and the session's tests share one key: move EMQX's
    clock an hour on before creating one, so that this test does not depend on how many others ran before."""
    world.emqx_call("POST", f"{emqx_base(world)}/localcloud/clock", json={"advanceSeconds": 3600}).raise_for_status()


def create_privatelink_through_api(world: World, alias: str) -> dict[str, Any]:
    """What api-mode register POSTs: the PrivateLink contract on the Platform API."""
    an_hour_passes_at_emqx(world)
    answer = world.emqx_call(
        "POST",
        f"{world.emqx['platformApiUrl']}/deployments/{world.emqx['deploymentId']}/privatelinks",
        json={"platform": "azure", "privateLinkServiceId": alias},
        auth=platform_auth(world),
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def create_privatelink_in_console(world: World, alias: str) -> dict[str, Any]:
    """The operator's "+ PrivateLink" in the EMQX console, with the alias the hand-off gave."""
    answer = world.emqx_call(
        "POST", world.emqx["consoleUrl"], json={"deploymentId": world.emqx["deploymentId"], "alias": alias}
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def foreign_endpoint(world: World, network: GuideNetwork, pls: str, name: str) -> str:
    """A private endpoint in the provider's own subscription (not EMQX's), made by the operator's identity."""
    endpoint = (
        f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"
        f"/providers/Microsoft.Network/privateEndpoints/{name}"
    )
    world.arm_put(
        endpoint,
        {
            "location": network.location,
            "properties": {
                "subnet": {"id": network.subnet_id},
                "manualPrivateLinkServiceConnections": [
                    {"name": name, "properties": {"privateLinkServiceId": pls, "requestMessage": "let me in"}}
                ],
            },
        },
    )
    return endpoint


def set_connection(world: World, connection: dict[str, Any], status: str) -> None:
    """The provider's own approve / reject on the Private Link Service, through ARM."""
    state = {"status": status, "description": f"{status} by the operator"}
    world.arm_put(connection["id"], {"properties": {"privateLinkServiceConnectionState": state}})


@contextmanager
def event_grid(world: World, **settings: Any) -> Iterator[None]:
    """localcloud's Event Grid settings for the block, restored after it."""
    url = f"{world.arm_url}/localcloud/eventgrid/settings"
    before = world.cloud.get(url).json()
    world.cloud.put(url, json=settings).raise_for_status()
    try:
        yield
    finally:
        world.cloud.put(url, json={name: before[name] for name in settings}).raise_for_status()


def published(world: World, subject_prefix: str) -> list[dict[str, Any]]:
    events = world.cloud.get(f"{world.arm_url}/localcloud/eventgrid/events").json()["events"]
    return [e for e in events if str(e["subject"]).lower().startswith(subject_prefix.lower())]


def all_deliveries(world: World) -> list[dict[str, Any]]:
    return list(world.cloud.get(f"{world.arm_url}/localcloud/eventgrid/deliveries").json()["deliveries"])


def deliveries(world: World, event_id: str) -> list[dict[str, Any]]:
    return [d for d in all_deliveries(world) if d["eventId"] == event_id]


def settle_events(world: World, subject_prefix: str) -> None:
    """Wait until every event published about `subject_prefix` was delivered (and so handled) successfully."""

    def settled() -> bool:
        events = published(world, subject_prefix)
        handled = {d["eventId"] for d in all_deliveries(world) if d["status"] is not None and d["status"] < 300}
        return all(e["id"] in handled for e in events)

    eventually(settled, f"the events about {subject_prefix} to be delivered", WAIT_SECONDS)


def deliver(world: World, event: dict[str, Any]) -> httpx.Response:
    """Deliver `event` straight to the approve function's webhook, as anyone holding the system key could."""
    keys = json.loads((world.stack.options.workdir / "host-keys.json").read_text())
    return world.host.post(
        "/runtime/webhooks/eventgrid",
        params={"functionName": "approve", "code": keys["system_key"]},
        content=json.dumps([event]),
        headers={"aeg-event-type": "Notification", "Content-Type": "application/json"},
    )


def webhook_post(world: World, event: dict[str, Any]) -> None:
    answer = deliver(world, event)
    assert answer.status_code == 202, answer.text


def forged_event(world: World, subject: str, event_type: str = CONNECTION_WRITE, **data: Any) -> dict[str, Any]:
    topic = subject.split("/providers/", 1)[0]
    return {
        "id": str(uuid.uuid4()),
        "topic": topic,
        "subject": subject,
        "eventType": event_type,
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime()),
        "data": {
            "resourceUri": subject,
            "operationName": "Microsoft.Network/privateLinkServices/privateEndpointConnections/write",
            "status": "Succeeded",
            "subscriptionId": world.emqx_subscription_id,
            **data,
        },
        "dataVersion": "2",
        "metadataVersion": "1",
    }


def error_targets(answer: Any) -> list[str | None]:
    error = answer.json()["error"]
    return [error.get("target")] + [d.get("target") for d in error.get("details") or []]


# -- a stack that rejects what it does not approve -------------------------------------------------------


@pytest.fixture(scope="module")
def strict_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from stack_world(tmp_path_factory, "console", UNMATCHED_CONNECTIONS="reject")


# -- approval: by one event delivery, or by one monitor run ---------------------------------------------


def test_a_pending_connection_is_approved_by_one_event_delivery_when_azure_sends_one(console_world: World) -> None:
    """With localcloud's Pending-event switch on, the event alone approves EMQX's connection.

    In api mode register waits for the connection itself, so it would approve it before any event came. To see
    the event path alone, this registers in console mode (which answers at once) and then creates the
    PrivateLink through the api-mode PrivateLink contract, exactly as api-mode register would; the approval path
    (event -> re-read the PLS -> policy) is the same in both modes. The monitor's timer is off and never run.
    """
    world = console_world
    _network, answer = registered(world, "by-event")
    pls = pls_id(answer)
    settle_events(world, pls)
    with event_grid(world, pendingConnectionEvents=True):
        create_privatelink_through_api(world, answer["alias"])
        approved = eventually(
            lambda: approved_emqx_connection(world, pls), "the event to approve EMQX's connection", WAIT_SECONDS
        )
        settle_events(world, pls)
    pending_event = next(e for e in published(world, approved["id"]) if e["eventType"] == CONNECTION_WRITE)
    attempts = deliveries(world, pending_event["id"])
    assert [(d["attempt"], d["status"]) for d in attempts] == [(1, 202)]
    records = decisions(world, "by-event", approved["name"])
    assert [(r.actor, r.decision) for r in records] == [(f"event {pending_event['id']}", "approve")]
    link = world.get_link("by-event")
    assert [(c["name"], c["status"]) for c in link["status"]["connections"]] == [(approved["name"], "Approved")]


def test_without_a_pending_event_one_monitor_run_approves(console_world: World) -> None:
    """Azure sends no event for a new Pending connection: it waits for the next monitor run, which approves it.

    Registered in console mode and the PrivateLink created through the api-mode contract, as in the event test.
    """
    world = console_world
    _network, answer = registered(world, "by-monitor")
    pls = pls_id(answer)
    settle_events(world, pls)
    settings = world.cloud.get(f"{world.arm_url}/localcloud/eventgrid/settings").json()
    assert settings["pendingConnectionEvents"] is False
    create_privatelink_through_api(world, answer["alias"])
    pending = eventually(lambda: emqx_connection(world, pls), "EMQX's Pending connection", WAIT_SECONDS)
    settle_events(world, pls)
    assert status_of(emqx_connection(world, pls) or {}) == "Pending"
    assert published(world, pending["id"]) == []
    assert world.get_link("by-monitor")["status"]["phase"] == "awaitingConsole"

    world.run_monitor()
    eventually(lambda: approved_emqx_connection(world, pls), "one monitor run to approve", WAIT_SECONDS)
    records = eventually(
        lambda: decisions(world, "by-monitor", pending["name"]), "the approval's audit record", WAIT_SECONDS
    )
    assert [(r.actor, r.decision) for r in records] == [("monitor", "approve")]


# -- register: the deployment is checked through the Platform API; nothing is created twice ---------------


def test_register_refuses_a_deployment_emqx_does_not_have(world: World) -> None:
    network = world.network()
    body = world.link_body(network)
    body["emqx"]["deploymentId"] = "f0f0f0f0"
    provisioned(world, "no-deployment", body)
    base = emqx_base(world)
    world.emqx_call("DELETE", f"{base}/localcloud/calls").raise_for_status()

    answer = world.register("no-deployment")
    assert answer.status_code == 400, answer.text
    assert "emqx.deploymentId" in error_targets(answer)
    calls = world.emqx_call("GET", f"{base}/localcloud/calls").json()["calls"]
    assert [(c["method"], c["path"], c["status"]) for c in calls if "f0f0f0f0" in c["path"]] == [
        ("GET", "/public_api/v1/deployments/f0f0f0f0", 404)
    ]
    assert [c for c in calls if c["method"] != "GET"] == []
    link = world.get_link("no-deployment")
    assert link["status"]["phase"] == "provisioned"
    pls = world.arm_get(link["status"]["resources"]["privateLinkServiceId"])
    assert pls is not None
    assert pls["properties"]["visibility"]["subscriptions"] == []


def test_emqx_failures_answer_502_or_503_then_one_privatelink_is_created_and_a_repeat_creates_none(
    world: World,
) -> None:
    network = world.network()
    provisioned(world, "api-register", world.link_body(network))
    base = emqx_base(world)
    deployment = world.emqx["deploymentId"]
    faults = [
        {"method": "GET", "path": f"/deployments/{deployment}$", "status": 500},
        {"method": "GET", "path": f"/deployments/{deployment}$", "status": 503},
        {"method": "POST", "path": f"/deployments/{deployment}/privatelinks$", "status": 503},
    ]
    try:
        for fault in faults:
            added = world.emqx_call("POST", f"{base}/localcloud/faults", json={"kind": "status", **fault})
            assert added.status_code == 201, added.text
            answer = world.register("api-register")
            assert answer.status_code == 502, f"{fault}: {answer.status_code} {answer.text}"
            assert "EMQX" in answer.json()["error"]["message"]
        throttled = world.emqx_call(
            "POST",
            f"{base}/localcloud/faults",
            json={
                "kind": "throttle",
                "method": "POST",
                "path": f"/deployments/{deployment}/privatelinks$",
                "retryAfter": 7,
            },
        )
        assert throttled.status_code == 201, throttled.text
        answer = world.register("api-register")
        assert answer.status_code == 503, answer.text
        assert (answer.json()["error"]["code"], answer.headers.get("Retry-After")) == ("EmqxThrottled", "7")
        fired = world.emqx_call("GET", f"{base}/localcloud/faults").json()["faults"]
        assert [f["fired"] for f in fired] == [1, 1, 1, 1]
    finally:
        world.emqx_call("DELETE", f"{base}/localcloud/faults").raise_for_status()

    an_hour_passes_at_emqx(world)
    answer = world.register("api-register")
    assert answer.status_code == 200, answer.text
    first = answer.json()
    assert (first["mode"], first["emqxSubscriptionId"]) == ("api", world.emqx_subscription_id)
    states = {c["status"] for c in first["link"]["status"]["connections"]}
    assert states == {"Approved"}, "api-mode register waits for EMQX's connection and approves it"
    world.emqx_call("DELETE", f"{base}/localcloud/calls").raise_for_status()

    again = world.register("api-register")
    assert again.status_code == 200, again.text
    assert again.json()["privateLinkId"] == first["privateLinkId"]
    calls = world.emqx_call("GET", f"{base}/localcloud/calls").json()["calls"]
    # The Redis test (a connector probe) may run once the link is running; nothing else may be created.
    assert [c for c in calls if c["method"] == "POST" and not c["path"].endswith("/connectors_probe")] == []
    assert [r["privateLinkID"] for r in privatelinks_for(world, first["alias"])] == [first["privateLinkId"]]


# -- security: the policy decides from what ARM says, never from what an event claims ----------------------


def test_connections_the_policy_does_not_allow_stay_as_they_are_whatever_an_event_claims(
    console_world: World,
) -> None:
    """Another subscription's connection stays Pending, and EMQX's connection, once the operator rejected it
    (before the app saw it), stays Rejected: through forged events, replays and a monitor run."""
    world = console_world
    network, answer = registered(world, "unapproved")
    pls = pls_id(answer)
    settle_events(world, pls)
    endpoint = foreign_endpoint(world, network, pls, "pe-outsider")
    create_privatelink_in_console(world, answer["alias"])
    emqx_pending = eventually(lambda: emqx_connection(world, pls), "EMQX's Pending connection", WAIT_SECONDS)
    set_connection(world, emqx_pending, "Rejected")
    outsider = connection_from(world, pls, network.subscription_id)
    assert outsider is not None
    assert outsider["properties"]["privateEndpoint"]["id"].lower() == endpoint.lower()
    assert status_of(outsider) == "Pending"
    settle_events(world, pls)
    world.reset_calls()

    # The connections' write events forged, one claiming the outsider's endpoint is EMQX's, and every event
    # Azure sent about the service replayed under a new id (so that de-duplication does not hide them).
    for connection in (outsider, emqx_pending):
        webhook_post(world, forged_event(world, connection["id"]))
    claimed = {
        "resourceInfo": {
            "id": outsider["id"],
            "properties": {
                "privateEndpoint": {"id": f"/subscriptions/{world.emqx_subscription_id}/resourceGroups/x/pe"},
                "privateLinkServiceConnectionState": {"status": "Pending"},
            },
        }
    }
    webhook_post(
        world,
        forged_event(world, outsider["id"], "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated", **claimed),
    )
    for event in published(world, pls):
        webhook_post(world, event | {"id": str(uuid.uuid4())})
    run_monitor_once(world, "unapproved")

    assert status_of(connection_from(world, pls, network.subscription_id) or {}) == "Pending"
    assert status_of(emqx_connection(world, pls) or {}) == "Rejected"
    assert world.arm_calls_under(pls) == []
    outsider_decisions = decisions(world, "unapproved", outsider["name"])
    assert [r.decision for r in outsider_decisions] == ["leave"]
    assert network.subscription_id in outsider_decisions[0].reason
    assert decisions(world, "unapproved", emqx_pending["name"]) == []
    link = world.get_link("unapproved")
    assert sorted(c["status"] for c in link["status"]["connections"]) == ["Pending", "Rejected"]


def test_a_connection_from_another_subscription_is_rejected_when_configured(strict_world: World) -> None:
    world = strict_world
    network, answer = registered(world, "strict")
    pls = pls_id(answer)
    foreign_endpoint(world, network, pls, "pe-strict")
    create_privatelink_in_console(world, answer["alias"])
    eventually(lambda: emqx_connection(world, pls), "EMQX's connection", WAIT_SECONDS)
    link = world.wait_for("strict", lambda link: len({c["status"] for c in link["status"]["connections"]}) == 2)
    by_status = {c["status"]: c["name"] for c in link["status"]["connections"]}
    assert set(by_status) == {"Approved", "Rejected"}
    assert status_of(connection_from(world, pls, network.subscription_id) or {}) == "Rejected"
    assert status_of(emqx_connection(world, pls) or {}) == "Approved"
    assert [r.decision for r in decisions(world, "strict", by_status["Rejected"])] == ["reject"]
    assert [r.decision for r in decisions(world, "strict", by_status["Approved"])] == ["approve"]


def test_an_event_about_a_service_the_app_does_not_manage_approves_nothing(console_world: World) -> None:
    """A look-alike PLS, even one carrying our tags and our link's name, is not the PLS the link names."""
    world = console_world
    network, _ = registered(world, "genuine")
    group = f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"
    lb = f"{group}/providers/Microsoft.Network/loadBalancers/lb-lookalike"
    world.foreign_load_balancer(network, lb)
    lookalike = f"{group}/providers/Microsoft.Network/privateLinkServices/pls-lookalike"
    service = world.arm_put(
        lookalike,
        {
            "location": network.location,
            "tags": {"managed-by": "emqx-azure-privatelink", "emqx-privatelink-link": "genuine"},
            "properties": {
                "loadBalancerFrontendIpConfigurations": [{"id": f"{lb}/frontendIPConfigurations/fe"}],
                "ipConfigurations": [
                    {
                        "name": "nat",
                        "properties": {"subnet": {"id": network.subnet_id}, "privateIPAllocationMethod": "Dynamic"},
                    }
                ],
                "visibility": {"subscriptions": [world.emqx_subscription_id]},
            },
        },
    )
    create_privatelink_in_console(world, service["properties"]["alias"])
    pending = eventually(lambda: emqx_connection(world, lookalike), "EMQX's connection to the look-alike", WAIT_SECONDS)
    world.reset_calls()

    webhook_post(world, forged_event(world, pending["id"]))
    webhook_post(world, forged_event(world, lookalike))
    run_monitor_once(world, "genuine")
    assert status_of(emqx_connection(world, lookalike) or {}) == "Pending"
    assert world.arm_calls_under(lookalike) == []


def test_a_duplicated_or_replayed_event_approves_once_with_one_audit_record(console_world: World) -> None:
    world = console_world
    _network, answer = registered(world, "replayed")
    pls = pls_id(answer)
    settle_events(world, pls)
    with event_grid(world, pendingConnectionEvents=True, duplicates=2):
        create_privatelink_in_console(world, answer["alias"])
        approved = eventually(
            lambda: approved_emqx_connection(world, pls), "the event to approve EMQX's connection", WAIT_SECONDS
        )
        settle_events(world, pls)
    pending_event = next(e for e in published(world, approved["id"]) if e["eventType"] == CONNECTION_WRITE)
    eventually(lambda: len(deliveries(world, pending_event["id"])) == 3, "the event's three deliveries", WAIT_SECONDS)
    world.reset_calls()
    webhook_post(world, pending_event)
    webhook_post(world, forged_event(world, approved["id"]))

    records = decisions(world, "replayed", approved["name"])
    assert [(r.actor, r.decision) for r in records] == [(f"event {pending_event['id']}", "approve")]
    assert world.arm_calls_under(pls) == []


def test_an_event_fails_its_delivery_only_when_the_failure_is_temporary(console_world: World) -> None:
    """Event Grid retries a failed delivery for a day: worth it for an outage, pointless for a refusal.

    Each fault covers every read of the PLS while it is armed (Event Grid's own deliveries may read it too).
    """
    world = console_world
    registered(world, "delivery")
    pls_id = world.get_link("delivery")["status"]["resources"]["privateLinkServiceId"]
    reads_of_the_pls = f"(?i)^{re.escape(pls_id)}$"
    refused = world.inject_fault(
        method="GET", path=reads_of_the_pls, kind="status", status=403, code="AuthorizationFailed", count=50
    )
    assert deliver(world, forged_event(world, pls_id)).status_code == 202
    assert {fault["id"]: fault["fired"] for fault in world.faults()}[refused] >= 1
    world.clear_faults()
    outage = world.inject_fault(method="GET", path=reads_of_the_pls, kind="status", status=503, count=50)
    failed = deliver(world, forged_event(world, pls_id))
    fired = {fault["id"]: fault["fired"] for fault in world.faults()}
    world.clear_faults()
    assert failed.status_code >= 500, failed.text
    # azure-core tried the 503 four times (retry_total=3) before the app saw it.
    assert fired[outage] >= 4
