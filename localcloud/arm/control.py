"""The control API beside ARM (`/localcloud/...`, no token): faults, the call log, the rate-limit buckets, VMs
behind NICs, and the data path resolution. Shapes are shared with the EMQX stand-in's control API.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from localcloud.arm import dataplane
from localcloud.arm.calls import CallLog
from localcloud.arm.ids import parse_id
from localcloud.arm.state import ArmState, VirtualMachine
from localcloud.arm.throttling import RateLimiter, SettingsError
from localcloud.faults import FaultBook, FaultSpecError


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "BadRequest", "message": message}}, status_code=400)


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        return None


def _vm_from(name: str, body: Any) -> VirtualMachine:
    if not isinstance(body, dict) or not isinstance(body.get("nicId"), str) or parse_id(body["nicId"]) is None:
        raise ValueError("'nicId' must be a network interface resource id")
    ports = body.get("ports") or {}
    if not isinstance(ports, dict):
        raise ValueError("'ports' must map port numbers to 'host:port' addresses")
    mapped: dict[int, str] = {}
    for port, address in ports.items():
        host, _, real_port = str(address).rpartition(":")
        if not str(port).isdigit() or not host or not real_port.isdigit():
            raise ValueError(f"port mapping {port!r}: {address!r} is not 'port': 'host:port'")
        mapped[int(port)] = str(address)
    return VirtualMachine(name=name, nic_id=body["nicId"], ports=mapped)


def control_routes(
    state: ArmState,
    faults: FaultBook,
    calls: CallLog,
    reset: Callable[[], Awaitable[None]],
    limiter: RateLimiter,
) -> list[Route]:
    async def add_fault(request: Request) -> Response:
        try:
            fault = faults.add(await _body(request))
        except FaultSpecError as exc:
            return _bad_request(str(exc))
        return JSONResponse({"id": fault.id}, status_code=201)

    async def list_faults(request: Request) -> Response:
        return JSONResponse({"faults": faults.list()})

    async def clear_faults(request: Request) -> Response:
        faults.clear()
        return Response(status_code=204)

    async def list_calls(request: Request) -> Response:
        return JSONResponse(calls.body())

    async def clear_calls(request: Request) -> Response:
        calls.clear()
        return Response(status_code=204)

    async def read_ratelimits(request: Request) -> Response:
        return JSONResponse(limiter.body())

    async def set_ratelimits(request: Request) -> Response:
        try:
            limiter.configure(await _body(request))
        except SettingsError as exc:
            return _bad_request(str(exc))
        return JSONResponse(limiter.body())

    async def reset_ratelimits(request: Request) -> Response:
        limiter.reset()
        return Response(status_code=204)

    async def put_vm(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            vm = _vm_from(name, await _body(request))
        except ValueError as exc:
            return _bad_request(str(exc))
        created = name.lower() not in state.vms
        state.vms[name.lower()] = vm
        return JSONResponse(vm.body(), status_code=201 if created else 200)

    async def list_vms(request: Request) -> Response:
        return JSONResponse({"vms": [vm.body() for vm in state.vms.values()]})

    async def delete_vm(request: Request) -> Response:
        state.vms.pop(request.path_params["name"].lower(), None)
        return Response(status_code=204)

    async def connect(request: Request) -> Response:
        try:
            subscription, ip, port = dataplane.parse_request(await _body(request))
        except ValueError as exc:
            return _bad_request(str(exc))
        return JSONResponse(await dataplane.resolve(state, subscription, ip, port))

    async def reset_all(request: Request) -> Response:
        await reset()
        return Response(status_code=204)

    return [
        Route("/reset", reset_all, methods=["POST"]),
        Route("/faults", add_fault, methods=["POST"]),
        Route("/faults", list_faults, methods=["GET"]),
        Route("/faults", clear_faults, methods=["DELETE"]),
        Route("/calls", list_calls, methods=["GET"]),
        Route("/calls", clear_calls, methods=["DELETE"]),
        Route("/ratelimits", read_ratelimits, methods=["GET"]),
        Route("/ratelimits", set_ratelimits, methods=["PUT"]),
        Route("/ratelimits", reset_ratelimits, methods=["DELETE"]),
        Route("/vms", list_vms, methods=["GET"]),
        Route("/vms/{name}", put_vm, methods=["PUT"]),
        Route("/vms/{name}", delete_vm, methods=["DELETE"]),
        Route("/dataplane/connect", connect, methods=["POST"]),
    ]
