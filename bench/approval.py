"""`approval_latency_s`: how long a Pending connection from EMQX waits before ARM shows it Approved.

Console mode, so the register call does not wait for the connection itself: the operator's console action
(localcloud's EMQX console API) makes EMQX create its private endpoint, whose connection appears Pending on
the link's PLS. A watcher reads the PLS (as an operator) every `WATCH_INTERVAL` seconds and notes when the
connection first shows Pending and when it first shows Approved.

- events on (Event Grid's Pending-connection switch on, the monitor's timer off): only the event can approve.
  The event is raised when the endpoint's PUT finishes and is delivered at once; its `eventTime` is the start
  of the "after delivery" figure.
- events off (as in Azure; the monitor on `MONITOR_SCHEDULE`): the monitor's next run finds the connection.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.client import BenchError, Client
from bench.host_log import runs_of
from bench.preparation import make_emqx_network, warm_up_host
from bench.progress import say
from bench.stack import NEVER, bench_stack
from localcloud.seed import link_body, seed_guide_network

SPEED = 20.0
SAMPLES = 4
# The app's default: with no event for a new Pending connection, its period is the approval latency.
MONITOR_SCHEDULE = "*/30 * * * * *"
MONITOR_PERIOD_SECONDS = 30.0
WATCH_INTERVAL = 0.025
EVENT_TARGET_SECONDS = 1.0
APPROVAL_TIMEOUT = 120.0


def _event_epoch(stamp: str) -> float:
    """Event Grid's `eventTime` (seven fractional digits) as epoch seconds."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return seconds + (float(f"0.{fraction}") if fraction else 0.0)


async def _watch(client: Client, pls_path: str, seen: dict[str, float]) -> None:
    while True:
        pls = await client.arm.get(pls_path)
        now = time.time()
        for connection in (pls or {}).get("properties", {}).get("privateEndpointConnections", []):
            status = connection["properties"]["privateLinkServiceConnectionState"]["status"]
            seen.setdefault(status, now)
            seen.setdefault("id", connection["id"])
        if "Approved" in seen:
            return
        await asyncio.sleep(WATCH_INTERVAL)


async def _event_time(client: Client, connection_id: str) -> float | None:
    answer = await client.cloud.get(f"{client.arm_url}/localcloud/eventgrid/events")
    answer.raise_for_status()
    for event in answer.json()["events"]:
        # The first event about the connection is its creation (the approval's own event comes later).
        if event.get("subject", "").lower() == connection_id.lower():
            return _event_epoch(event["eventTime"])
    return None


async def _monitor_share(host_log: Path, pending: float, approved: float) -> dict[str, float]:
    """Split the wait: until the monitor run that approved began, and within that run."""
    async with asyncio.timeout(APPROVAL_TIMEOUT):
        # The approving run is the one under way at the approval; its `Executed` line comes once it is over.
        while True:
            spans = [span for span in runs_of(host_log, "monitor") if span.start <= approved <= span.end]
            if spans:
                break
            await asyncio.sleep(0.1)
    began = spans[-1].start
    return {"until_the_run_s": max(0.0, began - pending), "within_the_run_s": approved - began}


async def _sample(client: Client, host_log: Path, index: int, events: bool) -> dict[str, float]:
    name = f"bench-approval-{index}"
    network = await seed_guide_network(
        client.arm, client.cloud, client.endpoints, resource_group=f"rg-bench-approval-{index}"
    )
    if index == 0:
        await make_emqx_network(client, network.location)
        await warm_up_host(client, link_body(network, client.endpoints))
    answer = await client.put_link(name, link_body(network, client.endpoints))
    if answer.status_code not in (200, 201, 202):
        raise BenchError(f"PUT answered {answer.status_code}: {answer.text[:300]}")
    await client.wait_for_link(name, lambda link: link["status"]["phase"] != "provisioning", within=120)
    handoff = await client.register(name)
    if handoff.status_code != 200:
        raise BenchError(f"register answered {handoff.status_code}: {handoff.text[:300]}")
    pls_path = (
        f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"
        f"/providers/Microsoft.Network/privateLinkServices/pls-{name}"
    )
    seen: dict[str, float] = {}
    watching = asyncio.create_task(_watch(client, pls_path, seen))
    await client.console_create_private_link(handoff.json()["alias"])
    try:
        async with asyncio.timeout(APPROVAL_TIMEOUT):
            await watching
    except TimeoutError:
        raise BenchError(f"no approval within {APPROVAL_TIMEOUT:.0f} s (seen: {sorted(seen)})") from None
    result = {"from_pending_s": seen["Approved"] - seen["Pending"]}
    if not events:
        result |= await _monitor_share(host_log, seen["Pending"], seen["Approved"])
    if events:
        raised = await _event_time(client, str(seen["id"]))
        if raised is None:
            raise BenchError("Event Grid raised no event for the Pending connection")
        result["after_delivery_s"] = seen["Approved"] - raised
    return result


def _summary(samples: list[dict[str, float]], key: str) -> dict[str, float]:
    values = [sample[key] for sample in samples]
    return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}


async def _measure(events: bool) -> dict[str, Any]:
    schedule = NEVER if events else MONITOR_SCHEDULE
    label = "events on" if events else "events off"
    say(f"approval ({label}): console mode, speed {SPEED:g}, MONITOR_SCHEDULE '{schedule}', {SAMPLES} links")
    with bench_stack(speed=SPEED, mode="console", settings={"MONITOR_SCHEDULE": schedule}) as stack:
        async with Client(stack) as client:
            await client.set_pending_connection_events(events)
            samples = []
            for index in range(SAMPLES):
                sample = await _sample(client, stack.host_log, index, events)
                say(f"approval ({label}): link {index}: " + ", ".join(f"{k} {v:.3f}" for k, v in sample.items()))
                samples.append(sample)
    result: dict[str, Any] = {"monitor_schedule": schedule, "from_pending_s": _summary(samples, "from_pending_s")}
    if events:
        result["after_delivery_s"] = _summary(samples, "after_delivery_s")
        result["target"] = f"< {EVENT_TARGET_SECONDS} s after delivery"
        result["met"] = result["after_delivery_s"]["max"] < EVENT_TARGET_SECONDS
    else:
        result["until_the_run_s"] = _summary(samples, "until_the_run_s")
        result["within_the_run_s"] = _summary(samples, "within_the_run_s")
        result["target"] = f"<= one monitor period ({MONITOR_PERIOD_SECONDS:g} s)"
        result["met"] = result["from_pending_s"]["max"] <= MONITOR_PERIOD_SECONDS
    return result


async def measure() -> dict[str, Any]:
    on = await _measure(events=True)
    off = await _measure(events=False)
    return {
        "value": off["from_pending_s"]["max"],
        "target": f"<= {MONITOR_PERIOD_SECONDS:g} s with Pending events off (one monitor period)",
        "met": bool(off["met"] and on["met"]),
        "speed": SPEED,
        "samples": SAMPLES,
        "pending_events_on": on,
        "pending_events_off": off,
    }
