"""The stand-in's control API under `/localcloud/` (no key): faults, the call log and the clock.

Faults and calls have the ARM stand-in's shapes; the clock moves forward on demand so that a 60-per-hour
budget or a life-cycle wait is crossed without waiting.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from localcloud.emqx.cloud import EmqxCloud
from localcloud.faults import FaultSpecError


def _cloud(request: Request) -> EmqxCloud:
    cloud: EmqxCloud = request.app.state.emqx
    return cloud


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "InvalidRequest", "message": message}}, status_code=400)


async def add_fault(request: Request) -> Response:
    try:
        body = json.loads(await request.body() or b"null")
        fault = _cloud(request).traffic.faults.add(body)
    except ValueError as exc:  # FaultSpecError, or a body that is not JSON
        return _bad(str(exc) if isinstance(exc, FaultSpecError) else "body is not valid JSON")
    return JSONResponse({"id": fault.id}, status_code=201)


async def list_faults(request: Request) -> Response:
    return JSONResponse({"faults": _cloud(request).traffic.faults.list()})


async def clear_faults(request: Request) -> Response:
    _cloud(request).traffic.faults.clear()
    return Response(status_code=204)


async def list_calls(request: Request) -> Response:
    return JSONResponse(_cloud(request).traffic.calls())


async def clear_calls(request: Request) -> Response:
    _cloud(request).traffic.clear_calls()
    return Response(status_code=204)


def _clock_json(cloud: EmqxCloud) -> dict[str, float]:
    return {"now": cloud.clock(), "offsetSeconds": cloud.clock.offset}


async def get_clock(request: Request) -> Response:
    return JSONResponse(_clock_json(_cloud(request)))


async def advance_clock(request: Request) -> Response:
    try:
        seconds = float(json.loads(await request.body() or b"{}")["advanceSeconds"])
    except (ValueError, KeyError, TypeError):
        return _bad('body must be {"advanceSeconds": <seconds>}')
    if seconds < 0:
        return _bad("advanceSeconds must not be negative: the clock only moves forward")
    cloud = _cloud(request)
    cloud.clock.advance(seconds)
    return JSONResponse(_clock_json(cloud))


routes = [
    Route("/localcloud/faults", add_fault, methods=["POST"]),
    Route("/localcloud/faults", list_faults, methods=["GET"]),
    Route("/localcloud/faults", clear_faults, methods=["DELETE"]),
    Route("/localcloud/calls", list_calls, methods=["GET"]),
    Route("/localcloud/calls", clear_calls, methods=["DELETE"]),
    Route("/localcloud/clock", get_clock, methods=["GET"]),
    Route("/localcloud/clock", advance_clock, methods=["POST"]),
]
