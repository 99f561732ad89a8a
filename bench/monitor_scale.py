"""`monitor_scale`: one monitor run over 50, 200 and 1000 settled links.

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
from bench.fleet import Fleet
from bench.host_log import HostLog
from bench.preparation import warm_up_host
from bench.progress import say
from bench.stack import NEVER, BenchStack, bench_stack, vm_hwm_kib

SIZES = (50, 200, 1000)
SPEED = 100_000.0  # only the fleet's ARM writes wait on the speed: they are over at once
ARM_READS_TARGET = 1
EMQX_CALLS_TARGET = 1
RUN_TIMEOUT = 600


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
        "arm_reads_per_link": round(reads / size, 3),
        "arm_writes_per_link": round(writes / size, 3),
        "emqx_calls_per_link": round(len(emqx) / size, 4),
        "host_peak_memory_mib": round(hwm_after / 1024, 1),
    }


async def measure() -> dict[str, Any]:
    say(f"monitor scale: sizes {', '.join(map(str, SIZES))}, one stack grown from size to size, speed {SPEED:g}")
    runs = []
    with bench_stack(speed=SPEED, settings={"MONITOR_SCHEDULE": NEVER}) as stack:
        if stack.emqx_cloud is None:
            raise BenchError("the EMQX stand-in's state is not reachable")
        async with Client(stack) as client:
            await client.unsubscribe_approver()
            fleet = Fleet(client, stack.emqx_cloud, stack.app_settings)
            try:
                await fleet.make_network()
                await warm_up_host(client, fleet.link_body())
                baseline_mib = vm_hwm_kib(stack.host_pid) / 1024
                for size in SIZES:
                    started = time.monotonic()
                    await fleet.grow(size)
                    say(f"monitor scale: {size} settled links in place ({time.monotonic() - started:.0f} s to add)")
                    runs.append(await _run_once(stack, client, size))
            finally:
                await fleet.close()
    per_link = [run["wall_s_per_link"] for run in runs]
    return {
        "runs": runs,
        "host_peak_memory_after_warm_up_mib": round(baseline_mib, 1),
        "monitor_concurrency": "8 (MONITOR_CONCURRENCY unset)",
        "targets": {
            "arm_reads_per_link": f"<= {ARM_READS_TARGET}",
            "emqx_calls_per_link": f"<= {EMQX_CALLS_TARGET}",
            "arm_writes_per_link": "0",
            "wall_s_per_link": "not growing with size",
        },
        "met": all(
            run["arm_reads_per_link"] <= ARM_READS_TARGET
            and run["emqx_calls_per_link"] <= EMQX_CALLS_TARGET
            and run["arm_writes_per_link"] == 0
            for run in runs
        ),
        "seconds_per_link_largest_over_smallest": round(per_link[-1] / per_link[0], 2),
    }
