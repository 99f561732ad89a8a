"""Console mode end to end: the hand-off, the operator's two console actions, and the app carrying on by itself."""

from __future__ import annotations

from typing import Any

from tests.e2e.world import World
from tests.waiting import eventually

WAIT_SECONDS = 30.0


def emqx_connection_status(world: World, pls_id: str) -> str | None:
    pls = world.arm_get(pls_id)
    assert pls is not None
    prefix = f"/subscriptions/{world.emqx_subscription_id}/".lower()
    for connection in pls["properties"]["privateEndpointConnections"]:
        if connection["properties"]["privateEndpoint"]["id"].lower().startswith(prefix):
            return str(connection["properties"]["privateLinkServiceConnectionState"]["status"])
    return None


def running_privatelink(world: World, private_link_id: str) -> dict[str, Any]:
    """The console's PrivateLink once EMQX shows it running, with its IP."""

    def record() -> dict[str, Any]:
        shown = dict(world.emqx_call("GET", f"{world.emqx['consoleUrl']}/{private_link_id}").json())
        assert shown["status"] in ("running", "pending"), shown
        return shown

    return eventually(
        record, "EMQX to bring the PrivateLink up", WAIT_SECONDS, accept=lambda shown: shown["status"] == "running"
    )


def test_the_console_hand_off_then_approval_ip_report_and_redis_test(console_world: World) -> None:
    world = console_world
    network = world.network()
    body = world.link_body(network)
    world.provision("console", body)

    answer = world.register("console")
    assert answer.status_code == 200, answer.text
    handoff = answer.json()
    pls_id = handoff["link"]["status"]["resources"]["privateLinkServiceId"]
    pls = world.arm_get(pls_id)
    assert pls is not None
    assert handoff["mode"] == "console"
    assert handoff["alias"] == pls["properties"]["alias"]
    assert handoff["emqxSubscriptionId"] == world.emqx_subscription_id
    assert pls["properties"]["visibility"]["subscriptions"] == [world.emqx_subscription_id]
    assert pls["properties"]["autoApproval"]["subscriptions"] == []
    assert handoff["consoleSteps"]
    assert all(isinstance(step, str) and step for step in handoff["consoleSteps"])
    assert "emqx.privateLinkIp" in handoff["consoleSteps"][-1]
    assert handoff["link"]["status"]["phase"] == "awaitingConsole"
    dialog = world.emqx_call("GET", world.emqx["consoleUrl"]).json()
    assert dialog["subscriptionId"] == handoff["emqxSubscriptionId"], "the console shows the subscription handed off"

    created = world.emqx_call(
        "POST", world.emqx["consoleUrl"], json={"deploymentId": world.emqx["deploymentId"], "alias": handoff["alias"]}
    )
    assert created.status_code == 201, created.text

    # No call to the app's API from here to the approval: only the monitor's runs, as the timer makes them.
    eventually(
        lambda: emqx_connection_status(world, pls_id) == "Approved",
        "the monitor to approve EMQX's connection",
        WAIT_SECONDS,
        meanwhile=world.run_monitor,
        interval=0.2,
    )
    link = world.wait_for("console", lambda link: link["status"]["phase"] == "connecting")
    assert [c["status"] for c in link["status"]["connections"]] == ["Approved"]

    record = running_privatelink(world, created.json()["privateLinkID"])
    body["emqx"]["privateLinkIp"] = "not-an-ip"
    refused = world.put_link("console", body)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert "emqx.privateLinkIp" in [error.get("target")] + [d.get("target") for d in error.get("details", [])]
    assert "privateLinkIp" not in world.get_link("console")["spec"]["emqx"]

    body["emqx"]["privateLinkIp"] = record["privateLinkIp"]
    reported = world.put_link("console", body)
    assert reported.status_code == 200, reported.text
    link = world.wait_for(
        "console",
        lambda link: link["status"]["phase"] == "running" and link["status"].get("lastRedisTest"),
    )
    assert link["status"]["lastRedisTest"]["passed"] is True, link["status"]["lastRedisTest"]
    assert link["status"]["health"] == "healthy"
    assert link["status"]["emqx"]["ip"] == record["privateLinkIp"]
