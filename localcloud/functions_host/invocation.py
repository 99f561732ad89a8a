"""Running one function invocation as the Python worker does, and logging it as the host does.

Async functions run on the host's event loop; sync ones in a thread pool (`PYTHON_THREADPOOL_THREAD_COUNT`, else
Python's default size), each in a copy of the caller's contextvars. Building the trigger argument and shaping
the return value count as part of the invocation, so a conversion error fails it as it would in the worker.
Each invocation logs exactly one line on the `localcloud.functions_host` logger:
`Executed 'Functions.<name>' (Succeeded|Failed, Id=<uuid>, Duration=<n>ms)`, the exception attached on failure.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from localcloud.functions_host.context import CONTEXT_PARAMETER_NAME, InvocationContext
from localcloud.functions_host.loading import IndexedFunction

logger = logging.getLogger("localcloud.functions_host")

Shaped = TypeVar("Shaped")


class InvocationFailedError(Exception):
    def __init__(self, function_name: str, invocation_id: str) -> None:
        super().__init__(f"Exception while executing function: Functions.{function_name}")
        self.function_name = function_name
        self.invocation_id = invocation_id


def no_return_value(function_name: str) -> Callable[[Any], None]:
    """The worker's check for functions without a `$return` binding."""

    def check(result: Any) -> None:
        if result is not None:
            raise RuntimeError(f"function '{function_name}' without a $return binding returned a non-None value")

    return check


class Invoker:
    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    async def invoke(
        self,
        function: IndexedFunction,
        build_argument: Callable[[], Any],
        shape_result: Callable[[Any], Shaped],
    ) -> Shaped:
        invocation_id = str(uuid.uuid4())
        started = time.perf_counter()
        try:
            arguments = {function.trigger_parameter: build_argument()}
            if function.wants_context:
                arguments[CONTEXT_PARAMETER_NAME] = InvocationContext(invocation_id, function.name, function.directory)
            if function.is_async:
                result = await function.user_function(**arguments)
            else:
                call = functools.partial(contextvars.copy_context().run, function.user_function, **arguments)
                result = await asyncio.get_running_loop().run_in_executor(self._executor, call)
            shaped = shape_result(result)
        except Exception as error:
            _log_executed(function.name, invocation_id, started, error)
            raise InvocationFailedError(function.name, invocation_id) from error
        _log_executed(function.name, invocation_id, started, None)
        return shaped


def _log_executed(name: str, invocation_id: str, started: float, error: Exception | None) -> None:
    duration_ms = round((time.perf_counter() - started) * 1000)
    outcome = "Failed" if error else "Succeeded"
    logger.log(
        logging.ERROR if error else logging.INFO,
        "Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)",
        name,
        outcome,
        invocation_id,
        duration_ms,
        exc_info=error,
    )
