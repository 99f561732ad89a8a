"""The state of one running host: the indexed functions, the invoker, the timers and background runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from localcloud.functions_host.clock import Clock
from localcloud.functions_host.invocation import InvocationFailedError, Invoker
from localcloud.functions_host.keys import HostKeys
from localcloud.functions_host.loading import IndexedFunction, TriggerKind, index_function_app
from localcloud.functions_host.routing import order_routes
from localcloud.functions_host.timers import TimerRunner

logger = logging.getLogger("localcloud.functions_host")

# how long shutdown waits for runs in progress before cancelling them
SHUTDOWN_GRACE_SECONDS = 5.0


class FunctionsHost:
    def __init__(
        self, app_ref: str, app_settings: Mapping[str, str], keys: HostKeys, route_prefix: str, clock: Clock
    ) -> None:
        self.app_ref = app_ref
        self.app_settings = dict(app_settings)
        self.keys = keys
        self.route_prefix = route_prefix
        self.clock = clock
        self.instance_id = uuid.uuid4().hex
        self.functions: dict[str, IndexedFunction] = {}
        self.http_functions: list[IndexedFunction] = []
        self._started_at = time.monotonic()
        self._executor: ThreadPoolExecutor | None = None
        self._invoker: Invoker | None = None
        self._timers: list[TimerRunner] = []
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def invoker(self) -> Invoker:
        assert self._invoker is not None, "the host has not started"
        return self._invoker

    @property
    def uptime_ms(self) -> int:
        return round((time.monotonic() - self._started_at) * 1000)

    async def start(self) -> None:
        functions = index_function_app(self.app_ref, self.app_settings, self.route_prefix)
        self.functions = {function.name: function for function in functions}
        http = [function for function in functions if function.kind is TriggerKind.HTTP]
        self.http_functions = order_routes(http, lambda function: function.http.template)  # type: ignore[union-attr]
        threads = self.app_settings.get("PYTHON_THREADPOOL_THREAD_COUNT")
        self._executor = ThreadPoolExecutor(int(threads) if threads else None, thread_name_prefix="function")
        self._invoker = Invoker(self._executor)
        for function in functions:
            logger.info("Found function '%s': %s", function.name, _describe(function))
        for function in functions:
            if function.kind is TriggerKind.TIMER:
                runner = TimerRunner(function, self.clock, self._invoker)
                runner.start()
                self._timers.append(runner)

    def timer_runner(self, function: IndexedFunction) -> TimerRunner | None:
        return next((runner for runner in self._timers if runner.function is function), None)

    def find(self, name: str) -> IndexedFunction | None:
        """A function by name, ignoring case, as the admin API looks them up."""
        matches = [function for function in self.functions.values() if function.name.lower() == name.lower()]
        return matches[0] if matches else None

    def run_in_background(self, function: IndexedFunction, build_argument: Any, shape_result: Any) -> None:
        task = asyncio.create_task(self._invoke_quietly(function, build_argument, shape_result))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _invoke_quietly(self, function: IndexedFunction, build_argument: Any, shape_result: Any) -> None:
        with contextlib.suppress(InvocationFailedError):  # the invoker has logged it
            await self.invoker.invoke(function, build_argument, shape_result)

    async def stop(self) -> None:
        await asyncio.gather(*(timer.stop(SHUTDOWN_GRACE_SECONDS) for timer in self._timers))
        if self._background:
            _, pending = await asyncio.wait(self._background, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


def _describe(function: IndexedFunction) -> str:
    if function.http is not None:
        methods = ",".join(sorted(function.http.methods)) if function.http.methods else "all methods"
        return f"[{methods}] /{function.http.template.text} (auth level {function.http.auth_level})"
    if function.timer is not None:
        return f"timerTrigger '{function.timer.expression}'"
    return function.kind.value
