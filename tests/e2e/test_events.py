"""The life-cycle events the app publishes to its Event Grid custom topic (localcloud's), as the topic received them:
a whole life in order, nothing lost or reordered while publishing is down, and no secret in any of them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from localcloud.stack import LINK_SECRET_SETTINGS
from tests.e2e.world import World
from tests.waiting import eventually

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "functions" / "events.schema.json").read_text())
PREFIX = "Com.Emqx.PrivateLink."
# A whole life in api mode: the connection's approval and EMQX's running may come in the same run.
LIFE = ["LinkProvisioned", "ConnectionApproved", "LinkRunning", "LinkDeleted"]


def topic_control(world: World) -> str:
    return str(world.endpoints["eventgrid"]["control"])


def received(world: World, name: str) -> list[dict[str, Any]]:
    """The events about link `name` the topic took, in the order it took them."""
    answer = world.cloud.get(f"{topic_control(world)}/events")
    answer.raise_for_status()
    return [item["event"] for item in answer.json()["events"] if item["event"]["subject"] == f"links/{name}"]


def types_of(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"].removeprefix(PREFIX) for event in events]


def deleted_told(events: list[dict[str, Any]]) -> bool:
    return "LinkDeleted" in types_of(events)


@pytest.fixture
def publishing_down(world: World) -> Iterator[None]:
    """Every publish to the topic fails (503) until the test says otherwise."""
    world.cloud.put(f"{topic_control(world)}/failure", json={"kind": "status", "status": 503}).raise_for_status()
    yield
    world.cloud.delete(f"{topic_control(world)}/failure").raise_for_status()


def live(world: World, name: str) -> None:
    world.running_link(name)
    world.delete_until_gone(name)


def test_a_whole_life_is_told_in_order_and_each_event_is_the_documented_cloud_event(world: World) -> None:
    live(world, "events-life")
    events = eventually(
        lambda: received(world, "events-life"),
        "the LinkDeleted event",
        30,
        accept=deleted_told,
    )
    types = types_of(events)
    assert [t for t in types if t in LIFE] == LIFE, types
    validator = Draft202012Validator(SCHEMA)
    for event in events:
        validator.validate(event)
    assert len({event["id"] for event in events}) == len(events), "each event once, with its own id"
    provisioned = events[types.index("LinkProvisioned")]["data"]
    assert provisioned["name"] == "events-life" and provisioned["privateLinkServiceId"].endswith("/pls-events-life")
    approved = events[types.index("ConnectionApproved")]["data"]
    assert approved["connection"] and approved["phase"] in ("awaitingApproval", "connecting", "running")


def test_no_event_carries_a_secret(world: World) -> None:
    live(world, "events-secrets")
    events = eventually(lambda: received(world, "events-secrets"), "the events", 30, accept=deleted_told)
    text = json.dumps(events)
    secrets = {world.stack.app_settings[name] for name in LINK_SECRET_SETTINGS} | {
        world.stack.app_settings["EMQX_PLATFORM_API_SECRET"]
    }
    assert [secret for secret in secrets if secret in text] == []


@pytest.mark.usefixtures("publishing_down")
def test_events_held_back_while_publishing_is_down_all_arrive_once_it_is_back_in_order(world: World) -> None:
    name = "events-outage"
    live(world, name)
    assert received(world, name) == [], "the topic refused every publish"
    # The removed link's record waits for its LinkDeleted event, hidden from the API: gone for every call.
    world.run_monitor()
    assert world.api.get(f"/links/{name}").status_code == 404
    assert world.api.delete(f"/links/{name}").status_code == 204
    assert world.register(name).status_code == 404
    assert world.api.post(f"/links/{name}/test").status_code == 404
    world.cloud.delete(f"{topic_control(world)}/failure").raise_for_status()

    # The monitor sends them all.
    events = eventually(
        lambda: received(world, name),
        "the held-back events",
        60,
        accept=deleted_told,
        meanwhile=world.run_monitor,
        interval=0.5,
    )
    types = types_of(events)
    assert [t for t in types if t in LIFE] == LIFE, types
    assert len({event["id"] for event in events}) == len(events), types
    times = [event["time"] for event in events]
    assert times == sorted(times), "in the order they happened"
    world.run_monitor()
    assert types_of(received(world, name)) == types, "nothing sent twice once the outbox was emptied"
