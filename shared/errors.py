"""The product's errors, every one of them, and the Azure-style body an HTTP answer carries for them.

    AppError                              500 InternalError: never raised as such
    ├── InvalidRequestError               400 InvalidRequestContent: bad input; one detail per bad field
    ├── NotFoundError                     404 NotFound
    │   └── LinkGoneError                 404 NotFound: the link went while a run waited for it
    ├── ConflictError                     409 Conflict: exists already, or the change is refused as it stands
    ├── PreconditionFailedError           412 PreconditionFailed: someone else wrote since the ETag given
    ├── PayloadTooLargeError              413 RequestBodyTooLarge: the request body is over the size accepted
    ├── UnsupportedMediaTypeError         415 UnsupportedMediaType: the request body is not `application/json`
    ├── UpstreamError                     502 UpstreamFailure: Azure, EMQX or storage refused for good
    │   └── DestinationRefusedError       502 EmqxDestinationRefused: an EMQX name resolved where EMQX traffic
    │                                         may never go (`shared.hosts`)
    └── TemporaryError                    503 ServiceUnavailable: retry later (`retry_after` seconds when known)
        ├── LinkBusyError                 503 LinkBusy: another run holds the link past the wait
        ├── OperationStillRunningError    503 OperationInProgress: Azure goes on past the run's budget; the HTTP
        │   │                                 entry points answer it 202, the next run carries on
        │   └── WaitingForEmqxError       503 WaitingForEmqx: a teardown waits for EMQX to let go (202 too)
        ├── EmqxUnavailableError          502 EmqxUnavailable: EMQX answered 5xx or nothing; retried later
        ├── EmqxThrottledError            503 EmqxThrottled: EMQX answered 429, with its Retry-After
        ├── ArmThrottledError             503 ArmThrottled: ARM said to wait (429) and the wait is not over
        └── RateBudgetExhaustedError      503 EmqxRateBudgetExhausted: the shared Platform API budget is spent

Messages are written for the caller: they never carry secrets or whole upstream response bodies (`cut`).
The body follows the Microsoft REST API guidelines: `{"error": {"code", "message", "target"?, "details"?}}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import ceil
from typing import ClassVar


@dataclass(frozen=True)
class ErrorDetail:
    code: str
    message: str
    target: str | None = None


class AppError(Exception):
    http_status: ClassVar[int] = 500
    default_code: ClassVar[str] = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        target: str | None = None,
        details: Iterable[ErrorDetail] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.target = target
        self.details = tuple(details)


class InvalidRequestError(AppError):
    http_status = 400
    default_code = "InvalidRequestContent"

    @classmethod
    def from_problems(cls, problems: Sequence[tuple[str, str]], subject: str = "The request") -> InvalidRequestError:
        """One detail per `(target, message)`; the top-level target is set when a single field is at fault."""
        count = len(problems)
        return cls(
            f"{subject} has {count} invalid field{'s' if count != 1 else ''}: see details.",
            target=problems[0][0] if count == 1 else None,
            details=[ErrorDetail("InvalidValue", message, target) for target, message in problems],
        )


class NotFoundError(AppError):
    http_status = 404
    default_code = "NotFound"


class LinkGoneError(NotFoundError):
    """The link was deleted while a run waited for its lease (`shared.run_frame`)."""


class ConflictError(AppError):
    http_status = 409
    default_code = "Conflict"


class PreconditionFailedError(AppError):
    http_status = 412
    default_code = "PreconditionFailed"


class UpstreamError(AppError):
    http_status = 502
    default_code = "UpstreamFailure"


class TemporaryError(AppError):
    http_status = 503
    default_code = "ServiceUnavailable"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        target: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, code=code, target=target)
        self.retry_after = retry_after


class LinkBusyError(TemporaryError):
    """Another run holds the link's lease past the wait (`shared.run_frame`)."""

    default_code = "LinkBusy"

    def __init__(self, name: str) -> None:
        super().__init__(f"Another run is working on link {name}; try again shortly.", retry_after=5)


class PayloadTooLargeError(AppError):
    http_status = 413
    default_code = "RequestBodyTooLarge"


class UnsupportedMediaTypeError(AppError):
    http_status = 415
    default_code = "UnsupportedMediaType"


class OperationStillRunningError(TemporaryError):
    """An ARM long-running operation did not finish before the caller's deadline; it goes on in Azure."""

    default_code = "OperationInProgress"


class WaitingForEmqxError(OperationStillRunningError):
    default_code = "WaitingForEmqx"


class EmqxUnavailableError(TemporaryError):
    """EMQX answered 5xx, or nothing: a bad gateway now (502), retried by the next run."""

    http_status = 502
    default_code = "EmqxUnavailable"


class EmqxThrottledError(TemporaryError):
    """EMQX answered 429: 503 with EMQX's Retry-After, since the caller only has to wait."""

    default_code = "EmqxThrottled"


class ArmThrottledError(TemporaryError):
    """ARM answered this subscription 429 and its Retry-After has not passed: the call is not sent
    (`shared.arm_budget`)."""

    default_code = "ArmThrottled"


class RateBudgetExhaustedError(TemporaryError):
    default_code = "EmqxRateBudgetExhausted"


class DestinationRefusedError(UpstreamError):
    """An EMQX host name resolved to an address EMQX traffic may never reach."""

    default_code = "EmqxDestinationRefused"


def replacement_required(why: str, target: str) -> ConflictError:
    """The 409 of a change that replaces the Private Link Service, which the caller must consent to."""
    return ConflictError(
        f"This change replaces the Private Link Service, which disconnects EMQX ({why}); "
        "repeat the PUT with ?allowReplace=true to do it.",
        code="ReplacementRequired",
        target=target,
    )


# Statuses that say "not now" rather than "no": timeouts, throttling and the server's own failures.
TEMPORARY_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MESSAGE_LIMIT = 300


def cut(text: str | None, limit: int = MESSAGE_LIMIT) -> str:
    """`text` trimmed to `limit` characters, marked with an ellipsis where it was cut."""
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def retry_after_delay(raw: str | None) -> float | None:
    """A `Retry-After` header in seconds (the HTTP-date form is not used by Azure or EMQX); None when absent or not
    a number of seconds."""
    try:
        seconds = float(raw or "")
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86_400 else None


def retry_after_seconds(raw: str | None) -> int | None:
    """A `Retry-After` header in whole seconds, a fraction rounded up (what an answer's own Retry-After says)."""
    delay = retry_after_delay(raw)
    return ceil(delay) if delay is not None else None


def _detail_body(code: str, message: str, target: str | None) -> dict[str, object]:
    body: dict[str, object] = {"code": code, "message": message}
    if target is not None:
        body["target"] = target
    return body


def error_body(error: AppError) -> dict[str, object]:
    """The JSON body of the HTTP answer for `error` (its status is `error.http_status`)."""
    body = _detail_body(error.code, error.message, error.target)
    if error.details:
        body["details"] = [_detail_body(d.code, d.message, d.target) for d in error.details]
    return {"error": body}


__all__ = [
    "MESSAGE_LIMIT",
    "TEMPORARY_HTTP_STATUSES",
    "AppError",
    "ArmThrottledError",
    "ConflictError",
    "DestinationRefusedError",
    "EmqxThrottledError",
    "EmqxUnavailableError",
    "ErrorDetail",
    "InvalidRequestError",
    "LinkBusyError",
    "LinkGoneError",
    "NotFoundError",
    "OperationStillRunningError",
    "PayloadTooLargeError",
    "PreconditionFailedError",
    "RateBudgetExhaustedError",
    "TemporaryError",
    "UnsupportedMediaTypeError",
    "UpstreamError",
    "WaitingForEmqxError",
    "cut",
    "error_body",
    "replacement_required",
    "retry_after_delay",
    "retry_after_seconds",
]
