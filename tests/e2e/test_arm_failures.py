"""How the app copes with ARM's failures, over the wire: operations that end Failed with RetryableError or Canceled
are temporary (202, and the next run finishes), a resource ARM left Failed is PUT again before anything
references it, an approval whose update ended Failed is not recorded and is made again, and the alias goes to
EMQX only once the Private Link Service is Succeeded. The faults are localcloud's `lro-failed` (see
localcloud/arm/README.md, "Failures", for the shapes and their sources).
"""

from __future__ import annotations

import re
from typing import Any

from localcloud.seed import GuideNetwork
from tests.e2e.helpers import decisions, privatelinks_for
from tests.e2e.world import World
from tests.waiting import eventually

NETWORK = "/providers/Microsoft.Network"


def group_of(network: GuideNetwork) -> str:
    return f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"


def exactly(resource_id: str) -> str:
    return f"(?i){re.escape(resource_id)}$"


def writes_of(world: World, resource_id: str) -> list[dict[str, Any]]:
    """The PUTs ARM received for `resource_id`, in order."""
    return [c for c in world.calls() if c["method"] == "PUT" and c["path"].lower() == resource_id.lower()]


def provisioning_state(world: World, resource_id: str) -> str:
    resource = world.arm_get(resource_id)
    assert resource is not None, resource_id
    return str(resource["properties"]["provisioningState"])


def test_a_load_balancer_write_that_ends_retryable_is_repaired_by_the_next_run(world: World) -> None:
    network, name = world.network(), "arm-retryable"
    lb = f"{group_of(network)}{NETWORK}/loadBalancers/lb-{name}"
    world.inject_fault(method="PUT", path=exactly(lb), kind="lro-failed", code="RetryableError", count=1)

    answer = world.put_link(name, world.link_body(network))

    # Temporary: accepted, the monitor carries on (not a 502 as a permanent failure would be).
    assert answer.status_code == 202, answer.text
    assert "RetryableError" in answer.json()["message"]
    assert provisioning_state(world, lb) == "Failed"
    link = world.wait_for(name, lambda link: link["status"]["phase"] == "provisioned")
    # The next run PUT the Failed load balancer again before the NIC and the PLS that reference it.
    puts = writes_of(world, lb)
    assert [c["fault"] for c in puts] == ["lro-failed", None], puts
    assert provisioning_state(world, lb) == "Succeeded"
    assert link["status"]["plsAlias"]
    nic = world.arm_get(network.nic_id)
    assert nic is not None and nic["properties"]["provisioningState"] == "Succeeded"


def test_a_canceled_operation_is_temporary(world: World) -> None:
    network, name = world.network(), "arm-canceled"
    lb = f"{group_of(network)}{NETWORK}/loadBalancers/lb-{name}"
    # The operation ends Canceled (CanceledAndSupersededDueToAnotherOperation), as a newer write of it would make it.
    world.inject_fault(method="PUT", path=exactly(lb), kind="lro-failed", code="Canceled", count=1)

    answer = world.put_link(name, world.link_body(network))

    assert answer.status_code == 202, answer.text
    assert "Canceled" in answer.json()["message"]
    link = world.wait_for(name, lambda link: link["status"]["phase"] == "provisioned")
    assert link["status"]["plsAlias"]
    assert provisioning_state(world, lb) == "Succeeded"


def test_an_approval_whose_update_ended_failed_is_made_again_and_recorded_once(world: World) -> None:
    network, name = world.network(), "arm-approval"
    answer = world.put_link(name, world.link_body(network))
    assert answer.status_code == 201, answer.text
    pls = answer.json()["status"]["resources"]["privateLinkServiceId"]
    connections = f"(?i){re.escape(pls)}/privateEndpointConnections/[^/]+$"
    world.inject_fault(method="PUT", path=connections, kind="lro-failed", code="RetryableError", count=1)

    registered = world.register(name)

    # The approval's update ended Failed: not an approval, and no permanent failure either.
    assert registered.status_code in (200, 202, 503), registered.text

    def approved() -> dict[str, Any] | None:
        link = world.get_link(name)
        ours = [c for c in link["status"]["connections"] if c["status"] == "Approved"]
        service = world.arm_get(pls)
        assert service is not None
        settled = [
            c for c in service["properties"]["privateEndpointConnections"] if c["name"] in {o["name"] for o in ours}
        ]
        done = ours and all(c["properties"]["provisioningState"] == "Succeeded" for c in settled) and settled
        if not done:
            world.run_monitor()
        return link if done else None

    link = eventually(approved, "the connection approved again, and Succeeded in ARM", 60)
    connection = next(c for c in link["status"]["connections"] if c["status"] == "Approved")["name"]
    puts = [c for c in world.calls() if c["method"] == "PUT" and c["path"].lower().endswith(connection.lower())]
    # Approved twice in ARM (the first update ended Failed), recorded once: the approval that took.
    assert [c["fault"] for c in puts] == ["lro-failed", None], puts
    assert [d.decision for d in decisions(world, name, connection) if d.decision == "approve"] == ["approve"]


def test_the_alias_goes_to_emqx_only_once_the_private_link_service_succeeded(world: World) -> None:
    network, name = world.network(), "arm-alias"
    answer = world.put_link(name, world.link_body(network))
    assert answer.status_code == 201, answer.text
    pls = answer.json()["status"]["resources"]["privateLinkServiceId"]
    alias = answer.json()["status"]["plsAlias"]
    # Register's PUT of the PLS (visibility to EMQX's subscription) ends Failed.
    world.inject_fault(method="PUT", path=exactly(pls), kind="lro-failed", code="RetryableError", count=1)

    first = world.register(name)

    assert first.status_code in (202, 503), first.text
    assert provisioning_state(world, pls) == "Failed"
    assert privatelinks_for(world, alias) == []  # EMQX was not handed the alias of a Failed PLS

    second = world.register(name)

    assert second.status_code == 200, second.text
    assert provisioning_state(world, pls) == "Succeeded"
    assert [c["fault"] for c in writes_of(world, pls)][-2:] == ["lro-failed", None]
    assert len(privatelinks_for(world, alias)) == 1
