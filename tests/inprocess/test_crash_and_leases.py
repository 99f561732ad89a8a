"""Crashes and leases, in seconds: a host killed in the middle of a PUT, and runs that find a link held.

A dead run's lease outlives it by the run budget plus LEASE_MARGIN_SECONDS (`shared.run_frame.leased`); here the
app's clock jumps over that instead of waiting it out.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.errors import LinkBusyError
from shared.lifecycle import delete_link, put_link, register_link, run_monitor
from shared.model import Link, Phase, parse_link_spec
from shared.registration import same_alias
from shared.run import Services
from tests.bodies import link_body
from tests.inprocess.cloud import DyingHost, InProcessCloud, exactly
from tests.waiting import eventually_async

# The dying host's NIC PUT is answered this long (real seconds) after it was sent: long enough to kill it then.
SLOW_NIC_SECONDS = 5.0
WAIT_SECONDS = 30.0


def lease_seconds(cloud: InProcessCloud) -> float:
    """How long a lease outlives its holder, and a second more."""
    return cloud.settings.provision_budget_seconds + cloud.settings.lease_margin_seconds + 1


async def link_or_none(services: Services, name: str) -> Link | None:
    links, _ = await services.store.list_links(1000)
    return next((link for link in links if link.name == name), None)


async def monitor_until(services: Services, name: str, check: Callable[[Link | None], bool], what: str) -> Link | None:
    """Run the monitor (as the timer would) until the stored link passes `check`."""

    async def monitored() -> Link | None:
        await run_monitor(services)
        return await link_or_none(services, name)

    return await eventually_async(monitored, what, WAIT_SECONDS, accept=check)


def phase_is(*phases: Phase) -> Callable[[Link | None], bool]:
    return lambda link: link is not None and link.status.phase in phases


async def test_a_host_killed_in_the_middle_of_a_put_is_taken_over_once_its_lease_runs_out(
    cloud: InProcessCloud,
) -> None:
    name = "crash"
    network = await cloud.network()
    body = link_body(network, cloud.deployment)
    spec = parse_link_spec(name, body)
    slow_nic = await cloud.arm_fault("PUT", exactly(network.nic_id), "slow", 1, delaySeconds=SLOW_NIC_SECONDS)
    dying = DyingHost(cloud)
    try:
        dying.start(lambda services: put_link(services, name, body))
        # Killed between steps: the load balancer is written, the NIC PUT after it is still unanswered.
        await eventually_async(lambda: cloud.fault_fired(slow_nic), "the PUT to reach the NIC", WAIT_SECONDS)
        dying.kill()
        assert dying.outcome is not None and "stopped" in str(dying.outcome), dying.outcome

        async with cloud.host() as services:
            stored = await services.store.get_link(name)
            assert (stored.generation, stored.spec, stored.status.phase) == (1, spec, Phase.PROVISIONING)
            assert await services.network.get_load_balancer(spec.load_balancer_id) is not None

            # The dead run still holds the link: a PUT is accepted and left to later runs, the monitor passes it by.
            again = await put_link(services, name, body)
            assert again.status == 202, again.body
            report = await run_monitor(services)
            assert report.skipped == {name: "another run is working on it"}, report

            cloud.clock.jump(lease_seconds(cloud))
            await monitor_until(services, name, phase_is(Phase.PROVISIONED), "the link provisioned")
            stored = await services.store.get_link(name)
            assert (stored.generation, stored.spec) == (1, spec)
            # The dead run's load balancer is adopted by the next run rather than made again.
            assert len(await cloud.arm_writes_to(str(spec.load_balancer_id))) == 1

            registered = await register_link(services, name)
            assert registered.status in (200, 202), registered.body
            running = await monitor_until(services, name, phase_is(Phase.RUNNING), "the link running")
            assert running is not None and running.status.pls_alias is not None
            # One of each: the dead run's half-done work was finished, not made twice.
            listed = await services.network.list_private_link_services(network.subscription_id, network.resource_group)
            assert [pls["name"] for pls in listed] == [spec.private_link_service_id.name]
            privatelinks = await services.emqx.list_private_links(spec.emqx.deployment_id)
            assert len([r for r in privatelinks if same_alias(r, running.status.pls_alias)]) == 1
            audits = await services.store.list_audit(name)
            approvals = [a for a in audits if a.action == "decide connection" and a.decision == "approve"]
            assert len(approvals) == 1, approvals

            removed = await delete_link(services, name)
            assert removed.status in (202, 204), removed.body
            await monitor_until(services, name, lambda link: link is None, "the link gone")
            assert await services.network.get_load_balancer(spec.load_balancer_id) is None
            assert await services.network.get_private_link_service(spec.private_link_service_id) is None
            privatelinks = await services.emqx.list_private_links(spec.emqx.deployment_id)
            assert [r for r in privatelinks if same_alias(r, running.status.pls_alias)] == []
    finally:
        dying.bury()


async def test_a_link_held_by_another_run_is_busy_until_that_lease_runs_out(cloud: InProcessCloud) -> None:
    name = "held"
    network = await cloud.network()
    body = link_body(network, cloud.deployment)
    async with cloud.host() as services:
        assert (await put_link(services, name, body)).status == 201
        held = await services.store.try_lease(name, "another-host", lease_seconds(cloud) - 1, cloud.clock.now())
        assert held

        # An HTTP call waits (10 s of app time) for the other run, then says busy; the monitor does not wait.
        with pytest.raises(LinkBusyError) as busy:
            await register_link(services, name)
        assert (busy.value.http_status, busy.value.code, busy.value.retry_after) == (503, "LinkBusy", 5)
        assert (await run_monitor(services)).skipped == {name: "another run is working on it"}
        with pytest.raises(LinkBusyError):
            await delete_link(services, name)  # the holder is no teardown: nothing to answer 202 for

        cloud.clock.jump(lease_seconds(cloud))
        report = await run_monitor(services)
        assert name not in report.skipped and name not in report.errors, report
        answer = await register_link(services, name)
        assert answer.status in (200, 202), answer.body
        await monitor_until(services, name, phase_is(Phase.RUNNING), "the link running")
        removed = await delete_link(services, name)
        assert removed.status in (202, 204), removed.body
        await monitor_until(services, name, lambda link: link is None, "the link gone")
