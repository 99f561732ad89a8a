"""Faults on demand and the call log of the EMQX stand-in, in the same control shapes as the ARM stand-in.

`TrafficMiddleware` sees every request outside `/localcloud/`: it fires the first matching fault
(`status`: an error answer, `throttle`: 429 with Retry-After, `slow`: a delay before the real answer,
`drop`: the connection closed with no answer) and records the call with its outcome.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTROL_PREFIX = "/localcloud/"
KINDS = ("status", "throttle", "slow", "drop")
METHODS = ("GET", "PUT", "DELETE", "POST", "PATCH", "HEAD", "*")
CALL_KINDS = ("read", "write", "delete", "action", "poll")


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    fault_id: str
    method: str
    path: str
    kind: str
    status: int
    retry_after: float
    delay_seconds: float
    count: int
    code: str | None = None
    message: str | None = None
    fired: int = 0
    pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            self.pattern = re.compile(self.path)
        except re.error as error:
            raise FaultSpecError(f"'path' is not a valid regular expression: {error}") from error

    @property
    def remaining(self) -> int:
        return max(self.count - self.fired, 0)

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and self.method in ("*", method) and self.pattern.search(path) is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.fault_id,
            "method": self.method,
            "path": self.path,
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


def _number(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultSpecError(f"'{name}' must be a non-negative number")
    return float(value)


def fault_from_json(fault_id: str, body: Any) -> Fault:
    if not isinstance(body, dict):
        raise FaultSpecError("the fault must be a JSON object")
    kind = body.get("kind")
    if kind == "lro-failed":
        raise FaultSpecError("'kind' lro-failed does not apply: EMQX Cloud's APIs have no long-running operations")
    if kind not in KINDS:
        raise FaultSpecError(f"'kind' must be one of {', '.join(KINDS)}")
    method = str(body.get("method", "*")).upper()
    if method not in METHODS:
        raise FaultSpecError(f"'method' must be one of {', '.join(METHODS)}")
    status = body.get("status", 429 if kind == "throttle" else 500)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise FaultSpecError("'status' must be an HTTP error status (400-599)")
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise FaultSpecError("'count' must be a positive integer")
    return Fault(
        fault_id=fault_id,
        method=method,
        path=str(body.get("path", "")),
        kind=kind,
        status=status,
        retry_after=_number(body, "retryAfter", 1),
        delay_seconds=_number(body, "delaySeconds", 2),
        count=count,
        code=body.get("code"),
        message=body.get("message"),
    )


def call_kind(method: str, path: str, query: str) -> str:
    if method == "GET":
        return "read"
    if method == "DELETE":
        return "delete"
    if path.endswith("/connectors_probe") or (path.endswith("/resources") and "test=true" in query):
        return "action"
    return "write"


def basic_username(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "basic":
                return None
            try:
                return base64.b64decode(token, validate=True).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None


class Traffic:
    """The faults armed and the calls seen; shared by the middleware and the control routes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._fault_ids = itertools.count(1)
        self._calls: list[dict[str, Any]] = []
        self._seq = itertools.count(1)

    def add_fault(self, body: Any) -> Fault:
        with self._lock:
            fault = fault_from_json(f"fault-{next(self._fault_ids)}", body)
            self._faults.append(fault)
            return fault

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.as_json() for fault in self._faults]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.fired += 1
                    return fault
            return None

    def record(self, call: dict[str, Any]) -> None:
        with self._lock:
            self._calls.append({"seq": next(self._seq), **call})

    def calls(self) -> dict[str, Any]:
        with self._lock:
            calls = [dict(call) for call in self._calls]
        counts = dict.fromkeys(CALL_KINDS, 0)
        endpoints: dict[str, int] = {}
        for call in calls:
            counts[call["kind"]] += 1
            endpoints[call["endpoint"]] = endpoints.get(call["endpoint"], 0) + 1
        return {"calls": calls, "counts": counts, "endpoints": endpoints}

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()


def _json_message(status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> tuple[Message, Message]:
    payload = json.dumps(body).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *headers],
    }
    return start, {"type": "http.response.body", "body": payload, "more_body": False}


async def _drop_connection(send: Send) -> None:
    """Close the client's connection without answering, as a network failure would.

    `send` is bound to uvicorn's request cycle (this middleware sits next to the server), which holds the
    connection's transport.
    """
    send.__self__.transport.abort()  # type: ignore[attr-defined]
    # Let the server see the connection lost before the app returns, so it does not answer for us.
    for _ in range(3):
        await asyncio.sleep(0)


class TrafficMiddleware:
    def __init__(self, app: ASGIApp, traffic: Traffic) -> None:
        self.app = app
        self.traffic = traffic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        call: dict[str, Any] = {
            "method": method,
            "path": path,
            "status": None,
            "kind": call_kind(method, path, query),
            "identity": basic_username(scope),
            "fault": None,
            "endpoint": f"{method} {path}",
        }
        fault = self.traffic.take_fault(method, path)
        try:
            if fault is not None:
                call["fault"] = fault.kind
                if fault.kind == "drop":
                    await _drop_connection(send)
                    return
                if fault.kind in ("status", "throttle"):
                    await self._answer_fault(fault, send, call)
                    return
                await asyncio.sleep(fault.delay_seconds)

            async def recording_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    call["status"] = message["status"]
                await send(message)

            await self.app(scope, receive, recording_send)
            route = scope.get("route")
            if route is not None and hasattr(route, "path"):
                call["endpoint"] = f"{method} {route.path}"
        finally:
            self.traffic.record(call)

    @staticmethod
    async def _answer_fault(fault: Fault, send: Send, call: dict[str, Any]) -> None:
        headers: list[tuple[bytes, bytes]] = []
        if fault.kind == "throttle":
            headers.append((b"retry-after", f"{fault.retry_after:g}".encode()))
            body = {"code": fault.code or "TOO_MANY_REQUESTS", "message": fault.message or "Rate limit exceeded"}
        else:
            body = {"code": fault.code or "INTERNAL_ERROR", "message": fault.message or "injected fault"}
        call["status"] = fault.status
        for message in _json_message(fault.status, body, headers):
            await send(message)
