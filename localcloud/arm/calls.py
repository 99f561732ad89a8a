"""The record of ARM calls (for tests and benchmarks) and the per-principal rate-limit budgets ARM reports."""

from __future__ import annotations

import itertools
from typing import Any

from localcloud.arm.clock import Clock

CALL_KINDS = ("read", "write", "delete", "action", "poll")
# Remaining-request headers start where the recordings show them and count down within an hour.
_BUDGETS = {"reads": 11999, "writes": 1199, "deletes": 14999}


def call_kind(method: str, path: str) -> str:
    segments = [s.lower() for s in path.split("/") if s]
    if method == "GET" and len(segments) >= 2 and segments[-2] in ("operations", "operationresults"):
        return "poll"
    return {"PUT": "write", "PATCH": "write", "DELETE": "delete", "POST": "action"}.get(method, "read")


class CallLog:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._seq = itertools.count(1)

    def record(self, method: str, path: str, kind: str, identity: str | None, fault: str | None) -> dict[str, Any]:
        entry = {
            "seq": next(self._seq),
            "method": method,
            "path": path,
            "status": None,
            "kind": kind,
            "identity": identity,
            "fault": fault,
        }
        self.calls.append(entry)
        return entry

    def body(self) -> dict[str, Any]:
        counts = dict.fromkeys(CALL_KINDS, 0)
        for call in self.calls:
            counts[call["kind"]] += 1
        return {"calls": self.calls, "counts": counts}

    def clear(self) -> None:
        self.calls = []


class RateBudgets:
    """`x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}` per subscription and principal, per hour."""

    def __init__(self, clock: Clock):
        self._clock = clock
        self._hour = -1
        self._used: dict[tuple[str, str, str], int] = {}

    def spend(self, subscription: str, principal: str, method: str) -> tuple[str, int]:
        budget = {"GET": "reads", "HEAD": "reads", "DELETE": "deletes"}.get(method, "writes")
        hour = int(self._clock() // 3600)
        if hour != self._hour:
            self._hour, self._used = hour, {}
        slot = (subscription.lower(), principal, budget)
        self._used[slot] = self._used.get(slot, 0) + 1
        return f"x-ms-ratelimit-remaining-subscription-{budget}", max(0, _BUDGETS[budget] - self._used[slot])
