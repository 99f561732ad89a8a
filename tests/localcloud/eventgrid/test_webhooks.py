"""Webhook subscriptions of the custom topic: the CloudEvents abuse-protection handshake, then each event in the
CloudEvents schema, one per POST, retried on Event Grid's schedule (sped up)."""

from __future__ import annotations

import json
from typing import Any

from tests.localcloud.eventgrid.support import (
    POLL_SECONDS,
    WAIT_SECONDS,
    Cloud,
    Webhook,
    cloud_event,
    publisher,
    served,
)
from tests.waiting import eventually

CLOUDEVENT = "application/cloudevents+json; charset=utf-8"


def subscribe(cloud: Cloud, name: str, endpoint: str, **options: Any) -> Any:
    with cloud.control() as control:
        return control.put(f"/subscriptions/{name}", json={"endpoint": endpoint, **options})


def deliveries(cloud: Cloud) -> list[dict[str, Any]]:
    with cloud.control() as control:
        return list(control.get("/deliveries").json()["deliveries"])


async def test_a_subscription_handshakes_then_receives_each_cloud_event_as_published(cloud: Cloud) -> None:
    hook = Webhook()
    with served(hook) as url:
        answer = subscribe(cloud, "portal", url)
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert (body["eventDeliverySchema"], body["endpointBaseUrl"]) == ("CloudEventSchemaV1_0", url.split("?")[0])
        [(method, headers, _)] = hook.requests
        assert (method, headers["webhook-request-origin"]) == ("OPTIONS", "eventgrid.azure.net")

        async with publisher(cloud) as client:
            await client.send([cloud_event(1), cloud_event(2)])
        eventually(lambda: len(hook.deliveries()) == 2, "two deliveries", WAIT_SECONDS, interval=POLL_SECONDS)

    received = [json.loads(body) for _, body in hook.deliveries()]
    # One event object per POST (not an array), in structured mode.
    assert sorted(event["id"] for event in received) == [cloud_event(1)["id"], cloud_event(2)["id"]]
    assert all(event["specversion"] == "1.0" and event["source"] == "/emqx-azure-privatelink" for event in received)
    headers, _ = hook.deliveries()[0]
    assert headers["content-type"] == CLOUDEVENT
    assert (headers["aeg-event-type"], headers["aeg-subscription-name"]) == ("Notification", "PORTAL")
    assert (headers["aeg-delivery-count"], headers["aeg-metadata-version"]) == ("0", "1.0")
    assert "aeg-data-version" not in headers  # it does not apply to CloudEvents
    assert headers["origin"] == "eventgrid.azure.net"
    assert {(d["subscription"], d["attempt"], d["status"]) for d in deliveries(cloud)} == {("portal", 1, 200)}


def test_an_endpoint_that_does_not_consent_is_not_subscribed(cloud: Cloud) -> None:
    """The consent is the WebHook-Allowed-Origin header: a 200 without it is a refusal."""
    hook = Webhook(grants=False)
    with served(hook) as url:
        answer = subscribe(cloud, "silent", url)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "Url validation"
    assert "Http OPTIONS request failed with response code 200" in error["message"]
    assert "secret-webhook-key" not in answer.text
    with cloud.control() as control:
        assert control.get("/subscriptions").json() == {"subscriptions": []}

    # An endpoint that does not handle OPTIONS at all (405) is refused too; so is one nobody listens on.
    with served(Webhook()) as url:
        answer = subscribe(cloud, "wrongpath", url.replace("/api/updates", "/api/elsewhere"))
    assert answer.status_code == 400
    assert subscribe(cloud, "gone", url).status_code == 400


def test_a_custom_topic_delivers_only_in_the_cloudevents_schema(cloud: Cloud) -> None:
    """A CloudEvents-input topic delivers CloudEvents (articles/event-grid/cloud-event-schema.md)."""
    with served(Webhook()) as url:
        answer = subscribe(cloud, "legacy", url, eventDeliverySchema="EventGridSchema")
    assert answer.status_code == 400
    assert "CloudEventSchemaV1_0" in answer.json()["error"]["message"]


async def test_failed_deliveries_are_retried_until_taken(cloud: Cloud) -> None:
    hook = Webhook(failures=2)
    with served(hook) as url:
        assert subscribe(cloud, "retried", url).status_code == 201
        async with publisher(cloud) as client:
            await client.send([cloud_event(1)])
        eventually(lambda: len(hook.deliveries()) == 3, "three attempts", WAIT_SECONDS, interval=POLL_SECONDS)
    assert [headers["aeg-delivery-count"] for headers, _ in hook.deliveries()] == ["0", "1", "2"]
    assert [(d["attempt"], d["status"]) for d in deliveries(cloud)] == [(1, 503), (2, 503), (3, 200)]
    assert {json.loads(body)["id"] for _, body in hook.deliveries()} == {cloud_event(1)["id"]}


async def test_filters_apply_to_the_cloud_events_type_and_subject(cloud: Cloud) -> None:
    hook = Webhook()
    with served(hook) as url:
        assert (
            subscribe(
                cloud,
                "running",
                url,
                includedEventTypes=["Com.Emqx.PrivateLink.LinkRunning"],
                subjectBeginsWith="links/orders",
            ).status_code
            == 201
        )
        async with publisher(cloud) as client:
            await client.send(
                [
                    cloud_event(1, type="Com.Emqx.PrivateLink.LinkRunning", subject="links/orders"),
                    cloud_event(2, type="Com.Emqx.PrivateLink.LinkRunning", subject="links/billing"),
                    cloud_event(3, subject="links/orders"),
                ]
            )
        eventually(lambda: len(hook.deliveries()) == 1, "one delivery", WAIT_SECONDS, interval=POLL_SECONDS)
    assert json.loads(hook.deliveries()[0][1])["id"] == cloud_event(1)["id"]
    assert len(cloud.events()) == 3  # every event was published; the filters chose what went out
