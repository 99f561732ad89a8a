"""A small function app for the Functions host's tests only (never deployed, never the product's app).

It registers one blueprint, as the product's function_app.py does, and records what its functions received in
`RECORDER` so tests can look.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func

logger = logging.getLogger("sample_app")


@dataclass
class TimerRun:
    past_due: bool
    started: float
    ended: float
    schedule_status: dict[str, Any]
    schedule: dict[str, Any]


@dataclass
class Recorder:
    lock: threading.Lock = field(default_factory=threading.Lock)
    tick_seconds: float = 0.0
    ticks: list[TimerRun] = field(default_factory=list)
    warmups: int = 0
    events: list[func.EventGridEvent] = field(default_factory=list)

    def reset(self) -> None:
        with self.lock:
            self.tick_seconds = 0.0
            self.ticks.clear()
            self.warmups = 0
            self.events.clear()


RECORDER = Recorder()

bp = func.Blueprint()


@bp.function_name("echo")
@bp.route(route="echo/{name:alpha}", methods=["GET", "POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    logger.info("echo called for %s", req.route_params["name"])
    answer = {
        "method": req.method,
        "url": req.url,
        "sample_header": req.headers.get("x-sample"),
        "params": dict(req.params),
        "route_params": dict(req.route_params),
        "body_hex": req.get_body().hex(),
        "thread": threading.current_thread().name,
    }
    return func.HttpResponse(
        json.dumps(answer), status_code=201, headers={"X-Echo": "yes"}, mimetype="application/json"
    )


@bp.function_name("inspect")
@bp.route(route="inspect/{*rest}", methods=["GET", "POST"])
def inspect(req: func.HttpRequest) -> func.HttpResponse:
    """What the function sees of its request, for the conversion tests."""
    answer = {
        "url": req.url,
        "params": dict(req.params),
        "headers": dict(req.headers),
        "route_params": dict(req.route_params),
        "body_hex": req.get_body().hex(),
    }
    return func.HttpResponse(json.dumps(answer), mimetype="application/json")


@bp.function_name("items")
@bp.route(route="items/{id:int}", methods=["GET"])
async def items(req: func.HttpRequest) -> str:
    await asyncio.sleep(0)
    return f"item {req.route_params['id']}"


@bp.function_name("public")
@bp.route(route="public", auth_level=func.AuthLevel.ANONYMOUS)
async def public(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    answer = {"function_name": context.function_name, "thread": threading.current_thread().name}
    return func.HttpResponse(json.dumps(answer), mimetype="application/json")


@bp.function_name("admin_only")
@bp.route(route="admin-only", auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> str:
    return "admin"


@bp.function_name("boom")
@bp.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret detail of the failure")


@bp.function_name("dict_answer")
@bp.route(route="dict")
def dict_answer(req: func.HttpRequest) -> Any:
    return {"not": "an HttpResponse"}


def _route_values(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(dict(req.route_params)), mimetype="application/json")


# one function per route template under test; each answers its route values
ROUTE_VALUE_FUNCTIONS = {
    "files": "files/{*rest}",
    "pages": "pages/{page:int?}",
    "codes": "codes/{code:regex(^[A-Z]{{3}}$)}",
    "things": "things/{id:guid}",
    "ranged": "ranged/{n:int:range(1,5)}",
    "link_read": "links/{name}",
    "link_special": "links/special",
    "archives": "archives/{year=2024}",
    "documents": "documents/{name}.{ext}",
}
for function_name, route in ROUTE_VALUE_FUNCTIONS.items():
    bp.function_name(function_name)(bp.route(route=route, methods=["GET"])(_route_values))


@bp.function_name("link_write")
@bp.route(route="links/{name}", methods=["PUT"])
def link_write(req: func.HttpRequest) -> str:
    return f"written {req.route_params['name']}"


@bp.function_name("on_event")
@bp.event_grid_trigger(arg_name="event")
def on_event(event: func.EventGridEvent) -> None:
    if event.subject.endswith("/fail"):
        raise ValueError("the event asked to fail")
    with RECORDER.lock:
        RECORDER.events.append(event)


@bp.function_name("tick")
@bp.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%")
def tick(timer: func.TimerRequest) -> None:
    started = time.monotonic()
    time.sleep(RECORDER.tick_seconds)
    with RECORDER.lock:
        ended = time.monotonic()
        RECORDER.ticks.append(
            TimerRun(timer.past_due, started, ended, dict(timer.schedule_status), dict(timer.schedule))
        )


@bp.function_name("warmup")
@bp.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", run_on_startup=True)
async def warmup(timer: func.TimerRequest) -> None:
    with RECORDER.lock:
        RECORDER.warmups += 1


app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(bp)
