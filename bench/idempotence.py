"""`idempotent_put_writes`: the ARM writes a repeated identical PUT makes (ARM's `/localcloud/calls`).

Run on the end-to-end benchmark's link once it is running and tested: the PUT re-reads every Azure resource
(a PUT repairs drift) and should find nothing to change. Counted: writes, deletes and actions by the app's
identity between the call-log reset and the answer.
"""

from __future__ import annotations

from typing import Any

from bench.client import BenchError, Client
from bench.progress import say

TARGET = 0


async def repeated_put_writes(client: Client, name: str, body: dict[str, Any]) -> dict[str, Any]:
    await client.reset_arm_calls()
    answer = await client.put_link(name, body)
    calls = await client.app_arm_calls()
    if answer.status_code != 200:
        raise BenchError(f"the repeated PUT answered {answer.status_code}: {answer.text[:300]}")
    writes = [f"{call['method']} {call['path']}" for call in calls if call["kind"] in ("write", "delete", "action")]
    reads = sum(1 for call in calls if call["kind"] in ("read", "poll"))
    say(f"idempotent PUT: {len(writes)} ARM writes, {reads} ARM reads")
    for write in writes:
        say(f"      write: {write}")
    return {"value": len(writes), "target": TARGET, "met": len(writes) == TARGET, "arm_reads": reads}
