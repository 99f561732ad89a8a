"""Faults on demand, shared by the stand-ins: what the next N matching requests suffer.

Kinds: `status` (an error answer with that status), `throttle` (429 with Retry-After), `slow` (the real answer
after `delaySeconds`), `late` (the request is served at once, its answer held back `delaySeconds`: the work is
done before the client hears of it, so a client that dies meanwhile never learns it), `drop` (the connection closed
with no answer), and, where a stand-in has long-running operations, `lro-failed` (the request is served, the
operation it starts ends Failed). Each stand-in shapes the
answer in its service's own error body; this module only keeps the book: which faults are armed, which fired.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KINDS = ("status", "throttle", "slow", "late", "drop", "lro-failed")
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
    fired: int = 0

    @property
    def remaining(self) -> int:
        return max(self.count - self.fired, 0)

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and self.method in ("*", method) and self.path.search(path) is not None

    def as_json(self) -> dict[str, Any]:
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


def _number(spec: Mapping[str, Any], name: str, default: float) -> float:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultSpecError(f"'{name}' must be a non-negative number")
    return float(value)


def _positive_int(spec: Mapping[str, Any], name: str, default: int) -> int:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FaultSpecError(f"'{name}' must be a positive integer")
    return value


class FaultBook:
    """The faults armed on one stand-in; safe to use from its request handlers and its control routes at once.

    `refused` names kinds this stand-in has no use for, with the reason a control call is told.
    """

    def __init__(self, refused: Mapping[str, str] | None = None) -> None:
        self._refused = dict(refused or {})
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, spec: Any) -> Fault:
        if not isinstance(spec, dict):
            raise FaultSpecError("the fault must be a JSON object")
        kind, method = spec.get("kind"), str(spec.get("method", "*")).upper()
        if kind in self._refused:
            raise FaultSpecError(f"'kind' {kind} does not apply: {self._refused[kind]}")
        if kind not in KINDS:
            raise FaultSpecError(f"'kind' must be one of {', '.join(k for k in KINDS if k not in self._refused)}")
        if method not in METHODS:
            raise FaultSpecError(f"'method' must be one of {', '.join(METHODS)}")
        try:
            path = re.compile(str(spec.get("path", "")))
        except re.error as exc:
            raise FaultSpecError(f"'path' is not a valid regular expression: {exc}") from exc
        status = spec.get("status", 429 if kind == "throttle" else 500)
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise FaultSpecError("'status' must be an HTTP error status (400-599)")
        with self._lock:
            fault = Fault(
                id=f"fault-{next(self._ids)}",
                method=method,
                path=path,
                kind=kind,
                status=status,
                retry_after=_number(spec, "retryAfter", 1),
                delay_seconds=_number(spec, "delaySeconds", 2),
                count=_positive_int(spec, "count", 1),
                code=spec.get("code"),
                message=spec.get("message"),
            )
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching the request, spent once."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.fired += 1
                    return fault
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.as_json() for fault in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
