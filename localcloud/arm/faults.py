"""Injected faults: what the next N matching ARM requests suffer.

Kinds: `status` (answer with that status and ARM's error body), `throttle` (429 SubscriptionRequestsThrottled
with Retry-After), `slow` (answer after delaySeconds), `drop` (close the connection without an answer),
`lro-failed` (the request is served, but the operation it starts ends Failed).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

KINDS = ("status", "throttle", "slow", "drop", "lro-failed")
METHODS = ("GET", "PUT", "DELETE", "POST", "PATCH", "HEAD", "*")


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    id: str
    method: str
    path: re.Pattern[str]
    kind: str
    status: int
    retry_after: float
    delay_seconds: float
    count: int
    code: str | None
    message: str | None
    remaining: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and self.method in ("*", method) and self.path.search(path) is not None

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path.pattern,
            "kind": self.kind,
            "status": self.status,
            "retryAfter": self.retry_after,
            "delaySeconds": self.delay_seconds,
            "count": self.count,
            "code": self.code,
            "message": self.message,
            "remaining": self.remaining,
            "fired": self.fired,
        }


def _number(spec: dict[str, Any], name: str, default: float) -> float:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultSpecError(f"'{name}' must be a non-negative number")
    return float(value)


class FaultBook:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: Any) -> Fault:
        if not isinstance(spec, dict):
            raise FaultSpecError("the fault must be a JSON object")
        kind, method = spec.get("kind"), str(spec.get("method", "*")).upper()
        if kind not in KINDS:
            raise FaultSpecError(f"'kind' must be one of {', '.join(KINDS)}")
        if method not in METHODS:
            raise FaultSpecError(f"'method' must be one of {', '.join(METHODS)}")
        try:
            path = re.compile(str(spec.get("path", "")))
        except re.error as exc:
            raise FaultSpecError(f"'path' is not a valid regular expression: {exc}") from exc
        status = spec.get("status", 429 if kind == "throttle" else 500)
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise FaultSpecError("'status' must be an HTTP error status (400-599)")
        count = spec.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise FaultSpecError("'count' must be a positive integer")
        fault = Fault(
            id=f"fault-{next(self._ids)}",
            method=method,
            path=path,
            kind=kind,
            status=status,
            retry_after=_number(spec, "retryAfter", 1),
            delay_seconds=_number(spec, "delaySeconds", 2),
            count=count,
            code=spec.get("code"),
            message=spec.get("message"),
            remaining=count,
        )
        self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching the request, spent once."""
        for fault in self._faults:
            if fault.matches(method, path):
                fault.remaining -= 1
                fault.fired += 1
                return fault
        return None

    def list(self) -> list[dict[str, Any]]:
        return [fault.body() for fault in self._faults]

    def clear(self) -> None:
        self._faults.clear()
