"""Index a `FunctionApp` (Python v2 programming model) as the Python worker does, for the host to serve.

`index_function_app(app_ref, app_settings, route_prefix)` imports `module:attribute` (the caller has put the
app's directory on `sys.path`), reads `app.get_functions()` and checks each function: one trigger of a
supported kind (HTTP, timer, Event Grid), no bindings besides it and an HTTP `$return`, and Python parameters
that name only the trigger and `context`. Anything else is a startup error naming the function, as the host
reports indexing errors.
"""

from __future__ import annotations

import importlib
import inspect
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import azure.functions as func

from localcloud.functions_host.context import CONTEXT_PARAMETER_NAME
from localcloud.functions_host.keys import AuthLevel
from localcloud.functions_host.routing import RouteTemplate, RouteTemplateError
from localcloud.functions_host.schedules import Schedule, ScheduleError, parse_schedule

RETURN_BINDING = "$return"


class FunctionIndexError(ValueError):
    """The app cannot be served: the message names the function and what is wrong."""


class TriggerKind(StrEnum):
    HTTP = "httpTrigger"
    TIMER = "timerTrigger"
    EVENT_GRID = "eventGridTrigger"


@dataclass(frozen=True)
class HttpRoute:
    template: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    auth_level: AuthLevel


@dataclass(frozen=True)
class TimerSpec:
    expression: str
    schedule: Schedule
    run_on_startup: bool
    use_monitor: bool


@dataclass(frozen=True)
class IndexedFunction:
    name: str
    kind: TriggerKind
    user_function: Callable[..., Any]
    trigger_parameter: str
    wants_context: bool
    is_async: bool
    directory: str
    http: HttpRoute | None = None
    timer: TimerSpec | None = None


# FunctionApp.get_functions() records the names it has seen and rejects them the second time, so a process
# that starts several hosts for one app object (tests, `localcloud up`) must index it only once.
_indexed: weakref.WeakKeyDictionary[func.FunctionRegister, list[func.Function]] = weakref.WeakKeyDictionary()


def load_function_app(app_ref: str) -> tuple[func.FunctionRegister, str]:
    """The app object and the directory of its module (the worker's `function_directory`)."""
    module_name, _, attribute = app_ref.partition(":")
    if not module_name or not attribute:
        raise FunctionIndexError(f"app reference '{app_ref}' must be 'module:attribute'")
    module = importlib.import_module(module_name)
    app = getattr(module, attribute, None)
    if not isinstance(app, func.FunctionRegister):
        raise FunctionIndexError(f"'{app_ref}' is not an azure.functions FunctionApp")
    return app, str(Path(module.__file__ or ".").resolve().parent)


def index_function_app(
    app_ref: str, app_settings: Mapping[str, str], route_prefix: str = "api"
) -> list[IndexedFunction]:
    app, directory = load_function_app(app_ref)
    functions = _indexed.get(app)
    if functions is None:
        try:
            functions = app.get_functions()
        except ValueError as error:
            raise FunctionIndexError(str(error)) from error
        _indexed[app] = functions
    return [_index(function, app_settings, route_prefix, directory) for function in functions]


def _index(
    function: func.Function, app_settings: Mapping[str, str], route_prefix: str, directory: str
) -> IndexedFunction:
    name = function.get_function_name()
    trigger = function.get_trigger()
    user_function = function.get_user_function()
    try:
        kind = TriggerKind(trigger.type)
    except ValueError:
        raise FunctionIndexError(
            f"function '{name}': the trigger '{trigger.type}' is not supported by the localcloud Functions host "
            f"(supported: {', '.join(supported.value for supported in TriggerKind)})"
        ) from None
    has_return = False
    for binding in function.get_bindings():
        if binding is trigger:
            continue
        if kind is TriggerKind.HTTP and binding.type == "http" and binding.name == RETURN_BINDING:
            has_return = True
            continue
        raise FunctionIndexError(
            f"function '{name}': the binding '{binding.name}' ({binding.type}) is not supported by the localcloud "
            "Functions host; only the trigger and an HTTP $return are"
        )
    if kind is TriggerKind.HTTP and not has_return:
        raise FunctionIndexError(f"function '{name}': an HTTP function must answer through $return")
    parameters = set(inspect.signature(user_function).parameters)
    unknown = sorted(parameters - {trigger.name, CONTEXT_PARAMETER_NAME})
    if unknown or trigger.name not in parameters:
        raise FunctionIndexError(
            f"function '{name}': its Python parameters {sorted(parameters)} must be the trigger "
            f"'{trigger.name}' and optionally '{CONTEXT_PARAMETER_NAME}'"
        )
    return IndexedFunction(
        name=name,
        kind=kind,
        user_function=user_function,
        trigger_parameter=trigger.name,
        wants_context=CONTEXT_PARAMETER_NAME in parameters,
        is_async=inspect.iscoroutinefunction(user_function),
        directory=directory,
        http=_http_route(name, trigger, route_prefix) if kind is TriggerKind.HTTP else None,
        timer=_timer_spec(name, trigger, app_settings) if kind is TriggerKind.TIMER else None,
    )


def _http_route(name: str, trigger: Any, route_prefix: str) -> HttpRoute:
    route = str(trigger.route).strip("/")
    prefix = route_prefix.strip("/")
    text = f"{prefix}/{route}" if prefix and route else prefix or route
    try:
        template = RouteTemplate.parse(text)
    except RouteTemplateError as error:
        raise FunctionIndexError(f"function '{name}': {error}") from None
    methods = frozenset(_text(method).upper() for method in trigger.methods) if trigger.methods else None
    # the host's default when a trigger names no level
    auth_level = AuthLevel(_text(trigger.auth_level).lower()) if trigger.auth_level else AuthLevel.FUNCTION
    return HttpRoute(template=template, methods=methods, auth_level=auth_level)


def _text(value: Any) -> str:
    """The decorators keep enum members (HttpMethod.GET, AuthLevel.FUNCTION); plain strings pass through."""
    return str(getattr(value, "value", value))


def _timer_spec(name: str, trigger: Any, app_settings: Mapping[str, str]) -> TimerSpec:
    try:
        schedule = parse_schedule(trigger.schedule, app_settings)
    except ScheduleError as error:
        raise FunctionIndexError(f"function '{name}': {error}") from None
    return TimerSpec(
        expression=trigger.schedule,
        schedule=schedule,
        run_on_startup=bool(trigger.run_on_startup),
        use_monitor=trigger.use_monitor is not False,
    )
