"""EMQX's answers mapped once into the app's errors, with every secret the call used cut out."""

import httpx
import pytest

from shared.emqx import map_emqx_error
from shared.errors import (
    EmqxThrottledError,
    EmqxUnavailableError,
    InvalidRequestError,
    NotFoundError,
    TemporaryError,
    UpstreamError,
)
from shared.settings import Secret


def answer(status: int, body: dict | None = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {}, headers=headers)


@pytest.mark.parametrize(
    ("status", "body", "kind", "code", "http_status"),
    [
        (401, {"code": "UNAUTHORIZED"}, UpstreamError, "EmqxAuthenticationFailed", 502),
        (403, {"code": "FORBIDDEN"}, UpstreamError, "EmqxPermissionDenied", 502),
        (404, {"code": "NOT_FOUND"}, NotFoundError, "EmqxNotFound", 404),
        (422, {"code": "UNPROCESSABLE_ENTITY"}, InvalidRequestError, "UNPROCESSABLE_ENTITY", 400),
        (400, {}, InvalidRequestError, "EmqxRejected", 400),
        (418, {}, UpstreamError, "EmqxUnexpectedAnswer", 502),
        (500, {"code": "INTERNAL_ERROR"}, EmqxUnavailableError, "INTERNAL_ERROR", 502),
    ],
)
def test_each_status_maps_once(status: int, body: dict, kind: type, code: str, http_status: int) -> None:
    error = map_emqx_error(answer(status, body), "read deployment x")
    assert type(error) is kind
    assert (error.code, error.http_status) == (code, http_status)
    assert error.message.startswith("EMQX refused to read deployment x")


def test_a_throttle_is_temporary_with_emqx_retry_after() -> None:
    error = map_emqx_error(answer(429, {"code": "TOO_MANY_REQUESTS"}, **{"Retry-After": "42"}), "list")
    assert isinstance(error, EmqxThrottledError) and isinstance(error, TemporaryError)
    assert (error.http_status, error.retry_after) == (503, 42)


def test_secrets_never_reach_the_message() -> None:
    error = map_emqx_error(answer(400, {"message": "bad password s3cr3t-value"}), "probe", [Secret("s3cr3t-value")])
    assert "s3cr3t-value" not in error.message
    assert "***" in error.message
