"""`throttled_calls_in_tight_loop`: under a shrunken ARM read bucket, no call of the app comes sooner after a 429
than the Retry-After that 429 carried.

One stack, 50 settled links over 10 resource groups (`bench.fleet`). The app principal's read bucket is then
shrunk (localcloud's `PUT /localcloud/ratelimits`), and `ROUNDS` times ten links are PUT again at once (each PUT
re-reads every resource of its link: urgent work, which no floor defers) while the monitor runs. ARM's call log
gives each request's arrival (wall clock), status and, for a 429, its Retry-After.

A call counts as "in a tight loop" when it is one of the app's reads that arrived after a 429 answered to the app
had reached it and before that 429's Retry-After had passed. The figure is their number; the target is 0.
Requests the app had already sent when ARM refused one are not its choice: the stand-in serves requests one at a
time, so a burst of concurrent reads queued behind the refused one is logged up to a few hundred milliseconds
later (`IN_FLIGHT_S`). The bucket refills one read every four seconds, so Retry-After is long enough for the
window after that to mean something.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.client import BenchError
from bench.fleet import fleet_on_a_stack
from bench.host_log import HostLog
from bench.progress import say
from localcloud.stack import APP_CLIENT_ID

SPEED = 20.0
LINKS = 50
ROUNDS = 4
PUTS_PER_ROUND = 10
RUN_TIMEOUT = 300
# The shrunken bucket: three reads, one back every four seconds of real time.
SHRUNKEN_READS = {"capacity": 3, "refillPerSecond": 0.25 / SPEED}
# How long after a 429 a read the app had already sent may still be logged (see the module docstring).
IN_FLIGHT_S = 0.5
READ_KINDS = ("read", "poll")


def calls_in_a_tight_loop(calls: list[dict[str, Any]]) -> tuple[int, int]:
    """(reads that came sooner after a 429 than its Retry-After, 429s answered): the app's reads only."""
    reads = sorted((c for c in calls if c["kind"] in READ_KINDS), key=lambda c: c["at"])
    refusals = [c for c in reads if c["status"] == 429]
    too_soon = {
        call["seq"]
        for refusal in refusals
        for call in reads
        if refusal["at"] + IN_FLIGHT_S < call["at"] < refusal["at"] + float(refusal.get("retryAfter") or 0)
    }
    return len(too_soon), len(refusals)


async def measure() -> dict[str, Any]:
    say(f"throttling: {LINKS} links over 10 groups, read bucket {SHRUNKEN_READS}, {ROUNDS} rounds of PUTs")
    async with fleet_on_a_stack(SPEED) as (stack, client, fleet):
        await fleet.grow(LINKS)
        await client.set_ratelimits({"overrides": [{"principal": APP_CLIENT_ID, "reads": SHRUNKEN_READS}]})
        await client.reset_arm_calls()
        log = HostLog(stack.host_log)
        log.skip_to_end()
        started = time.monotonic()
        for round_number in range(ROUNDS):
            await client.run_monitor()
            indexes = range(round_number * PUTS_PER_ROUND, (round_number + 1) * PUTS_PER_ROUND)
            await asyncio.gather(*(client.put_link(f"fleet-{i:04d}", fleet.link_body(i)) for i in indexes))
            await log.next_monitor_run(within=RUN_TIMEOUT)
        seconds = time.monotonic() - started
        calls = await client.app_arm_calls()
        await client.reset_ratelimits()
    too_soon, refusals = calls_in_a_tight_loop(calls)
    if refusals == 0:
        raise BenchError("the shrunken bucket never refused the app: the figure would prove nothing")
    say(f"throttling: {refusals} reads refused (429), {too_soon} calls sooner than Retry-After, {seconds:.1f} s")
    return {
        "value": too_soon,
        "target": "0",
        "met": too_soon == 0,
        "refusals_429": refusals,
        "app_reads": sum(1 for c in calls if c["kind"] in READ_KINDS),
        "rounds": ROUNDS,
        "puts_per_round": PUTS_PER_ROUND,
        "links": LINKS,
        "read_bucket": SHRUNKEN_READS | {"speed": SPEED},
    }
