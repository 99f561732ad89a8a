"""The stack serves the Event Grid custom topic and hands it to the app as EVENTGRID_TOPIC_ENDPOINT (on by default)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from azure.eventgrid.aio import EventGridPublisherClient
from azure.identity.aio import ManagedIdentityCredential

from localcloud.stack import APP_CLIENT_ID, Stack, StackOptions


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    options = StackOptions(workdir=tmp_path_factory.mktemp("localcloud-eventgrid"), speed=50.0, start_host=False)
    with Stack(options) as running:
        yield running


async def test_the_apps_identity_publishes_to_the_topic_the_stack_passes_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, endpoints = stack.app_settings, stack.endpoints["eventgrid"]
    assert settings["EVENTGRID_TOPIC_ENDPOINT"] == endpoints["topicEndpoint"] == f"{endpoints['baseUrl']}/api/events"
    assert endpoints["topicEndpoint"].startswith("https://127.0.0.1:")
    assert endpoints["topicId"].endswith("/providers/Microsoft.EventGrid/topics/evgt-emqx-privatelink")
    written = json.loads((stack.options.workdir / "endpoints.json").read_text())
    assert written["eventgrid"] == endpoints

    # As the app runs in the Functions host: the identity endpoint from its settings, the CA bundle it trusts.
    monkeypatch.setenv("IDENTITY_ENDPOINT", settings["IDENTITY_ENDPOINT"])
    monkeypatch.setenv("IDENTITY_HEADER", settings["IDENTITY_HEADER"])
    event = {"id": "e-1", "source": "/emqx-azure-privatelink", "type": "Com.Emqx.PrivateLink.LinkRunning"}
    async with (
        ManagedIdentityCredential() as credential,
        EventGridPublisherClient(
            settings["EVENTGRID_TOPIC_ENDPOINT"], credential, connection_verify=settings["TLS_CA_BUNDLE"]
        ) as client,
    ):
        await client.send([{**event, "specversion": "1.0"}])

    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=settings["TLS_CA_BUNDLE"])) as control:
        [entry] = (await control.get(f"{endpoints['control']}/events")).json()["events"]
    assert (entry["event"]["id"], entry["clientId"]) == ("e-1", APP_CLIENT_ID)


def test_the_topic_is_left_out_when_the_flag_is_off(tmp_path: Path) -> None:
    """Without the topic the app gets no EVENTGRID_TOPIC_ENDPOINT, so it records and publishes no events."""
    with Stack(StackOptions(workdir=tmp_path, eventgrid_topic=False, start_host=False)) as stack:
        assert "eventgrid" not in stack.endpoints
        assert "EVENTGRID_TOPIC_ENDPOINT" not in stack.app_settings
        assert "eventgrid" not in json.loads((tmp_path / "endpoints.json").read_text())
