"""Publishing CloudEvents to the custom topic with the real SDK and a managed identity, and what the topic records."""

from __future__ import annotations

import json

from azure.core.messaging import CloudEvent
from azure.identity.aio import DefaultAzureCredential

from tests.localcloud.eventgrid.support import APP, BATCH, EVENTGRID_RESOURCE, Cloud, cloud_event, publisher


async def test_the_sdk_publishes_cloud_events_with_the_managed_identity(cloud: Cloud) -> None:
    async with publisher(cloud) as client:
        await client.send([cloud_event(1), cloud_event(2)])
        await client.send(
            CloudEvent(source="/emqx-azure-privatelink", type="Com.Emqx.PrivateLink.LinkRunning", data={})
        )

    [first, second] = cloud.publishes()
    assert (first["status"], first["error"], second["status"]) == (200, None, 200)
    # What the SDK sent, as the service sees it (azure-eventgrid `_build_request`, the bearer token policy).
    assert (first["method"], first["path"], first["query"]) == ("POST", "/api/events", "api-version=2018-01-01")
    assert first["contentType"] == BATCH
    assert first["credential"] == "Bearer"
    assert first["principal"]["clientId"] == APP
    assert first["principal"]["audience"] == EVENTGRID_RESOURCE
    assert first["clientRequestId"] and first["userAgent"].startswith("azsdk-python-eventgrid")
    # The SDK re-serializes the dicts (its own key order and time format): the attributes are what was given.
    assert [(event["id"], event["subject"], event["data"]) for event in first["events"]] == [
        (cloud_event(n)["id"], cloud_event(n)["subject"], cloud_event(n)["data"]) for n in (1, 2)
    ]
    assert [event["type"] for event in second["events"]] == ["Com.Emqx.PrivateLink.LinkRunning"]
    assert "token" not in json.dumps(first).lower()

    events = cloud.events()
    assert [entry["event"]["id"] for entry in events[:2]] == [cloud_event(1)["id"], cloud_event(2)["id"]]
    assert [entry["publish"] for entry in events] == [1, 1, 2]
    assert {entry["clientId"] for entry in events} == {APP}
    assert {entry["contentType"] for entry in events} == {BATCH}


async def test_default_azure_credential_finds_the_identity_endpoint(cloud: Cloud) -> None:
    credential = DefaultAzureCredential(
        exclude_cli_credential=True,
        exclude_powershell_credential=True,
        exclude_developer_cli_credential=True,
        exclude_visual_studio_code_credential=True,
        exclude_shared_token_cache_credential=True,
    )
    async with publisher(cloud, credential) as client:
        await client.send([cloud_event(7)])
    [entry] = cloud.events()
    assert (entry["event"]["id"], entry["clientId"]) == (cloud_event(7)["id"], APP)


def test_success_is_200_with_an_empty_body_and_the_service_headers(cloud: Cloud) -> None:
    answer = cloud.post(json.dumps([cloud_event(1)]))
    # azure-sdk-for-js recording_sends_multiple_events.json: 200, Content-Length 0, api-supported-versions.
    assert (answer.status_code, answer.content) == (200, b"")
    assert answer.headers["api-supported-versions"] == "2018-01-01"
    assert answer.headers["x-ms-request-id"] == cloud.publishes()[0]["requestId"]
    assert "content-type" not in answer.headers


def test_one_event_in_structured_mode_is_accepted(cloud: Cloud) -> None:
    """`application/cloudevents+json` carries one event object; so does `application/json`."""
    for number, content_type in enumerate(
        ("application/cloudevents+json; charset=utf-8", "application/json", "application/cloudevents+json"), start=1
    ):
        assert cloud.post(json.dumps(cloud_event(number)), content_type=content_type).status_code == 200
    assert [entry["event"]["id"] for entry in cloud.events()] == [cloud_event(n)["id"] for n in (1, 2, 3)]


def test_extension_attributes_and_binary_data_pass_through(cloud: Cloud) -> None:
    event = cloud_event(1, data=None, data_base64="AAEC", traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b71")
    assert cloud.post(json.dumps([event])).status_code == 200
    assert cloud.events()[0]["event"] == event


def test_the_history_can_be_cleared(cloud: Cloud) -> None:
    assert cloud.post(json.dumps([cloud_event(1)])).status_code == 200
    with cloud.control() as control:
        assert control.delete("/events").status_code == 204
    assert (cloud.publishes(), cloud.events()) == ([], [])
    assert cloud.post(json.dumps([cloud_event(2)])).status_code == 200
    assert [entry["seq"] for entry in cloud.publishes()] == [2]
