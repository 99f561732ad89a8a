"""What every HTTP adapter shares: decode the request, run the life cycle, answer JSON or the error body.

Errors of the life cycle (`shared.errors.AppError`) become their status and the Azure-style error body;
anything else is logged and answered 500 with a body that says nothing about the cause.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import azure.functions as func

from shared.telemetry import APP_LOGGER

if TYPE_CHECKING:
    from shared.answers import Answer
    from shared.queries import LinkReads
    from shared.run import Services

log = logging.getLogger(APP_LOGGER)
JSON = "application/json"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> func.HttpResponse:
    if body is None:
        return func.HttpResponse(status_code=status, headers=headers)
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype=JSON, headers=headers)


def flag(req: func.HttpRequest, name: str) -> bool:
    """A boolean query parameter (`?dryRun=true`); anything but true/false is a 400 naming it."""
    from shared.errors import InvalidRequestError

    raw = req.params.get(name)
    if raw is None or raw.lower() == "false":
        return False
    if raw.lower() == "true":
        return True
    raise InvalidRequestError.from_problems([(name, "must be true or false")], "The query")


def json_body(req: func.HttpRequest) -> Any:
    """The request's JSON body, checked strictly (`shared.request_json`): 415, 413 or 400 when refused."""
    from shared.request_json import parse_json_request

    return parse_json_request(req.headers.get("content-type"), req.get_body())


async def answer(prepare: Callable[[], Callable[[Services], Awaitable[Answer]]]) -> func.HttpResponse:
    """Run an entry point of the life cycle with the process's services.

    `prepare` decodes the request (its query, its body) into the call to make: a refused request answers its
    error before the services (store, ARM, EMQX) are built, so a bad `?dryRun=` is a 400 even when settings
    are broken.
    """
    from shared.services import services_for_this_process

    async def run() -> Answer:
        call = prepare()
        return await call(services_for_this_process())

    return await _answered(run)


async def answer_read(prepare: Callable[[], Callable[[LinkReads], Awaitable[Answer]]]) -> func.HttpResponse:
    """Run a read-only entry point (`shared.queries`) on the Links table alone: its SDK-free reader
    (`shared.table_reads`), or the process's store when only the Azure SDK can authenticate."""
    from shared.table_reads import reads_for_this_process

    async def run() -> Answer:
        call = prepare()
        reads: LinkReads | None = reads_for_this_process()
        if reads is None:
            from shared.services import store_for_this_process

            reads = store_for_this_process()
        return await call(reads)

    return await _answered(run)


async def _answered(run: Callable[[], Awaitable[Answer]]) -> func.HttpResponse:
    from shared.errors import AppError, TemporaryError, error_body
    from shared.settings import SettingsError

    try:
        result = await run()
    except AppError as error:
        headers = {}
        if isinstance(error, TemporaryError) and error.retry_after:
            headers["Retry-After"] = str(error.retry_after)
        if error.http_status >= 500:
            log.warning("%s: %s", error.code, error.message)
        return json_response(error.http_status, error_body(error), headers)
    except SettingsError as error:
        log.error("misconfigured: %s", error)
        body = {"error": {"code": "InvalidAppSetting", "message": str(error), "target": error.name}}
        return json_response(500, body)
    return json_response(result.status, result.body, result.headers)
