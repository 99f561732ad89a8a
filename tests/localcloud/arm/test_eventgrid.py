"""Event Grid over the emulated subscriptions, delivering to a real webhook (a Starlette app on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.mgmt.network import NetworkManagementClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from localcloud.serving import BackgroundServer
from tests.localcloud.arm.support import (
    EMQX_SUB,
    PROVIDER_SUB,
    RG,
    Cloud,
    endpoint,
    load,
    provision,
    shape_problems,
    vnet_body,
)
from tests.waiting import eventually

# How long a delivery may take to show, and how often to look.
WAIT_SECONDS, POLL_SECONDS = 5.0, 0.01
WRITE = "Microsoft.Resources.ResourceWriteSuccess"
DELETE = "Microsoft.Resources.ResourceDeleteSuccess"
PROVIDER_GROUP = f"/subscriptions/{PROVIDER_SUB}/resourceGroups/{RG}"


class Webhook:
    """Answers the validation handshake (unless told not to) and fails the first `failures` notifications."""

    def __init__(self, *, validates: bool = True, failures: int = 0):
        self.validates = validates
        self.failures = failures
        self.received: list[tuple[dict[str, str], list[dict[str, Any]]]] = []

    def notifications(self) -> list[tuple[dict[str, str], dict[str, Any]]]:
        return [(h, body[0]) for h, body in self.received if h.get("aeg-event-type") == "Notification"]

    def app(self) -> Starlette:
        async def receive(request: Request) -> Response:
            body = await request.json()
            self.received.append((dict(request.headers), body))
            if request.headers.get("aeg-event-type") == "SubscriptionValidation":
                if not self.validates:
                    return Response(status_code=403)
                return JSONResponse({"validationResponse": body[0]["data"]["validationCode"]})
            if self.failures:
                self.failures -= 1
                return Response(status_code=500)
            return Response(status_code=200)

        return Starlette(routes=[Route("/runtime/webhooks/eventgrid", receive, methods=["POST"])])


def served(hook: Webhook, port: int = 0) -> BackgroundServer:
    return BackgroundServer(hook.app(), port=port)


def endpoint_of(server: BackgroundServer) -> str:
    return f"{server.base_url}/runtime/webhooks/eventgrid?functionName=approve&code=secret-function-key"


@pytest.fixture
def webhook() -> Iterator[tuple[Webhook, str]]:
    hook = Webhook()
    with served(hook) as server:
        yield hook, endpoint_of(server)


def subscribe(cloud: Cloud, name: str, endpoint: str, **filters: Any) -> Any:
    with cloud.control() as control:
        return control.put(f"/localcloud/eventgrid/subscriptions/{name}", json={"endpoint": endpoint, **filters})


def topic(cloud: Cloud, what: str) -> list[dict[str, Any]]:
    with cloud.control() as control:
        return list(control.get(f"/localcloud/eventgrid/{what}").json()[what])


def settings(cloud: Cloud, **changes: Any) -> None:
    with cloud.control() as control:
        assert control.put("/localcloud/eventgrid/settings", json=changes).status_code == 200


def documented(relative: str) -> Any:
    """A documented event sample; its `claims` are a user's token claims, a managed identity's differ."""
    events = load(relative)
    for event in events:
        event["data"]["claims"] = {}
    return events


def make_vnet(network: NetworkManagementClient, name: str = "vnet") -> str:
    return str(network.virtual_networks.begin_create_or_update(RG, name, vnet_body("10.1.0.0/16")).result().id)


def test_subscriptions_start_with_the_validation_handshake(cloud: Cloud, webhook: tuple[Webhook, str]):
    hook, url = webhook
    answer = subscribe(cloud, "approve", url)
    assert answer.status_code == 201
    assert answer.json()["endpointBaseUrl"] == url.split("?")[0]
    [(headers, body)] = hook.received
    assert headers["aeg-event-type"] == "SubscriptionValidation"
    assert shape_problems(body, load("eventgrid/subscription-validation-event.json")) == []
    assert [s["name"] for s in topic(cloud, "subscriptions")] == ["approve"]
    assert subscribe(cloud, "approve", url).status_code == 200

    refusing = Webhook(validates=False)
    with served(refusing) as server:
        answer = subscribe(cloud, "refused", endpoint_of(server))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "Url validation"
    assert "secret-function-key" not in answer.text
    assert [s["name"] for s in topic(cloud, "subscriptions")] == ["approve"]


def test_writes_are_delivered_with_the_event_grid_schema(
    cloud: Cloud,
    network: NetworkManagementClient,
    emqx_network: NetworkManagementClient,
    webhook: tuple[Webhook, str],
):
    hook, url = webhook
    assert (
        subscribe(cloud, "approve", url, subjectBeginsWith=PROVIDER_GROUP, includedEventTypes=[WRITE]).status_code
        == 201
    )
    vnet_id = make_vnet(network)
    eventually(lambda: len(hook.notifications()) == 1, "one notification", WAIT_SECONDS, interval=POLL_SECONDS)
    headers, event = hook.notifications()[0]
    assert shape_problems([event], documented("eventgrid/resource-write-success.eventgrid-schema.json")) == []
    claims = set(event["data"]["claims"])
    assert {"appid", "aud", "iss", "http://schemas.microsoft.com/identity/claims/objectidentifier"} <= claims
    assert (event["eventType"], event["subject"], event["topic"]) == (WRITE, vnet_id, PROVIDER_GROUP)
    assert (event["dataVersion"], event["metadataVersion"]) == ("2", "1")
    data = event["data"]
    assert data["operationName"] == "Microsoft.Network/virtualNetworks/write"
    assert (data["resourceUri"], data["resourceProvider"], data["status"]) == (
        vnet_id,
        "Microsoft.Network",
        "Succeeded",
    )
    assert (data["subscriptionId"], data["authorization"]["action"]) == (PROVIDER_SUB, data["operationName"])
    expected = load("eventgrid/webhook-delivery-headers.json")["notification"]
    for name in ("aeg-event-type", "aeg-delivery-count", "aeg-data-version", "aeg-metadata-version"):
        assert headers[name] == expected[name]
    assert headers["aeg-subscription-name"] == "APPROVE"
    assert headers["content-type"] == expected["Content-Type"]

    emqx_network.virtual_networks.begin_create_or_update(
        "emqx-privatelink", "emqx-vnet", vnet_body("10.200.0.0/16")
    ).result()
    network.virtual_networks.begin_delete(RG, "vnet").result()
    eventually(
        lambda: any(e["eventType"] == DELETE for e in topic(cloud, "events")),
        "the delete event",
        WAIT_SECONDS,
        interval=POLL_SECONDS,
    )
    deleted = next(e for e in topic(cloud, "events") if e["eventType"] == DELETE)
    assert shape_problems([deleted], documented("eventgrid/resource-delete-success.eventgrid-schema.json")) == []
    assert deleted["data"]["httpRequest"]["method"] == "DELETE"
    assert {e["data"]["subscriptionId"] for e in topic(cloud, "events")} == {PROVIDER_SUB, EMQX_SUB}
    assert len(hook.notifications()) == 1  # the EMQX write and the delete are filtered out


def test_a_failed_delivery_is_retried(cloud: Cloud, network: NetworkManagementClient):
    hook = Webhook(failures=1)
    with served(hook) as server:
        assert subscribe(cloud, "approve", endpoint_of(server), includedEventTypes=[WRITE]).status_code == 201
        make_vnet(network)
        eventually(lambda: len(hook.notifications()) == 2, "two deliveries", WAIT_SECONDS, interval=POLL_SECONDS)
    first, second = hook.notifications()
    assert first[1]["id"] == second[1]["id"]
    assert (first[0]["aeg-delivery-count"], second[0]["aeg-delivery-count"]) == ("0", "1")
    attempts = [(d["attempt"], d["status"]) for d in topic(cloud, "deliveries") if d["eventId"] == first[1]["id"]]
    assert attempts == [(1, 500), (2, 200)]


def test_unreachable_endpoints_are_retried_until_they_answer(cloud: Cloud, network: NetworkManagementClient):
    hook = Webhook()
    with served(hook) as server:
        url, port = endpoint_of(server), server.port
        assert subscribe(cloud, "approve", url, includedEventTypes=[WRITE]).status_code == 201
    make_vnet(network)
    eventually(
        lambda: any(d["error"] for d in topic(cloud, "deliveries")),
        "a failed delivery",
        WAIT_SECONDS,
        interval=POLL_SECONDS,
    )
    with served(hook, port=port):
        eventually(lambda: len(hook.notifications()) == 1, "one notification", WAIT_SECONDS, interval=POLL_SECONDS)
    outcomes = [(d["status"], bool(d["error"])) for d in topic(cloud, "deliveries")]
    assert outcomes[0] == (None, True) and outcomes[-1] == (200, False)


def test_duplicates_on_demand(cloud: Cloud, network: NetworkManagementClient, webhook: tuple[Webhook, str]):
    hook, url = webhook
    settings(cloud, duplicates=2)
    assert subscribe(cloud, "approve", url, includedEventTypes=[WRITE]).status_code == 201
    make_vnet(network)
    eventually(lambda: len(hook.notifications()) == 3, "three deliveries", WAIT_SECONDS, interval=POLL_SECONDS)
    assert len({event["id"] for _, event in hook.notifications()}) == 1


@pytest.mark.parametrize("pending_events", [False, True])
def test_pending_connections_raise_an_event_only_when_switched_on(
    cloud: Cloud,
    network: NetworkManagementClient,
    emqx_network: NetworkManagementClient,
    webhook: tuple[Webhook, str],
    pending_events: bool,
):
    hook, url = webhook
    settings(cloud, pendingConnectionEvents=pending_events)
    prefix = f"{PROVIDER_GROUP}/providers/Microsoft.Network/privateLinkServices/"
    assert subscribe(cloud, "approve", url, subjectBeginsWith=prefix, includedEventTypes=[WRITE]).status_code == 201
    link = provision(network)
    eventually(  # the PLS write itself
        lambda: len(hook.notifications()) == 1, "one notification", WAIT_SECONDS, interval=POLL_SECONDS
    )
    endpoint(emqx_network, link.alias)
    connection = next(iter(network.private_link_services.list_private_endpoint_connections(RG, "demo")))
    if pending_events:
        eventually(lambda: len(hook.notifications()) == 2, "two notifications", WAIT_SECONDS, interval=POLL_SECONDS)
        assert hook.notifications()[1][1]["subject"] == connection.id
    network.private_link_services.update_private_endpoint_connection(
        RG, "demo", connection.name, {"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}
    )
    eventually(
        lambda: (
            hook.notifications()[-1][1]["data"]["operationName"].endswith("privateEndpointConnections/write")
            and len(hook.notifications()) == 2 + pending_events
        ),
        "the approval's notification",
        WAIT_SECONDS,
        interval=POLL_SECONDS,
    )
    approval = hook.notifications()[-1][1]
    assert approval["subject"] == connection.id
    assert (
        shape_problems([approval], load("synthetic/provider-approves-connection.eventgrid-schema.SYNTHETIC.json")) == []
    )
