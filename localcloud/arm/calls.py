"""The record of ARM calls (for tests and benchmarks)."""

from __future__ import annotations

import itertools
import time
from typing import Any

CALL_KINDS = ("read", "write", "delete", "action", "poll")


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
            # When the request arrived, on the wall clock: a client's waits (Retry-After) are in real seconds.
            "at": time.time(),
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
