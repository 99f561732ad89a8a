"""Indexing a function app: what the host serves and the startup errors it gives for what it cannot."""

from __future__ import annotations

import azure.functions as func
import pytest

from localcloud.functions_host.keys import AuthLevel
from localcloud.functions_host.loading import FunctionIndexError, TriggerKind, index_function_app
from tests.localcloud.functions_host.support import SAMPLE_APP, YEARLY

HERE = "tests.localcloud.functions_host.test_loading"

queue_app = func.FunctionApp()


@queue_app.queue_trigger(arg_name="message", queue_name="work", connection="Storage")
def on_message(message: func.QueueMessage) -> None: ...


blob_output_app = func.FunctionApp()


@blob_output_app.route(route="save")
@blob_output_app.blob_output(arg_name="saved", path="container/name", connection="Storage")
def save(req: func.HttpRequest, saved: func.Out[str]) -> str:
    return "saved"


extra_parameter_app = func.FunctionApp()


@extra_parameter_app.timer_trigger(arg_name="timer", schedule=YEARLY)
def needs_more(timer: func.TimerRequest, other: str) -> None: ...


not_an_app = object()


def test_the_sample_app_is_indexed_with_routes_timers_and_event_grid() -> None:
    functions = {function.name: function for function in index_function_app(SAMPLE_APP, {"TICK_SCHEDULE": YEARLY})}
    echo = functions["echo"]
    assert echo.kind is TriggerKind.HTTP
    assert echo.http is not None
    assert echo.http.template.text == "api/echo/{name:alpha}"
    assert echo.http.methods == frozenset({"GET", "POST"})
    assert echo.http.auth_level is AuthLevel.FUNCTION
    assert functions["public"].http is not None
    assert functions["public"].http.methods is None
    assert functions["public"].wants_context
    assert functions["items"].is_async
    assert functions["on_event"].kind is TriggerKind.EVENT_GRID
    assert functions["warmup"].timer is not None
    assert functions["warmup"].timer.run_on_startup


def test_indexing_twice_in_one_process_works() -> None:
    # FunctionApp.get_functions() refuses a second call; the host keeps the first answer per app
    first = index_function_app(SAMPLE_APP, {"TICK_SCHEDULE": YEARLY})
    second = index_function_app(SAMPLE_APP, {"TICK_SCHEDULE": YEARLY}, route_prefix="v1")
    assert [f.name for f in first] == [f.name for f in second]
    assert second[0].http is not None
    assert second[0].http.template.text.startswith("v1/")


@pytest.mark.parametrize(
    ("app_ref", "settings", "message"),
    [
        (SAMPLE_APP, {}, "function 'tick': '%TICK_SCHEDULE%' does not resolve to a value: app setting TICK_SCHEDULE"),
        (SAMPLE_APP, {"TICK_SCHEDULE": "* * * *"}, "function 'tick': '\\* \\* \\* \\*' is neither"),
        (f"{HERE}:queue_app", {}, "function 'on_message': the trigger 'queueTrigger' is not supported"),
        (f"{HERE}:blob_output_app", {}, "function 'save': the binding 'saved' \\(blob\\) is not supported"),
        (f"{HERE}:extra_parameter_app", {}, "function 'needs_more': its Python parameters"),
        (f"{HERE}:not_an_app", {}, "is not an azure.functions FunctionApp"),
        ("no_colon", {}, "must be 'module:attribute'"),
    ],
)
def test_what_the_host_cannot_serve_is_a_startup_error_naming_the_function(
    app_ref: str, settings: dict[str, str], message: str
) -> None:
    with pytest.raises(FunctionIndexError, match=message):
        index_function_app(app_ref, settings)
