"""The Event Grid webhook, fed with the documented samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from localcloud.functions_host import HostKeys
from tests.localcloud.functions_host.sample_app import RECORDER
from tests.localcloud.functions_host.support import EVENTGRID_FIXTURES, POLL_SECONDS, WAIT_SECONDS
from tests.waiting import eventually

WEBHOOK = "/runtime/webhooks/eventgrid"
NOTIFICATION = {"aeg-event-type": "Notification", "content-type": "application/json; charset=utf-8"}


def fixture(name: str) -> Any:
    return json.loads((EVENTGRID_FIXTURES / name).read_text())


def deliver(
    client: httpx.Client, code: str, body: Any, *, function: str = "on_event", **headers: str
) -> httpx.Response:
    return client.post(
        WEBHOOK, params={"functionName": function, "code": code}, json=body, headers={**NOTIFICATION, **headers}
    )


def test_the_webhook_takes_the_system_key_or_the_master_key_only(client: httpx.Client, keys: HostKeys) -> None:
    events = fixture("resource-write-success.eventgrid-schema.json")
    assert deliver(client, "", events).status_code == 401
    assert deliver(client, "wrong", events).status_code == 401
    assert deliver(client, keys.function_key, events).status_code == 401
    assert deliver(client, keys.system_key, events).status_code == 202
    assert deliver(client, keys.master_key, events).status_code == 202


def test_an_unknown_function_name_is_404(client: httpx.Client, keys: HostKeys) -> None:
    answer = deliver(client, keys.system_key, [], function="nope")
    assert (answer.status_code, answer.text) == (404, "cannot find function: 'nope'")
    # an HTTP function is no Event Grid listener either
    assert deliver(client, keys.system_key, [], function="echo").status_code == 404


def test_the_subscription_validation_handshake_answers_the_code(client: httpx.Client, keys: HostKeys) -> None:
    answer = deliver(
        client,
        keys.system_key,
        fixture("subscription-validation-event.json"),
        **{"aeg-event-type": "SubscriptionValidation"},
    )
    assert answer.status_code == 200
    assert json.loads(answer.text) == fixture("subscription-validation-response.json")
    assert RECORDER.events == []


def test_each_event_of_a_delivery_invokes_the_function_once(client: httpx.Client, keys: HostKeys) -> None:
    written = fixture("resource-write-success.eventgrid-schema.json")[0]
    deleted = fixture("resource-delete-success.eventgrid-schema.json")[0]
    answer = deliver(client, keys.system_key, [written, deleted])
    assert answer.status_code == 202
    by_id = {event.id: event for event in RECORDER.events}
    assert sorted(by_id) == sorted([written["id"], deleted["id"]])
    received = by_id[written["id"]]
    assert received.topic == written["topic"]
    assert received.subject == written["subject"]
    assert received.event_type == "Microsoft.Resources.ResourceWriteSuccess"
    assert received.event_time == datetime(2018, 7, 19, 18, 38, 4, 611735, tzinfo=UTC)
    assert received.data_version == "2"
    assert received.get_json() == written["data"]


def test_one_event_object_is_accepted_as_a_delivery_of_one(client: httpx.Client, keys: HostKeys) -> None:
    event = fixture("resource-delete-success.eventgrid-schema.json")[0]
    assert deliver(client, keys.system_key, event).status_code == 202
    assert [received.id for received in RECORDER.events] == [event["id"]]


def test_a_failing_run_answers_500_so_event_grid_retries(client: httpx.Client, keys: HostKeys) -> None:
    event = {**fixture("resource-write-success.eventgrid-schema.json")[0], "subject": "/subscriptions/x/fail"}
    answer = deliver(client, keys.system_key, [event])
    assert answer.status_code == 500
    assert answer.text == "Exception while executing function: Functions.on_event"


@pytest.mark.parametrize(("event_type", "status"), [("Unsubscribe", 202), ("", 400), ("Something", 400)])
def test_other_event_types(client: httpx.Client, keys: HostKeys, event_type: str, status: int) -> None:
    answer = deliver(client, keys.system_key, [], **{"aeg-event-type": event_type})
    assert answer.status_code == status


def test_the_admin_api_runs_an_event_grid_function_with_its_input(client: httpx.Client, keys: HostKeys) -> None:
    event = fixture("resource-write-success.eventgrid-schema.json")[0]
    answer = client.post(
        "/admin/functions/on_event", headers={"x-functions-key": keys.master_key}, json={"input": json.dumps(event)}
    )
    assert answer.status_code == 202
    eventually(lambda: len(RECORDER.events) == 1, "the event", WAIT_SECONDS, interval=POLL_SECONDS)
    assert RECORDER.events[0].subject == event["subject"]
