"""`python -m bench`: every benchmark in turn; progress lines, then the figures as one JSON document (last line).

A benchmark that fails is reported in the document as `{"error": ...}` and the others still run; the exit
status is 1 when any failed. A missed target is a finding, not a failure.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import approval, cold_start, e2e, monitor_scale, throttling
from bench.progress import say


def _guarded(name: str, run: Callable[[], Any], figures: dict[str, Any], failed: list[str]) -> Any:
    started = time.monotonic()
    try:
        return run()
    except Exception as error:
        traceback.print_exc(file=sys.stdout)
        say(f"{name}: FAILED: {type(error).__name__}: {error}")
        figures[name] = {"error": f"{type(error).__name__}: {error}"}
        failed.append(name)
        return None
    finally:
        say(f"{name}: {time.monotonic() - started:.0f} s")


def main() -> int:
    figures: dict[str, Any] = {}
    failed: list[str] = []
    started = time.monotonic()
    measured = _guarded("e2e_vs_critical_path", lambda: asyncio.run(e2e.measure()), figures, failed)
    if measured is not None:
        figures["e2e_vs_critical_path"], figures["idempotent_put_writes"] = measured
    else:
        figures["idempotent_put_writes"] = {"error": "not measured: the end-to-end benchmark failed"}
    approvals = _guarded("approval_latency_s", lambda: asyncio.run(approval.measure()), figures, failed)
    if approvals is not None:
        figures["approval_latency_s"] = approvals
    scale = _guarded("monitor_scale", lambda: asyncio.run(monitor_scale.measure()), figures, failed)
    if scale is not None:
        figures |= scale
    throttled = _guarded("throttled_calls_in_tight_loop", lambda: asyncio.run(throttling.measure()), figures, failed)
    if throttled is not None:
        figures["throttled_calls_in_tight_loop"] = throttled
    cold = _guarded("cold_start_ratio", cold_start.measure, figures, failed)
    if cold is not None:
        figures["cold_start_ratio"] = cold
    figures["bench_seconds"] = round(time.monotonic() - started, 1)
    say(f"done in {figures['bench_seconds']:.0f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    print(json.dumps(figures, sort_keys=False), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
