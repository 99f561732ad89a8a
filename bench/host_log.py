"""The Functions host's log, read as Core Tools' output is: the end of a function run is its `Executed` line.

    Executed 'Functions.monitor' (Succeeded, Id=<uuid>, Duration=<n>ms)

and the monitor's own summary just before it: `monitor: <n> links checked, <n> skipped, <n> errored`.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

EXECUTED = re.compile(r"Executed 'Functions\.(?P<function>\w+)' \((?P<outcome>\w+), Id=[^,]+, Duration=(?P<ms>\d+)ms\)")
MONITOR_SUMMARY = re.compile(
    r"monitor: (?P<checked>\d+) links checked, (?P<skipped>\d+) skipped, (?P<errored>\d+) errored"
)


# The host logs with `logging.basicConfig`'s default time format (local time, milliseconds after a comma).
STAMP = re.compile(r"^(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


@dataclass(frozen=True)
class Span:
    """One run of a function, as epoch seconds (its end is the time of its `Executed` line)."""

    start: float
    end: float


def runs_of(path: Path, function: str) -> list[Span]:
    spans = []
    for line in path.read_text(errors="replace").splitlines():
        stamp, executed = STAMP.match(line), EXECUTED.search(line)
        if stamp and executed and executed["function"] == function:
            end = datetime.strptime(stamp["stamp"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            spans.append(Span(end - int(executed["ms"]) / 1000, end))
    return spans


@dataclass(frozen=True)
class MonitorRun:
    outcome: str
    duration_s: float
    checked: int
    skipped: int
    errored: int
    seen_at: float  # epoch seconds when the benchmark read the `Executed` line


class HostLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def skip_to_end(self) -> None:
        """Only lines written from now on count."""
        self._offset = self.path.stat().st_size

    async def next_monitor_run(self, within: float, interval: float = 0.02) -> MonitorRun:
        deadline = time.monotonic() + within
        summary: re.Match[str] | None = None
        pending = ""
        while time.monotonic() < deadline:
            with self.path.open("rb") as log:
                log.seek(self._offset)
                chunk = log.read()
            self._offset += len(chunk)
            pending += chunk.decode(errors="replace")
            *lines, pending = pending.split("\n")
            for line in lines:
                summary = MONITOR_SUMMARY.search(line) or summary
                executed = EXECUTED.search(line)
                if executed and executed["function"] == "monitor":
                    if summary is None:
                        raise RuntimeError(f"the monitor run ended without its summary: {line}")
                    return MonitorRun(
                        outcome=executed["outcome"],
                        duration_s=int(executed["ms"]) / 1000,
                        checked=int(summary["checked"]),
                        skipped=int(summary["skipped"]),
                        errored=int(summary["errored"]),
                        seen_at=time.time(),
                    )
            await asyncio.sleep(interval)
        raise TimeoutError(f"no monitor run ended within {within:.0f} s ({self.path})")
