"""`monitor_scale`: one monitor run over 50, 200, 1000 and 5000 settled links, spread over 10 resource groups;
`monitor_reads_per_run` (at 1000 links) and `monitor_read_share` (at 5000) from the same runs.

One stack, grown from size to size (`bench.fleet`): localcloud's ARM hands out each private address after
scanning every NIC and load balancer it holds, so building N links costs O(N²) there, and building the
largest fleet once is what keeps the benchmark within minutes. The host's peak memory (VmHWM) therefore only
grows from size to size; its growth is what the figure reports. The monitor's timer is off and the Event Grid
subscription removed (the fleet's own ARM writes would otherwise each wake the approver).

The host is warmed up first (a refused PUT loads the life cycle and takes an ARM token). Then, per size, one
monitor run is triggered through the admin API and its end read from the host's log. Counted during that run
only: the app identity's ARM calls and every call EMQX served.
"""

from __future__ import annotations

import time
from typing import Any

from bench.client import BenchError, Client
from bench.fleet import LINK_GROUPS, fleet_on_a_stack
from bench.host_log import HostLog
from bench.progress import say
from bench.stack import BenchStack, vm_hwm_kib

SIZES = (50, 200, 1000, 5000)
SPEED = 100_000.0  # only the fleet's ARM writes wait on the speed: they are over at once
ARM_READS_TARGET = 1
EMQX_CALLS_TARGET = 1
RUN_TIMEOUT = 900
READS_PER_RUN_SIZE = 1000
READ_SHARE_SIZE = 5000
# ARM refills a subscription's read bucket at 25 a second (Azure docs, "Understand how Azure Resource Manager
# throttles requests"); the share is of that, for a monitor every 30 s.
ARM_READ_REFILL_PER_S = 25.0
MONITOR_PERIOD_S = 30.0
READ_SHARE_TARGET = 0.10
LIST_PATH_END = "/providers/microsoft.network/privatelinkservices"


async def _run_once(stack: BenchStack, client: Client, size: int) -> dict[str, Any]:
    pid = stack.host_pid
    hwm_before = vm_hwm_kib(pid)
    log = HostLog(stack.host_log)
    log.skip_to_end()
    await client.reset_arm_calls()
    await client.reset_emqx_calls()
    triggered = time.time()
    await client.run_monitor()
    run = await log.next_monitor_run(within=RUN_TIMEOUT)
    arm = await client.app_arm_calls()
    emqx = await client.emqx_calls()
    hwm_after = vm_hwm_kib(pid)
    if run.checked != size or run.errored or run.skipped:
        raise BenchError(
            f"the monitor checked {run.checked} of {size} links ({run.skipped} skipped, {run.errored} errored)"
        )
    reads = sum(1 for call in arm if call["kind"] in ("read", "poll"))
    # The monitor's lists: one request per page of each resource group's private link services.
    list_pages = sum(1 for call in arm if call["kind"] == "read" and call["path"].lower().endswith(LIST_PATH_END))
    writes = sum(1 for call in arm if call["kind"] in ("write", "delete", "action"))
    say(
        f"monitor scale: {size} links: {run.duration_s:.2f} s ({1000 * run.duration_s / size:.1f} ms/link), "
        f"ARM reads/link {reads / size:.2f}, writes/link {writes / size:.2f}, EMQX calls/link {len(emqx) / size:.3f}, "
        f"host VmHWM {hwm_before / 1024:.0f} -> {hwm_after / 1024:.0f} MiB"
    )
    return {
        "links": size,
        "wall_s": round(run.duration_s, 3),
        "wall_s_per_link": round(run.duration_s / size, 5),
        "trigger_to_log_line_s": round(run.seen_at - triggered, 3),
        "arm_reads": reads,
        "arm_list_pages": list_pages,
        "arm_reads_per_link": round(reads / size, 3),
        "arm_writes_per_link": round(writes / size, 3),
        "emqx_calls_per_link": round(len(emqx) / size, 4),
        "host_peak_memory_mib": round(hwm_after / 1024, 1),
    }


async def measure() -> dict[str, Any]:
    say(f"monitor scale: sizes {', '.join(map(str, SIZES))}, one stack grown from size to size, speed {SPEED:g}")
    runs = []
    async with fleet_on_a_stack(SPEED) as (stack, client, fleet):
        baseline_mib = vm_hwm_kib(stack.host_pid) / 1024
        for size in SIZES:
            started = time.monotonic()
            await fleet.grow(size)
            say(f"monitor scale: {size} settled links in place ({time.monotonic() - started:.0f} s to add)")
            runs.append(await _run_once(stack, client, size))
    per_link = [run["wall_s_per_link"] for run in runs]
    return {
        "monitor_scale": _scale_figure(runs, baseline_mib, per_link),
        "monitor_reads_per_run": _reads_per_run(runs),
        "monitor_read_share": _read_share(runs),
    }


def _run_of(runs: list[dict[str, Any]], size: int) -> dict[str, Any]:
    return next(run for run in runs if run["links"] == size)


def _reads_per_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """ARM reads in one steady run over 1000 links in 10 resource groups: at most one per group and page."""
    run = _run_of(runs, READS_PER_RUN_SIZE)
    groups = LINK_GROUPS
    extra_pages = max(0, run["arm_list_pages"] - groups)
    target = groups + extra_pages
    return {
        "value": run["arm_reads"],
        "target": f"<= {target} ({groups} resource groups + {extra_pages} further pages)",
        "met": run["arm_reads"] <= target,
        "links": run["links"],
        "resource_groups": groups,
        "list_pages": run["arm_list_pages"],
    }


def _read_share(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Reads per second of 5000 links with a monitor every 30 s, as a share of the read bucket's refill."""
    run = _run_of(runs, READ_SHARE_SIZE)
    share = run["arm_reads"] / MONITOR_PERIOD_S / ARM_READ_REFILL_PER_S
    return {
        "value": round(share, 4),
        "target": f"<= {READ_SHARE_TARGET}",
        "met": share <= READ_SHARE_TARGET,
        "links": run["links"],
        "reads_per_run": run["arm_reads"],
        "monitor_period_s": MONITOR_PERIOD_S,
        "read_refill_per_s": ARM_READ_REFILL_PER_S,
    }


def _scale_figure(runs: list[dict[str, Any]], baseline_mib: float, per_link: list[float]) -> dict[str, Any]:
    met = all(
        run["arm_reads_per_link"] <= ARM_READS_TARGET
        and run["emqx_calls_per_link"] <= EMQX_CALLS_TARGET
        and run["arm_writes_per_link"] == 0
        for run in runs
    )
    return {
        "value": {"arm_reads_per_link": runs[-1]["arm_reads_per_link"], "wall_s_per_link": per_link[-1]},
        "runs": runs,
        "host_peak_memory_after_warm_up_mib": round(baseline_mib, 1),
        "monitor_concurrency": "8 (MONITOR_CONCURRENCY unset)",
        "target": {
            "arm_reads_per_link": f"<= {ARM_READS_TARGET}",
            "emqx_calls_per_link": f"<= {EMQX_CALLS_TARGET}",
            "arm_writes_per_link": "0",
            "wall_s_per_link": "not growing with size",
        },
        "met": met,
        "seconds_per_link_largest_over_smallest": round(per_link[-1] / per_link[0], 2),
    }
