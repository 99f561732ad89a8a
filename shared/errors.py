"""The product's errors, and the Azure-style body an HTTP answer carries for them.

    AppError                      500 InternalError: never raised as such
    ├── InvalidRequestError       400 InvalidRequestContent: bad input; one detail per bad field
    ├── NotFoundError             404 NotFound
    ├── ConflictError             409 Conflict: exists already, or the change is refused as it stands
    ├── PreconditionFailedError   412 PreconditionFailed: someone else wrote since the ETag given
    ├── PayloadTooLargeError      413 RequestBodyTooLarge: the request body is over the size accepted
    ├── UnsupportedMediaTypeError 415 UnsupportedMediaType: the request body is not `application/json` (utf-8)
    ├── UpstreamError             502 UpstreamFailure: Azure, EMQX or storage refused for good
    └── TemporaryError            503 ServiceUnavailable: retry later (`retry_after` seconds when known)

Messages are written for the caller: they never carry secrets or whole upstream response bodies.
The body follows the Microsoft REST API guidelines: `{"error": {"code", "message", "target"?, "details"?}}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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


class PayloadTooLargeError(AppError):
    http_status = 413
    default_code = "RequestBodyTooLarge"


class UnsupportedMediaTypeError(AppError):
    http_status = 415
    default_code = "UnsupportedMediaType"


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
    "AppError",
    "ConflictError",
    "ErrorDetail",
    "InvalidRequestError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PreconditionFailedError",
    "TemporaryError",
    "UnsupportedMediaTypeError",
    "UpstreamError",
    "error_body",
]
