"""Faults on demand (`localcloud.faults`) and the call log of the EMQX stand-in, in the ARM stand-in's shapes.

`TrafficMiddleware` sees every request but the control routes (`/localcloud/` on the Platform API's host):
it fires the first matching fault (`status`: an error answer, `throttle`: 429 with Retry-After, `slow`: a
delay before the real answer, `late`: the request served at once and its answer held back, `drop`: the
connection closed with no answer) and records the call with its
outcome and the host it was sent to (a deployment's API is at its own host, `localcloud.emqx.hosts`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import threading
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from localcloud.emqx.hosts import deployment_id_of
from localcloud.faults import Fault, FaultBook

CONTROL_PREFIX = "/localcloud/"
CALL_KINDS = ("read", "write", "delete", "action", "poll")
# EMQX's APIs answer at once: nothing there could end Failed later.
REFUSED_KINDS = {"lro-failed": "EMQX Cloud's APIs have no long-running operations"}


def call_kind(method: str, path: str, query: str) -> str:
    if method == "GET":
        return "read"
    if method == "DELETE":
        return "delete"
    if path.endswith("/connectors_probe") or (path.endswith("/resources") and "test=true" in query):
        return "action"
    return "write"


def host_name(scope: Scope) -> str:
    """The Host header's name, lower-cased, without its port (the server's address without a header)."""
    for name, value in scope.get("headers", []):
        if name == b"host":
            host: str = bytes(value).decode("latin-1").lower()
            if host.startswith("["):
                return host.partition("]")[0] + "]"
            return host.rpartition(":")[0] if ":" in host else host
    server = scope.get("server")
    return str(server[0]) if server else ""


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
        self.faults = FaultBook(refused=REFUSED_KINDS)
        self._lock = threading.Lock()
        self._calls: list[dict[str, Any]] = []
        self._seq = itertools.count(1)

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
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = host_name(scope)
        if scope["path"].startswith(CONTROL_PREFIX) and deployment_id_of(host) is None:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        call: dict[str, Any] = {
            "method": method,
            "host": host,
            "path": path,
            "status": None,
            "kind": call_kind(method, path, query),
            "identity": basic_username(scope),
            "fault": None,
            "endpoint": f"{method} {path}",
        }
        fault = self.traffic.faults.take(method, path)
        try:
            if fault is not None:
                call["fault"] = fault.kind
                if fault.kind == "drop":
                    await _drop_connection(send)
                    return
                if fault.kind in ("status", "throttle"):
                    await self._answer_fault(fault, send, call)
                    return
                if fault.kind == "slow":
                    await asyncio.sleep(fault.delay_seconds)
            held: list[Message] | None = [] if fault is not None and fault.kind == "late" else None

            async def recording_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    call["status"] = message["status"]
                if held is not None:
                    held.append(message)
                else:
                    await send(message)

            await self.app(scope, receive, recording_send)
            if held is not None and fault is not None:
                await asyncio.sleep(fault.delay_seconds)
                for message in held:
                    await send(message)
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
