"""The `context` argument the Python worker passes to functions that declare a parameter named `context`."""

from __future__ import annotations

import secrets
import threading

import azure.functions as func

# the worker passes the invocation context to a parameter of exactly this name
CONTEXT_PARAMETER_NAME = "context"


class _TraceContext:
    def __init__(self) -> None:
        # a fresh W3C traceparent, as the host starts one activity per invocation
        self.trace_parent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"
        self.trace_state = ""
        self.attributes: dict[str, str] = {}


class _RetryContext:
    retry_count = 0
    max_retry_count = 0
    exception = None


class InvocationContext(func.Context):
    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._thread_local_storage = threading.local()
        self._trace_context = _TraceContext()
        self._retry_context = _RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:  # type: ignore[override]
        return self._thread_local_storage

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> _TraceContext:  # type: ignore[override]
        return self._trace_context

    @property
    def retry_context(self) -> _RetryContext:  # type: ignore[override]
        return self._retry_context
