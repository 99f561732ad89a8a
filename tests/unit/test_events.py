"""shared.events: what a run records in the outbox, and that every event is the documented CloudEvent."""

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from shared.events import SOURCE, EventType, as_cloud_event, pending_event
from shared.model import MAX_OUTBOX, Phase
from tests.unit.runs import START, Clock, a_run

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "functions" / "events.schema.json").read_text())
TOPIC = {"EVENTGRID_TOPIC_ENDPOINT": "https://evgt-demo.eastus-1.eventgrid.azure.net/api/events"}
EXTRA: dict[EventType, dict[str, str]] = {
    EventType.ALIAS_READY: {"alias": "pls-demo.7f3b1f2c-0000-4000-8000-000000000000.eastus.azure.privatelinkservice"},
    EventType.CONNECTION_APPROVED: {"connection": "pe-emqx.0f1e2d3c"},
    EventType.CONNECTION_REJECTED: {"connection": "pe-foreign.0a1b2c3d"},
}


def test_every_event_type_is_documented_and_nothing_else() -> None:
    documented = {f"Com.Emqx.PrivateLink.{name}" for name in SCHEMA["$defs"]}
    assert documented == {event.value for event in EventType}


@pytest.mark.parametrize("event_type", list(EventType))
def test_each_event_is_the_documented_cloud_event(event_type: EventType) -> None:
    run = a_run(Clock(), Phase.RUNNING, **TOPIC)
    event = as_cloud_event("demo", pending_event(run.link, event_type, "because", START, **EXTRA.get(event_type, {})))
    Draft202012Validator(SCHEMA).validate(event)
    assert (event["source"], event["subject"], event["type"]) == (SOURCE, "links/demo", event_type.value)


def test_an_event_carries_no_secret_or_setting_value() -> None:
    secret = "s3cret-redis-password"
    run = a_run(Clock(), Phase.RUNNING, DEMO_REDIS_PASSWORD=secret, **TOPIC)
    event = as_cloud_event("demo", pending_event(run.link, EventType.LINK_RUNNING, "running", START))
    assert secret not in json.dumps(event)
    assert set(event["data"]) <= set(SCHEMA["$defs"]["LinkRunning"]["properties"]["data"]["properties"])


def test_a_phase_change_records_its_event_in_the_outbox_with_a_stable_id() -> None:
    run = a_run(Clock(), Phase.CONNECTING, **TOPIC)
    run.move_to(Phase.RUNNING, "EMQX reports the PrivateLink running")
    run.move_to(Phase.FAILED, "EMQX reports the PrivateLink failed")
    outbox = run.link.status.outbox
    assert [(e.type, e.data["reason"], e.data["phase"]) for e in outbox] == [
        (EventType.LINK_RUNNING.value, "EMQX reports the PrivateLink running", "running"),
        (EventType.LINK_FAILED.value, "EMQX reports the PrivateLink failed", "failed"),
    ]
    assert len({e.id for e in outbox}) == 2
    assert as_cloud_event("demo", outbox[0])["id"] == outbox[0].id


@pytest.mark.parametrize("settings", [{}, TOPIC], ids=["no topic", "dry run"])
def test_nothing_is_recorded_without_a_topic_or_in_a_dry_run(settings: dict[str, Any]) -> None:
    run = a_run(Clock(), Phase.CONNECTING, dry_run=bool(settings), **settings)
    run.emit(EventType.DRIFT_DETECTED, "the PLS was deleted")
    assert run.link.status.outbox == []


def test_the_outbox_keeps_the_newest_events_when_full() -> None:
    run = a_run(Clock(), Phase.RUNNING, **TOPIC)
    for number in range(MAX_OUTBOX + 3):
        run.emit(EventType.DRIFT_DETECTED, f"note {number}")
    reasons = [e.data["reason"] for e in run.link.status.outbox]
    assert len(reasons) == MAX_OUTBOX
    assert reasons[0] == "note 3" and reasons[-1] == f"note {MAX_OUTBOX + 2}"
